import { inspectContainer } from '@lab/lab-kit/docker';
import { type Outcome, report, startLoad, summarize } from '@lab/lab-kit/load';
import { expectSteadyLoad } from '@lab/lab-kit/load-assertions';
import { sleep } from '@lab/lab-kit/wait';
import { expect } from 'vitest';
import { FAST_FAILOVER, type Stack } from './stack.ts';

const RATE = 20;

/** What the fault tests share: load through the gateway, a fault on users, then its repair. */
export interface FaultRun {
  outcomes: Outcome[];
  faultAt: number;
  repairedAt: number;
}

export async function runUsersFault(
  stack: Stack,
  {
    fault,
    repair,
    faultMs = 5_000,
  }: { fault: () => Promise<unknown>; repair: () => Promise<unknown>; faultMs?: number },
): Promise<FaultRun> {
  const load = startLoad({
    baseUrl: stack.gatewayUrl,
    routes: { hello: '/api/hello', users: '/api/users' },
    ratePerSecond: RATE,
    maxDurationMs: 40_000,
    clientTimeoutMs: 8_000,
  });
  await sleep(2_000);
  await fault();
  const faultAt = load.now();
  await sleep(faultMs);
  await repair();
  const repairedAt = load.now();
  await sleep(5_000);
  return { outcomes: await load.stop(), faultAt, repairedAt };
}

const RESPONSE_TIMEOUT_MS = Number(FAST_FAILOVER.UPSTREAM_RESPONSE_TIMEOUT_MS);

/**
 * The hang and partition cases promise the same thing: hello untouched, every
 * users request ends with 503/504 problem+json within the configured response
 * timeout (never hangs), and users serves again within seconds of the repair.
 */
export async function expectIsolatedAndRecovered(
  scenario: string,
  stack: Stack,
  run: FaultRun,
  gatewayStartedAt: string,
) {
  const { outcomes, faultAt, repairedAt } = run;
  const hello = summarize(outcomes, 'hello', faultAt);
  const duringFault = outcomes.filter((o) => o.route === 'users' && o.sentAt >= faultAt && o.sentAt < repairedAt);
  const recovered = outcomes.find((o) => o.route === 'users' && o.sentAt >= repairedAt && o.status === 200);
  const recoveryMs = Math.round((recovered?.sentAt ?? Number.POSITIVE_INFINITY) - repairedAt);
  report(scenario, {
    hello,
    usersDuringFault: summarize(outcomes, 'users', faultAt, repairedAt),
    responseTimeoutMs: RESPONSE_TIMEOUT_MS,
    recoveryAfterRepairMs: recoveryMs,
    usersAfterRecovery: summarize(outcomes, 'users', recovered?.sentAt ?? repairedAt),
  });

  expectSteadyLoad(outcomes, 'hello', RATE, faultAt, repairedAt);
  expect(hello.successRate).toBe(1);
  expectSteadyLoad(outcomes, 'users', RATE, faultAt, repairedAt);
  for (const outcome of duringFault) {
    expect([503, 504]).toContain(outcome.status);
    expect(outcome.contentType).toMatch(/^application\/problem\+json/);
    // The response timeout plus the hop from the test client through the gateway.
    expect(outcome.latencyMs).toBeLessThan(RESPONSE_TIMEOUT_MS + 250);
  }
  expect(recoveryMs).toBeLessThan(5_000);
  expect(summarize(outcomes, 'users', recovered?.sentAt ?? repairedAt).successRate).toBe(1);
  const gateway = await inspectContainer(stack.gateway.getId());
  expect(gateway.State.StartedAt).toBe(gatewayStartedAt);
  expect(gateway.RestartCount).toBe(0);
}
