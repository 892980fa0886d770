import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { report, shareByReplica, sleep, startLoad, summarize } from './load.ts';
import { expectSteadyLoad } from './load-assertions.ts';
import { docker, dockerHostname, FAST_FAILOVER, type Stack, startStack } from './stack.ts';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ usersReplicas: 3, gatewayEnv: FAST_FAILOVER });
});

afterAll(async () => {
  await stack?.stop();
});

describe('scaling down', () => {
  it('loses no request when 2 of 3 users replicas are stopped gracefully under load', async () => {
    const load = startLoad({
      baseUrl: stack.gatewayUrl,
      routes: [{ name: 'users', path: '/api/users' }],
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
    expect([...afterStop.keys()]).toEqual([dockerHostname(keep)]);
  });
});
