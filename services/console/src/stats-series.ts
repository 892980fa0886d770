import type { Figures } from './live-types.ts';

/**
 * A process's GET /health/stats answer: counters since it started, and a latency
 * histogram with `counts[i]` requests in (bounds[i-1], bounds[i]] and the last count
 * past the last bound.
 */
export interface ServiceStats {
  service: string | null;
  instance: string | null;
  startedAt: string | number | null;
  requests: number;
  errors: number;
  latencyMs: { bounds: number[]; counts: number[] };
}

const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value) && value >= 0;
const textOrNull = (value: unknown) => (typeof value === 'string' ? value : null);

/** The stats in a body, or undefined when it is not a stats answer the console can difference. */
export function parseServiceStats(body: unknown): ServiceStats | undefined {
  if (typeof body !== 'object' || body === null) return undefined;
  const candidate = body as Record<string, unknown>;
  const latency = candidate.latencyMs as Record<string, unknown> | null | undefined;
  const bounds = latency?.bounds;
  const counts = latency?.counts;
  if (!isCount(candidate.requests) || !isCount(candidate.errors)) return undefined;
  if (!Array.isArray(bounds) || !Array.isArray(counts) || counts.length !== bounds.length + 1) return undefined;
  if (!bounds.every((bound) => typeof bound === 'number' && Number.isFinite(bound)) || !counts.every(isCount)) {
    return undefined;
  }
  const startedAt = candidate.startedAt;
  return {
    service: textOrNull(candidate.service),
    instance: textOrNull(candidate.instance),
    startedAt: typeof startedAt === 'string' || typeof startedAt === 'number' ? startedAt : null,
    requests: candidate.requests,
    errors: candidate.errors,
    latencyMs: { bounds: bounds as number[], counts: counts as number[] },
  };
}

/** The console's window: long enough to smooth a second's noise, short enough to show a fault within it. */
export const WINDOW_MS = 3000;

/** What happened between two samples of one process. */
export interface StatsDelta {
  seconds: number;
  requests: number;
  errors: number;
  bounds: readonly number[];
  counts: number[];
}

interface Sample {
  at: number;
  stats: ServiceStats;
}

const sameBounds = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((bound, index) => bound === b[index]);

/** A restarted process (or a new one on the same address) counts from zero again. */
function startsNewSeries(previous: ServiceStats, next: ServiceStats): boolean {
  return (
    previous.startedAt !== next.startedAt ||
    previous.instance !== next.instance ||
    next.requests < previous.requests ||
    next.errors < previous.errors ||
    !sameBounds(previous.latencyMs.bounds, next.latencyMs.bounds) ||
    next.latencyMs.counts.some((count, index) => count < (previous.latencyMs.counts[index] ?? 0))
  );
}

/** One process's samples over the window, oldest first. */
export class StatsSeries {
  #samples: Sample[] = [];
  #restarts = 0;
  #restartedAt: number | null = null;

  record(at: number, stats: ServiceStats): void {
    const last = this.#samples.at(-1);
    // The same replica answering with another start time: its process exited and came back.
    if (last && last.stats.startedAt !== stats.startedAt && last.stats.instance === stats.instance) {
      this.#restarts += 1;
      this.#restartedAt = typeof stats.startedAt === 'number' ? stats.startedAt : Date.parse(String(stats.startedAt));
    }
    if (last && startsNewSeries(last.stats, stats)) this.#samples = [];
    else if (last && at <= last.at) this.#samples.pop();
    this.#samples.push({ at, stats });
    // Keep the newest sample at least a window old: the window is WINDOW_MS, or one poll
    // interval when polls are further apart than that.
    while (this.#samples.length > 2 && at - (this.#samples[1] as Sample).at >= WINDOW_MS) this.#samples.shift();
  }

  /** Process restarts seen, and when the newest one started (epoch ms). */
  get restarts(): { count: number; at: number | null } {
    return { count: this.#restarts, at: this.#restartedAt };
  }

  latest(): ServiceStats | undefined {
    return this.#samples.at(-1)?.stats;
  }

  /** Differences over the window, or null until there are two samples of the same process. */
  delta(): StatsDelta | null {
    const first = this.#samples[0];
    const last = this.#samples.at(-1);
    if (first === undefined || last === undefined || first === last) return null;
    return {
      seconds: (last.at - first.at) / 1000,
      requests: last.stats.requests - first.stats.requests,
      errors: last.stats.errors - first.stats.errors,
      bounds: last.stats.latencyMs.bounds,
      counts: last.stats.latencyMs.counts.map((count, index) => count - (first.stats.latencyMs.counts[index] ?? 0)),
    };
  }
}

/**
 * The q-quantile of a bucketed distribution, interpolated linearly inside its bucket
 * (Prometheus's histogram_quantile). In the overflow bucket the answer is the last
 * bound: all that is known is "at least that".
 */
export function quantile(bounds: readonly number[], counts: readonly number[], q: number): number | null {
  const total = counts.reduce((sum, count) => sum + count, 0);
  if (total <= 0) return null;
  const rank = q * total;
  let below = 0;
  for (const [index, count] of counts.entries()) {
    if (count > 0 && below + count >= rank) {
      if (index >= bounds.length) return bounds.at(-1) ?? null;
      const lower = index === 0 ? 0 : (bounds[index - 1] as number);
      const upper = bounds[index] as number;
      return lower + ((upper - lower) * (rank - below)) / count;
    }
    below += count;
  }
  return bounds.at(-1) ?? null;
}

export const NO_FIGURES: Figures = Object.freeze({
  requestsPerSecond: 0,
  errorPercent: null,
  p50Ms: null,
  p99Ms: null,
});

const round2 = (value: number) => Math.round(value * 100) / 100;
const round2OrNull = (value: number | null) => (value === null ? null : round2(value));

/**
 * Figures over one or several processes (a service's replicas): rates add up, error
 * percentages and quantiles come from the summed counts. Histograms with other bounds
 * than the first one's stay out of the quantiles.
 */
export function figuresOf(deltas: readonly (StatsDelta | null)[]): Figures {
  const known = deltas.filter((delta): delta is StatsDelta => delta !== null && delta.seconds > 0);
  const first = known[0];
  if (first === undefined) return NO_FIGURES;
  let requestsPerSecond = 0;
  let requests = 0;
  let errors = 0;
  const counts = first.counts.map(() => 0);
  for (const delta of known) {
    requestsPerSecond += delta.requests / delta.seconds;
    requests += delta.requests;
    errors += delta.errors;
    if (sameBounds(delta.bounds, first.bounds)) {
      for (const [index, count] of delta.counts.entries()) counts[index] = (counts[index] ?? 0) + count;
    }
  }
  return {
    requestsPerSecond: round2(requestsPerSecond),
    errorPercent: requests > 0 ? round2((100 * errors) / requests) : null,
    p50Ms: round2OrNull(quantile(first.bounds, counts, 0.5)),
    p99Ms: round2OrNull(quantile(first.bounds, counts, 0.99)),
  };
}
