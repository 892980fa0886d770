import { docker, inspectContainer } from '@lab/lab-kit/docker';
import { fileFixture } from '@lab/lab-kit/fixture';
import { report, startLoad, summarize } from '@lab/lab-kit/load';
import { expectSteadyLoad } from '@lab/lab-kit/load-assertions';
import { breakerState } from '@lab/lab-kit/topology';
import { sleep, waitFor } from '@lab/lab-kit/wait';
import { describe, expect, it } from 'vitest';
import { FAST_FAILOVER, startStack } from './stack.ts';

const stack = fileFixture(() => startStack({ usersReplicas: 2, gatewayEnv: FAST_FAILOVER }));

describe('fault isolation: every users replica crashes (SIGKILL)', () => {
  it('keeps hello at 100%, fails users fast with 503, and recovers without touching the gateway', async () => {
    const gatewayBefore = await inspectContainer(stack.gateway.getId());
    const load = startLoad({
      baseUrl: stack.gatewayUrl,
      routes: { hello: '/api/hello', users: '/api/users' },
      ratePerSecond: 20,
      maxDurationMs: 40_000,
      clientTimeoutMs: 5_000,
    });
    await sleep(2_000);

    await docker('kill', '--signal', 'SIGKILL', ...stack.users.map((c) => c.getId()));
    const killedAt = load.now();
    await waitFor(async () => (await breakerState(stack.gatewayUrl, 'users')) === 'open', 10_000);
    const breakerOpenAt = load.now();
    await sleep(4_000);

    const restartedAt = load.now();
    await stack.addUsersReplica();
    const healthyAt = load.now();
    await sleep(4_000);
    const outcomes = await load.stop();

    const hello = summarize(outcomes, 'hello', killedAt);
    const whileDown = outcomes.filter((o) => o.route === 'users' && o.sentAt >= killedAt && o.sentAt < restartedAt);
    const afterBreakerOpened = whileDown.filter((o) => o.sentAt >= breakerOpenAt);
    const firstOkAfterRestart = outcomes.find(
      (o) => o.route === 'users' && o.sentAt >= restartedAt && o.status === 200,
    );
    const recoveredAt = firstOkAfterRestart?.sentAt ?? Number.POSITIVE_INFINITY;
    const recoveryMs = Math.round(recoveredAt - restartedAt);
    const gatewayAfter = await inspectContainer(stack.gateway.getId());

    report('crash', {
      hello,
      usersWhileDown: summarize(outcomes, 'users', killedAt, restartedAt),
      breakerOpenAfterMs: Math.round(breakerOpenAt - killedAt),
      usersAfterBreakerOpenMaxLatencyMs: Math.max(...afterBreakerOpened.map((o) => Math.round(o.latencyMs))),
      restartToHealthyMs: Math.round(healthyAt - restartedAt),
      recoveryAfterRestartMs: recoveryMs,
      usersAfterRecovery: summarize(outcomes, 'users', recoveredAt),
    });

    expectSteadyLoad(outcomes, 'hello', 20, killedAt, outcomes.at(-1)?.sentAt ?? 0);
    expect(hello.successRate).toBe(1);

    expectSteadyLoad(outcomes, 'users', 20, killedAt, restartedAt);
    for (const outcome of whileDown) {
      expect(outcome.contentType).toMatch(/^application\/problem\+json/);
      expect([503, 504]).toContain(outcome.status);
    }
    expectSteadyLoad(outcomes, 'users', 20, breakerOpenAt, restartedAt);
    for (const outcome of afterBreakerOpened) {
      expect(outcome.status).toBe(503);
      expect(outcome.latencyMs).toBeLessThan(100);
    }

    expect(recoveryMs).toBeLessThan(5_000);
    expect(summarize(outcomes, 'users', recoveredAt).successRate).toBe(1);

    expect(gatewayAfter.State.Running).toBe(true);
    expect(gatewayAfter.State.StartedAt).toBe(gatewayBefore.State.StartedAt);
    expect(gatewayAfter.RestartCount).toBe(0);
  });
});
