import { docker, dockerHostname } from '@lab/lab-kit/docker';
import { fileFixture } from '@lab/lab-kit/fixture';
import { report, shareByReplica, startLoad, summarize } from '@lab/lab-kit/load';
import { expectSteadyLoad } from '@lab/lab-kit/load-assertions';
import { upstreamTopology } from '@lab/lab-kit/topology';
import { createUser } from '@lab/lab-kit/users-api';
import { sleep } from '@lab/lab-kit/wait';
import { describe, expect, it } from 'vitest';
import { FAST_FAILOVER, startStack } from './stack.ts';

const stack = fileFixture(() => startStack({ usersReplicas: 3, gatewayEnv: FAST_FAILOVER }));

describe('replica loss under load', () => {
  it('loses no GET when one of 3 users replicas is SIGKILLed, retrying at most 20% extra', async () => {
    const id = await createUser(stack.gatewayUrl, { name: 'Replica Rita', email: 'rita@example.org' });
    const before = await upstreamTopology(stack.gatewayUrl, 'users');
    const load = startLoad({
      baseUrl: stack.gatewayUrl,
      routes: { list: '/api/users', read: `/api/users/${id}` },
      ratePerSecond: 25,
      maxDurationMs: 30_000,
    });
    await sleep(3_000);
    const victim = stack.users[1];
    if (!victim) throw new Error('expected 3 users replicas');
    await docker('kill', '--signal', 'SIGKILL', victim.getId());
    const killedAt = load.now();
    await sleep(5_000);
    const outcomes = await load.stop();
    const after = await upstreamTopology(stack.gatewayUrl, 'users');

    const requests = after.requests - before.requests;
    const attempts = after.attempts - before.attempts;
    const afterKill = outcomes.filter((o) => o.sentAt >= killedAt + 2_000);
    const figures = {
      list: summarize(outcomes, 'list'),
      read: summarize(outcomes, 'read'),
      requests,
      attempts,
      retries: after.retries - before.retries,
      attemptsPerRequest: Number((attempts / requests).toFixed(3)),
      servedByAfterKill: Object.fromEntries(shareByReplica(afterKill)),
    };
    report('replica-loss', figures);

    expectSteadyLoad(outcomes, 'read', 25, 0, outcomes.at(-1)?.sentAt ?? 0);
    expect(outcomes.filter((o) => o.status !== 200)).toEqual([]);
    expect(attempts / requests).toBeLessThanOrEqual(1.2);
    expect(shareByReplica(afterKill).has(dockerHostname(victim.getId()))).toBe(false);
    expect(shareByReplica(afterKill).size).toBe(2);
  });
});
