import { expect } from 'vitest';
import { type Outcome, sentOnSchedule } from './load.ts';

/**
 * Asserts the load really was steady on `route` between two instants: at least
 * 75% of the requests the schedule promised were sent, so "zero failures" is
 * a statement about real traffic, even on a busy 2-core machine.
 */
export function expectSteadyLoad(
  outcomes: Outcome[],
  route: string,
  ratePerSecond: number,
  fromMs: number,
  toMs: number,
) {
  const { sent } = sentOnSchedule(outcomes, route, ratePerSecond, fromMs, toMs);
  expectSentOnSchedule(route, sent, (ratePerSecond * (toMs - fromMs)) / 1000);
}

/** The same check from counts alone, for figures a child process reported. */
export function expectSentOnSchedule(what: string, sent: number, scheduled: number) {
  expect(sent, `${what}: ${sent} requests sent of ${Math.round(scheduled)} scheduled`).toBeGreaterThanOrEqual(
    Math.floor(scheduled * 0.75),
  );
}
