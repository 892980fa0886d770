/**
 * Upper bounds of the latency buckets in ms: 1, 1.5, 2.5, 4, 6 per decade (about x1.6 apart),
 * so that p50 and p99 can be interpolated within a bucket from 0.5 ms to 10 s.
 */
export const LATENCY_BOUNDS_MS: readonly number[] = Object.freeze([
  0.5, 1, 1.5, 2.5, 4, 6, 10, 15, 25, 40, 60, 100, 150, 250, 400, 600, 1000, 1500, 2500, 4000, 6000, 10_000,
]);

/** What `GET /health/stats` answers. Counts only grow; a reader diffs two samples with the same `startedAt`. */
export interface RequestStatsSnapshot {
  service: string;
  instance: string;
  /** Epoch ms at which counting started: a new value means the process restarted and the counts began again. */
  startedAt: number;
  requests: number;
  /** Answers with a status of 500 or more. */
  errors: number;
  statusClasses: { '2xx': number; '3xx': number; '4xx': number; '5xx': number };
  latencyMs: {
    bounds: readonly number[];
    /** Per bucket, not cumulative: counts[i] is above bounds[i - 1] and at most bounds[i]; the last is above every bound. */
    counts: number[];
  };
}

/**
 * Probes and scrapes would swamp what a learner wants to see, and LAB_FAULTS leaves them
 * alone so that "slow or failing" stays distinguishable from "down".
 */
export function isOperationalPath(url: string): boolean {
  return url.startsWith('/health/') || url === '/metrics' || url.startsWith('/metrics?');
}

/**
 * Requests answered by this process since it started, by status class and latency.
 * `record` runs once per answered request, so it only adds to preallocated counters.
 */
export class RequestStats {
  readonly #service: string;
  readonly #instance: string;
  readonly #startedAt = Date.now();
  #requests = 0;
  #errors = 0;
  /** Index 0 to 3: 2xx to 5xx. */
  readonly #statusClasses = new Float64Array(4);
  readonly #latencyCounts = new Float64Array(LATENCY_BOUNDS_MS.length + 1);

  constructor(service: string, instance: string) {
    this.#service = service;
    this.#instance = instance;
  }

  record(status: number, ms: number): void {
    this.#requests += 1;
    if (status >= 500) this.#errors += 1;
    const statusClass = Math.trunc(status / 100) - 2;
    const classes = this.#statusClasses;
    if (statusClass >= 0 && statusClass < 4) classes[statusClass] = (classes[statusClass] ?? 0) + 1;
    // Most requests take a few ms, so a scan from the bottom stops within a few bounds.
    let bucket = 0;
    while (bucket < LATENCY_BOUNDS_MS.length && ms > (LATENCY_BOUNDS_MS[bucket] ?? 0)) bucket += 1;
    this.#latencyCounts[bucket] = (this.#latencyCounts[bucket] ?? 0) + 1;
  }

  snapshot(): RequestStatsSnapshot {
    const [ok = 0, redirect = 0, clientError = 0, serverError = 0] = this.#statusClasses;
    return {
      service: this.#service,
      instance: this.#instance,
      startedAt: this.#startedAt,
      requests: this.#requests,
      errors: this.#errors,
      statusClasses: { '2xx': ok, '3xx': redirect, '4xx': clientError, '5xx': serverError },
      latencyMs: { bounds: LATENCY_BOUNDS_MS, counts: Array.from(this.#latencyCounts) },
    };
  }
}
