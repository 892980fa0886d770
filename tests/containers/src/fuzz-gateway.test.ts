import { fileFixture } from '@lab/lab-kit/fixture';
import { expectFuzzContract, sendFuzzRequest } from '@lab/lab-kit/fuzz-requests';
import { report } from '@lab/lab-kit/load';
import { createUser, listUsers } from '@lab/lab-kit/users-api';
import { beforeAll, describe, expect, it } from 'vitest';
import { startStack } from './stack.ts';

const RUNS = 2000;
const stack = fileFixture(() => startStack());
let knownIds: string[];

beforeAll(async () => {
  knownIds = [];
  for (let n = 0; n < 8; n++) {
    knownIds.push(await createUser(stack.gatewayUrl, { name: `Seed ${n}`, email: `seed${n}@example.org` }));
  }
});

describe('fuzzed requests through the real gateway to the real users container', () => {
  it('never answers 5xx, keeps both alive, and no refused request changes the data', async () => {
    const tally = await expectFuzzContract({
      knownIds,
      runs: RUNS,
      // Every user, as the outside world sees them: what a refused request must leave alone.
      snapshot: async () => JSON.stringify(await listUsers(stack.gatewayUrl)),
      send: (request) => sendFuzzRequest(`${stack.gatewayUrl}/api/users`, request),
      onDone: ({ requests, fiveXx }) => report('users-fuzz-through-gateway', { requests, '5xx': fiveXx }),
    });
    expect(tally.requests).toBeGreaterThanOrEqual(RUNS);
    expect((await fetch(`${stack.gatewayUrl}/health/live`)).status).toBe(200);
    expect((await fetch(`${stack.gatewayUrl}/api/users`)).status).toBe(200);
  });
});
