import { docker, dockerHostname } from '@lab/lab-kit/docker';
import { fileFixture } from '@lab/lab-kit/fixture';
import { report, shareByReplica, startLoad, summarize } from '@lab/lab-kit/load';
import { expectSteadyLoad } from '@lab/lab-kit/load-assertions';
import { sleep } from '@lab/lab-kit/wait';
import { describe, expect, it } from 'vitest';
import { FAST_FAILOVER, startStack } from './stack.ts';

const stack = fileFixture(() => startStack({ usersReplicas: 3, gatewayEnv: FAST_FAILOVER }));

describe('scaling down', () => {
  it('loses no request when 2 of 3 users replicas are stopped gracefully under load', async () => {
    const load = startLoad({
      baseUrl: stack.gatewayUrl,
      routes: { users: '/api/users' },
      ratePerSecond: 40,
      maxDurationMs: 30_000,
    });
    await sleep(3_000);
    const [keep, ...remove] = stack.users;
    if (!keep || remove.length !== 2) throw new Error('expected 3 users replicas');
    // docker stop: SIGTERM, the replica drains and exits 0; the gateway moves on.
    await docker('stop', '--time', '10', ...remove.map((c) => c.getId()));
    const stoppedAt = load.now();
    await sleep(4_000);
    const outcomes = await load.stop();
    const afterStop = shareByReplica(outcomes.filter((o) => o.sentAt >= stoppedAt + 1_000));
    const exitCodes = await Promise.all(
      remove.map((c) => docker('inspect', '--format', '{{.State.ExitCode}}', c.getId())),
    );
    report('scale-down', {
      users: summarize(outcomes, 'users'),
      servedAfterStop: Object.fromEntries(afterStop),
      exitCodes,
    });

    expectSteadyLoad(outcomes, 'users', 40, 0, outcomes.at(-1)?.sentAt ?? 0);
    expect(outcomes.filter((o) => o.status !== 200)).toEqual([]);
    expect(exitCodes).toEqual(['0', '0']);
    expect([...afterStop.keys()]).toEqual([dockerHostname(keep.getId())]);
  });
});
