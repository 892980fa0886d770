import { contractBreach, FUZZ_SEED, fuzzRequest } from '@lab/users/testing/fuzz-requests';
import fc from 'fast-check';
import { Client } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningMonolith, startMonolith } from './start-monolith.ts';

/**
 * The users service's own hostile requests, sent under /api/users through the monolith:
 * prefix stripping and handing raw requests to Fastify must keep its contract
 * (never a 5xx, every 4xx problem+json, no internals in a body).
 */
const RUNS = 1500;

let running: RunningMonolith;
let client: Client;
let knownIds: string[];

beforeAll(async () => {
  running = await startMonolith();
  client = new Client(running.baseUrl);
  knownIds = [];
  for (let n = 0; n < 12; n++) {
    const res = await client.request({
      method: 'POST',
      path: '/api/users',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: `Seed ${n}`, email: `seed${n}@example.org` }),
    });
    knownIds.push(((await res.body.json()) as { id: string }).id);
  }
});

afterAll(async () => {
  await client.close();
  await running.stop();
});

describe('users under fuzzed requests, through the monolith', () => {
  it('never answers 5xx or leaks internals', async () => {
    let requests = 0;
    await fc.assert(
      fc.asyncProperty(fuzzRequest(knownIds), async ({ method, url, headers, body }) => {
        const path = `/api/users${url}`;
        const res = await client.request({ method, path, headers, ...(body ? { body } : {}) });
        const text = await res.body.text();
        requests++;
        const breach = contractBreach(method, {
          status: res.statusCode,
          contentType: res.headers['content-type'],
          body: text,
        });
        expect(breach, `${method} ${path.slice(0, 120)}`).toBeUndefined();
      }),
      { seed: FUZZ_SEED, numRuns: RUNS },
    );
    expect(requests).toBeGreaterThanOrEqual(RUNS);
    expect((await client.request({ method: 'GET', path: '/health/ready' })).statusCode).toBe(200);
  }, 60_000);
});
