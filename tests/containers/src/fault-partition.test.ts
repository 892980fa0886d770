import { docker, inspectContainer } from '@lab/lab-kit/docker';
import { fileFixture } from '@lab/lab-kit/fixture';
import { describe, it } from 'vitest';
import { expectIsolatedAndRecovered, runUsersFault } from './isolation.ts';
import { FAST_FAILOVER, startStack } from './stack.ts';

const stack = fileFixture(() => startStack({ gatewayEnv: FAST_FAILOVER }));

describe('fault isolation: users is cut off the network (docker network disconnect)', () => {
  it('keeps hello at 100% and ends every users request within the timeout, then recovers', async () => {
    const startedAt = (await inspectContainer(stack.gateway.getId())).State.StartedAt;
    const network = stack.network.getName();
    const users = stack.users.map((c) => c.getId());
    const run = await runUsersFault(stack, {
      fault: () => Promise.all(users.map((id) => docker('network', 'disconnect', network, id))),
      // Reconnected under the same alias, as compose would attach it.
      repair: () => Promise.all(users.map((id) => docker('network', 'connect', '--alias', 'users', network, id))),
    });
    await expectIsolatedAndRecovered('partition', stack, run, startedAt);
  });
});
