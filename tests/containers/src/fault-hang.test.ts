import { afterAll, beforeAll, describe, it } from 'vitest';
import { expectIsolatedAndRecovered, runUsersFault } from './isolation.ts';
import { docker, FAST_FAILOVER, inspect, type Stack, startStack } from './stack.ts';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ gatewayEnv: FAST_FAILOVER });
});

afterAll(async () => {
  await stack?.stop();
});

describe('fault isolation: users hangs (docker pause)', () => {
  it('keeps hello at 100% and ends every users request within the timeout, then recovers', async () => {
    const startedAt = (await inspect(stack.gateway)).State.StartedAt;
    // A paused container still completes TCP handshakes (the kernel does that) but never answers.
    const users = stack.users.map((c) => c.getId());
    const run = await runUsersFault(stack, {
      fault: () => docker('pause', ...users),
      repair: () => docker('unpause', ...users),
    });
    await expectIsolatedAndRecovered('hang', stack, run, startedAt);
  });
});
