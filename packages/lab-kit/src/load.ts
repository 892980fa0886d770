/**
 * A steady, open-loop client load: requests leave on a fixed schedule whether or
 * not earlier ones have answered, so a hanging service shows up as slow or timed
 * out requests instead of silently slowing the load down. Bounded in count and time.
 */
export interface Route {
  name: string;
  path: string;
  method?: string;
  body?: unknown;
  /** Sent with every request of the route, e.g. an Idempotency-Key that makes a POST retryable. */
  headers?: Record<string, string>;
  /** Requests per second on this route; the load's `ratePerSecond` when absent. */
  ratePerSecond?: number;
}

export interface Outcome {
  route: string;
  /** 0 when no HTTP answer came (client timeout or connection error). */
  status: number;
  contentType: string;
  servedBy: string | null;
  /** ms since the load started, when the request left. */
  sentAt: number;
  latencyMs: number;
  error?: string;
}

export interface LoadOptions {
  /** Prefixed to every route's path; empty when the paths are whole URLs. */
  baseUrl?: string;
  /** Routes, or GET paths by route name. */
  routes: Route[] | Record<string, string>;
  /** Requests per second, per route (a route's own rate wins). */
  ratePerSecond: number;
  maxDurationMs: number;
  /** A request still unanswered after this long counts as hung. */
  clientTimeoutMs?: number;
}

export interface Load {
  readonly outcomes: Outcome[];
  /** ms since the load started. */
  now(): number;
  /** Stops sending and waits for every request in flight. */
  stop(): Promise<Outcome[]>;
}

export function startLoad({
  baseUrl = '',
  routes,
  ratePerSecond,
  maxDurationMs,
  clientTimeoutMs = 10_000,
}: LoadOptions): Load {
  const startedAt = performance.now();
  const now = () => performance.now() - startedAt;
  const outcomes: Outcome[] = [];
  const targets: Route[] = Array.isArray(routes)
    ? routes
    : Object.entries(routes).map(([name, path]) => ({ name, path }));
  const pending = new Set<Promise<void>>();

  const send = (route: Route) => {
    const sentAt = now();
    const request = fetch(`${baseUrl}${route.path}`, {
      method: route.method ?? 'GET',
      headers:
        route.body === undefined ? (route.headers ?? {}) : { 'content-type': 'application/json', ...route.headers },
      ...(route.body === undefined ? {} : { body: JSON.stringify(route.body) }),
      signal: AbortSignal.timeout(clientTimeoutMs),
    })
      .then(async (res) => {
        await res.arrayBuffer();
        outcomes.push({
          route: route.name,
          status: res.status,
          contentType: res.headers.get('content-type') ?? '',
          servedBy: res.headers.get('x-served-by'),
          sentAt,
          latencyMs: now() - sentAt,
        });
      })
      .catch((error: Error) => {
        outcomes.push({
          route: route.name,
          status: 0,
          contentType: '',
          servedBy: null,
          sentAt,
          latencyMs: now() - sentAt,
          error: error.name,
        });
      });
    pending.add(request);
    void request.finally(() => pending.delete(request));
  };

  // One timer per rate: routes that share one leave together, as before.
  const byRate = Map.groupBy(targets, (route) => route.ratePerSecond ?? ratePerSecond);
  const timers = [...byRate].map(([rate, routes]) => {
    const timer = setInterval(() => {
      if (now() >= maxDurationMs) return clearInterval(timer);
      for (const route of routes) send(route);
    }, 1000 / rate);
    return timer;
  });

  return {
    outcomes,
    now,
    async stop() {
      for (const timer of timers) clearInterval(timer);
      while (pending.size > 0) await Promise.allSettled([...pending]);
      return outcomes.sort((a, b) => a.sentAt - b.sentAt);
    },
  };
}

export interface RouteSummary {
  count: number;
  ok: number;
  successRate: number;
  statuses: Record<string, number>;
  maxLatencyMs: number;
  p50LatencyMs: number;
  p95LatencyMs: number;
  /** The median over 2xx answers only: what a served user waited, without fast refusals in it. */
  okP50LatencyMs: number;
}

/** Outcomes of one route, optionally only those sent in [fromMs, toMs). */
export function summarize(
  outcomes: Outcome[],
  route: string,
  fromMs = 0,
  toMs = Number.POSITIVE_INFINITY,
): RouteSummary {
  const selected = outcomes.filter((o) => o.route === route && o.sentAt >= fromMs && o.sentAt < toMs);
  const latencies = selected.map((o) => o.latencyMs).sort((a, b) => a - b);
  const okLatencies = selected
    .filter((o) => o.status >= 200 && o.status < 300)
    .map((o) => o.latencyMs)
    .sort((a, b) => a - b);
  const ok = selected.filter((o) => o.status >= 200 && o.status < 300).length;
  const statuses: Record<string, number> = {};
  for (const o of selected) statuses[o.status] = (statuses[o.status] ?? 0) + 1;
  return {
    count: selected.length,
    ok,
    successRate: selected.length === 0 ? 0 : ok / selected.length,
    statuses,
    maxLatencyMs: Math.round(latencies.at(-1) ?? 0),
    p50LatencyMs: Math.round(latencies[Math.floor(latencies.length / 2)] ?? 0),
    p95LatencyMs: Math.round(latencies[Math.floor(latencies.length * 0.95)] ?? 0),
    okP50LatencyMs: Math.round(okLatencies[Math.floor(okLatencies.length / 2)] ?? 0),
  };
}

/** How many requests of `route` left in [fromMs, toMs), against how many the schedule promised. */
export function sentOnSchedule(
  outcomes: Outcome[],
  route: string,
  ratePerSecond: number,
  fromMs: number,
  toMs: number,
): { sent: number; scheduled: number } {
  const sent = outcomes.filter((o) => o.route === route && o.sentAt >= fromMs && o.sentAt < toMs).length;
  return { sent, scheduled: Math.round((ratePerSecond * (toMs - fromMs)) / 1000) };
}

/** How many of the outcomes each replica served, by x-served-by. */
export function shareByReplica(outcomes: Pick<Outcome, 'servedBy'>[]): Map<string, number> {
  const shares = new Map<string, number>();
  for (const o of outcomes) if (o.servedBy) shares.set(o.servedBy, (shares.get(o.servedBy) ?? 0) + 1);
  return shares;
}

/** One line per scenario in the test log: the figures the closing notes quote. */
export function report(scenario: string, figures: Record<string, unknown>): void {
  process.stdout.write(`[figures] ${scenario}: ${JSON.stringify(figures)}\n`);
}
