import { contractBreach, FUZZ_SEED, fuzzRequest } from '@lab/users/testing/fuzz-requests';
import fc from 'fast-check';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { report } from './load.ts';
import { type Stack, startStack } from './stack.ts';

const RUNS = 2000;
let stack: Stack;
let knownIds: string[];

/** Every user, as the outside world sees them: what a refused request must leave alone. */
async function snapshot(): Promise<string> {
  const pages: string[] = [];
  let cursor: string | null = null;
  do {
    const res = await fetch(`${stack.gatewayUrl}/api/users?limit=100${cursor ? `&cursor=${cursor}` : ''}`);
    const text = await res.text();
    pages.push(text);
    cursor = (JSON.parse(text) as { nextCursor: string | null }).nextCursor;
  } while (cursor);
  return pages.join('\n');
}

beforeAll(async () => {
  stack = await startStack();
  knownIds = [];
  for (let n = 0; n < 8; n++) {
    const res = await fetch(`${stack.gatewayUrl}/api/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: `Seed ${n}`, email: `seed${n}@example.org` }),
    });
    knownIds.push(((await res.json()) as { id: string }).id);
  }
});

afterAll(async () => {
  await stack?.stop();
});

describe('fuzzed requests through the real gateway to the real users container', () => {
  it('never answers 5xx, keeps both alive, and no refused request changes the data', async () => {
    const tally = { requests: 0, fiveXx: 0 };
    try {
      await fc.assert(
        fc.asyncProperty(fuzzRequest(knownIds), async ({ method, url, headers, body }) => {
          const before = await snapshot();
          // undici, not fetch: fetch refuses methods such as TRACE that a hostile client may send.
          const res = await request(`${stack.gatewayUrl}/api/users${url}`, {
            method: method as 'GET',
            headers,
            body: body ?? null,
            headersTimeout: 10_000,
            bodyTimeout: 10_000,
          });
          const text = await res.body.text();
          tally.requests++;
          if (res.statusCode >= 500) tally.fiveXx++;
          const breach = contractBreach(method, {
            status: res.statusCode,
            contentType: res.headers['content-type'],
            body: text,
          });
          expect(breach, `${method} /api/users${url.slice(0, 120)}`).toBeUndefined();
          if (res.statusCode >= 400) expect(await snapshot(), `${method} ${url.slice(0, 120)}`).toBe(before);
        }),
        { seed: FUZZ_SEED, numRuns: RUNS },
      );
    } finally {
      report('users-fuzz-through-gateway', { requests: tally.requests, '5xx': tally.fiveXx });
    }
    expect(tally.requests).toBeGreaterThanOrEqual(RUNS);
    expect((await fetch(`${stack.gatewayUrl}/health/live`)).status).toBe(200);
    expect((await fetch(`${stack.gatewayUrl}/api/users`)).status).toBe(200);
  });
});
