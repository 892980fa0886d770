import { describe, expect, it } from 'vitest';
import { figuresOf, quantile, type ServiceStats, StatsSeries } from './stats-series.ts';

const BOUNDS = [5, 10, 25, 50, 100];

function stats(requests: number, errors: number, counts: number[], startedAt = 'boot-1'): ServiceStats {
  return { service: 'users', instance: 'users-1', startedAt, requests, errors, latencyMs: { bounds: BOUNDS, counts } };
}

describe('restarts', () => {
  it('counts a replica whose process came back with another start time, and when it did', () => {
    const series = new StatsSeries();
    series.record(0, { ...stats(100, 0, [100, 0, 0, 0, 0, 0]), startedAt: 1_000 });
    series.record(1000, { ...stats(150, 0, [150, 0, 0, 0, 0, 0]), startedAt: 1_000 });
    expect(series.restarts).toEqual({ count: 0, at: null });
    series.record(2000, { ...stats(3, 0, [3, 0, 0, 0, 0, 0]), startedAt: 1_900 });
    series.record(3000, { ...stats(9, 0, [9, 0, 0, 0, 0, 0]), startedAt: 1_900 });
    expect(series.restarts).toEqual({ count: 1, at: 1_900 });
  });

  it('does not count another process taking the address as a restart', () => {
    const series = new StatsSeries();
    series.record(0, stats(100, 0, [100, 0, 0, 0, 0, 0], 'boot-1'));
    series.record(1000, { ...stats(1, 0, [1, 0, 0, 0, 0, 0], 'boot-2'), instance: 'users-2' });
    expect(series.restarts.count).toBe(0);
  });
});

describe('figures from two /health/stats samples', () => {
  it('300 requests in 3 s, 30 of them 5xx, half under 5 ms: 100 req/s, 10% errors, p50 5 ms, p99 in (50, 100]', () => {
    const series = new StatsSeries();
    series.record(10_000, stats(1000, 10, [400, 300, 200, 80, 20, 0]));
    series.record(13_000, stats(1300, 40, [550, 350, 260, 110, 28, 2]));
    // The difference: [150, 50, 60, 30, 8, 2] over 300 requests.
    expect(figuresOf([series.delta()])).toEqual({
      requestsPerSecond: 100,
      errorPercent: 10,
      p50Ms: 5,
      // rank 297: 290 below the (50, 100] bucket, 7 of its 8 => 50 + 50 * 7/8.
      p99Ms: 93.75,
    });
  });

  it('says nothing about errors or latency in a window without requests', () => {
    const series = new StatsSeries();
    series.record(0, stats(5, 0, [5, 0, 0, 0, 0, 0]));
    series.record(3000, stats(5, 0, [5, 0, 0, 0, 0, 0]));
    expect(figuresOf([series.delta()])).toEqual({ requestsPerSecond: 0, errorPercent: null, p50Ms: null, p99Ms: null });
  });

  it('has no figures from one sample, and starts over when the process restarted', () => {
    const series = new StatsSeries();
    series.record(0, stats(5000, 0, [5000, 0, 0, 0, 0, 0]));
    expect(series.delta()).toBeNull();
    series.record(1000, stats(5100, 0, [5100, 0, 0, 0, 0, 0]));
    expect(series.delta()?.requests).toBe(100);
    // Restarted: counters went down.
    series.record(2000, stats(10, 0, [10, 0, 0, 0, 0, 0]));
    expect(series.delta()).toBeNull();
    series.record(3000, stats(60, 5, [50, 10, 0, 0, 0, 0]));
    expect(figuresOf([series.delta()])).toMatchObject({ requestsPerSecond: 50, errorPercent: 10 });
    // Restarted and already past the old counts: a new startedAt says so.
    series.record(4000, stats(500, 0, [500, 0, 0, 0, 0, 0], 'boot-2'));
    expect(series.delta()).toBeNull();
  });

  it('differences over the last 3 s of samples taken every second', () => {
    const series = new StatsSeries();
    // 10 req/s for 5 s, then 100 req/s.
    const totals = [0, 10, 20, 30, 40, 50, 150, 250, 350];
    for (const [second, total] of totals.entries())
      series.record(second * 1000, stats(total, 0, [total, 0, 0, 0, 0, 0]));
    expect(series.delta()).toMatchObject({ seconds: 3, requests: 300 });
    expect(figuresOf([series.delta()]).requestsPerSecond).toBe(100);
  });

  it('sums replicas: rates add up, errors and quantiles come from the summed counts', () => {
    const a = new StatsSeries();
    const b = new StatsSeries();
    a.record(0, stats(0, 0, [0, 0, 0, 0, 0, 0]));
    a.record(2000, stats(200, 0, [200, 0, 0, 0, 0, 0]));
    b.record(0, stats(0, 0, [0, 0, 0, 0, 0, 0]));
    b.record(2000, stats(200, 100, [0, 0, 0, 0, 0, 200]));
    expect(figuresOf([a.delta(), b.delta(), null])).toEqual({
      requestsPerSecond: 200,
      errorPercent: 25,
      p50Ms: 5,
      // The overflow bucket: "at least the last bound".
      p99Ms: 100,
    });
  });
});

describe('quantile', () => {
  it('interpolates inside the bucket like histogram_quantile', () => {
    expect(quantile([10, 20], [0, 10, 0], 0.5)).toBe(15);
    expect(quantile([10, 20], [10, 0, 0], 0.99)).toBeCloseTo(9.9);
    expect(quantile([10, 20], [0, 0, 0], 0.5)).toBeNull();
  });
});
