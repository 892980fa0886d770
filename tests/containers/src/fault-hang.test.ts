import { docker, inspectContainer } from '@lab/lab-kit/docker';
import { fileFixture } from '@lab/lab-kit/fixture';
import { describe, it } from 'vitest';
import { expectIsolatedAndRecovered, runUsersFault } from './isolation.ts';
import { FAST_FAILOVER, startStack } from './stack.ts';

const stack = fileFixture(() => startStack({ gatewayEnv: FAST_FAILOVER }));

describe('fault isolation: users hangs (docker pause)', () => {
  it('keeps hello at 100% and ends every users request within the timeout, then recovers', async () => {
    const startedAt = (await inspectContainer(stack.gateway.getId())).State.StartedAt;
    // A paused container still completes TCP handshakes (the kernel does that) but never answers.
    const users = stack.users.map((c) => c.getId());
    const run = await runUsersFault(stack, {
      fault: () => docker('pause', ...users),
      repair: () => docker('unpause', ...users),
    });
    await expectIsolatedAndRecovered('hang', stack, run, startedAt);
  });
});
