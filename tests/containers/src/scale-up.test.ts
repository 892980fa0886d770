import { dockerHostname } from '@lab/lab-kit/docker';
import { fileFixture } from '@lab/lab-kit/fixture';
import { report, shareByReplica, startLoad, summarize } from '@lab/lab-kit/load';
import { sleep } from '@lab/lab-kit/wait';
import { describe, expect, it } from 'vitest';
import { FAST_FAILOVER, startStack } from './stack.ts';

const stack = fileFixture(() => startStack({ usersReplicas: 1, gatewayEnv: FAST_FAILOVER }));

describe('independent scaling up', () => {
  it('spreads users over 3 replicas within the refresh interval, hello untouched at 1', async () => {
    const discoveryMs = Number(FAST_FAILOVER.DISCOVERY_INTERVAL_MS);
    const load = startLoad({
      baseUrl: stack.gatewayUrl,
      routes: { hello: '/api/hello', users: '/api/users' },
      ratePerSecond: 25,
      maxDurationMs: 60_000,
    });
    await sleep(2_000);
    await Promise.all([stack.addUsersReplica(), stack.addUsersReplica()]);
    const scaledAt = load.now();
    // New replicas are found by the next DNS refresh and admitted after one ready probe.
    await sleep(discoveryMs + Number(FAST_FAILOVER.PROBE_INTERVAL_MS));
    const countFrom = load.now();
    while (load.outcomes.filter((o) => o.route === 'users' && o.sentAt >= countFrom).length < 300) await sleep(200);
    const outcomes = await load.stop();

    const next300 = outcomes.filter((o) => o.route === 'users' && o.sentAt >= countFrom).slice(0, 300);
    const shares = shareByReplica(next300);
    const hello = outcomes.filter((o) => o.route === 'hello');
    report('scale-up', {
      users: summarize(outcomes, 'users'),
      hello: summarize(outcomes, 'hello'),
      admittedWithinMs: Math.round(countFrom - scaledAt),
      next300ByReplica: Object.fromEntries(shares),
    });

    expect(shares.size).toBe(3);
    for (const replica of stack.users)
      expect(shares.get(dockerHostname(replica.getId())) ?? 0).toBeGreaterThanOrEqual(60);
    expect(summarize(outcomes, 'users').successRate).toBe(1);
    expect(summarize(outcomes, 'hello').successRate).toBe(1);
    expect(new Set(hello.map((o) => o.servedBy))).toEqual(new Set([dockerHostname(stack.hello.getId())]));
  });
});
