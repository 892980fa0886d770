import { afterEach, describe, expect, it, vi } from 'vitest';
import { CircuitBreaker, Permit } from './circuit-breaker.ts';

afterEach(() => {
  vi.useRealTimers();
});

function breakerWithLog(failures = 3, halfOpenAfterMs = 1000) {
  const changes: string[] = [];
  const breaker = new CircuitBreaker({ failures, halfOpenAfterMs, onStateChange: (state) => changes.push(state) });
  const fail = () => breaker.release(breaker.acquire(), false);
  return { breaker, changes, fail };
}

describe('circuit breaker', () => {
  it('opens after N failures in a row, and a success in between starts the count again', () => {
    const { breaker, fail } = breakerWithLog(3);
    fail();
    fail();
    breaker.release(breaker.acquire(), true);
    fail();
    fail();
    expect(breaker.state).toBe('closed');
    fail();
    expect(breaker.state).toBe('open');
    expect(breaker.acquire()).toBe(Permit.Refused);
  });

  it('lets exactly one trial through after the open period; its success closes the breaker', () => {
    vi.useFakeTimers();
    const { breaker, changes, fail } = breakerWithLog(1, 1000);
    fail();
    vi.advanceTimersByTime(999);
    expect(breaker.acquire()).toBe(Permit.Refused);
    vi.advanceTimersByTime(1);
    const trial = breaker.acquire();
    expect(trial).toBe(Permit.Trial);
    expect(breaker.acquire()).toBe(Permit.Refused);
    breaker.release(trial, true);
    expect(breaker.state).toBe('closed');
    expect(changes).toEqual(['open', 'half-open', 'closed']);
  });

  it('opens again for a whole period when the trial fails', () => {
    vi.useFakeTimers();
    const { breaker, fail } = breakerWithLog(1, 1000);
    fail();
    vi.advanceTimersByTime(1000);
    breaker.release(breaker.acquire(), false);
    expect(breaker.state).toBe('open');
    vi.advanceTimersByTime(999);
    expect(breaker.acquire()).toBe(Permit.Refused);
  });

  it('tries at once when a replica comes back, instead of waiting out the open period', () => {
    const { breaker, fail } = breakerWithLog(1, 60_000);
    fail();
    expect(breaker.acquire()).toBe(Permit.Refused);
    breaker.halfOpenNow();
    const trial = breaker.acquire();
    expect(trial).toBe(Permit.Trial);
    breaker.release(trial, true);
    expect(breaker.state).toBe('closed');
  });

  it('ignores the outcome of calls that started before it opened', () => {
    const { breaker, fail } = breakerWithLog(2);
    const early = breaker.acquire();
    fail();
    fail();
    breaker.release(early, true);
    expect(breaker.state).toBe('open');
  });
});
