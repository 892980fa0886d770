import { expectFuzzContract, sendFuzzRequest } from '@lab/lab-kit/fuzz-requests';
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

/** Every user, page by page, as the client sees them: what a refused request must not change. */
async function everyUser(): Promise<string> {
  const pages: unknown[] = [];
  let cursor: string | null = null;
  do {
    const res = await client.request({
      method: 'GET',
      path: `/api/users?limit=100${cursor ? `&cursor=${cursor}` : ''}`,
    });
    const page = (await res.body.json()) as { items: unknown[]; nextCursor: string | null };
    pages.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return JSON.stringify(pages);
}

describe('users under fuzzed requests, through the monolith', () => {
  it('never answers 5xx or leaks internals, and no refused request changes the users', async () => {
    const tally = await expectFuzzContract({
      knownIds,
      runs: RUNS,
      snapshot: everyUser,
      send: (request) => sendFuzzRequest(`${running.baseUrl}/api/users`, request),
    });
    expect(tally.requests).toBeGreaterThanOrEqual(RUNS);
    expect((await client.request({ method: 'GET', path: '/health/ready' })).statusCode).toBe(200);
  }, 120_000);
});
