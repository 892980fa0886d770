import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** What the metrics read from an upstream at scrape time (see Upstream.counters). */
export interface MeteredUpstream {
  readonly name: string;
  counters(): {
    attempts: number;
    retriesByReason: ReadonlyMap<string, number>;
    ejections: number;
    breaker: number;
    inFlight: number;
    replicas: Record<string, number>;
  };
}

/** Per-attempt latency to response headers, by outcome: the status code, or the error code. */
export interface LatencyHistogram {
  observe(outcome: number | string, ms: number): void;
}

/**
 * Answers by route, method and status, counted in nested maps of plain numbers:
 * on the hot path that is three lookups and an add, with no label object built and
 * hashed per request as a prom-client `inc` would. The counter reads it at scrape.
 */
class RequestCounts {
  /** route -> upstream name, then method -> status -> count. */
  readonly #routes = new Map<string, { upstream: string; byMethod: Map<string, Map<number, number>> }>();

  count(route: string, upstream: string, method: string, status: number): void {
    let entry = this.#routes.get(route);
    if (entry === undefined) {
      entry = { upstream, byMethod: new Map() };
      this.#routes.set(route, entry);
    }
    let byStatus = entry.byMethod.get(method);
    if (byStatus === undefined) {
      byStatus = new Map();
      entry.byMethod.set(method, byStatus);
    }
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
  }

  *entries() {
    for (const [route, { upstream, byMethod }] of this.#routes) {
      for (const [method, byStatus] of byMethod) {
        for (const [status, count] of byStatus) yield { route, upstream, method, status: String(status), count };
      }
    }
  }
}

type UpstreamCounters = ReturnType<MeteredUpstream['counters']>;

/**
 * A metric whose values an upstream already keeps, read at scrape time: one value
 * per `label` value, or a single one when there is no second label.
 */
interface PerUpstreamMetric {
  kind: 'counter' | 'gauge';
  name: string;
  help: string;
  label?: string;
  read: (counters: UpstreamCounters) => Iterable<[string, number]>;
}

/** The gateway's Prometheus metrics, on a registry of its own (one per app instance). */
export function createGatewayMetrics() {
  const registry = new Registry();
  const upstreams: MeteredUpstream[] = [];
  const requestCounts = new RequestCounts();

  new Counter({
    name: 'gateway_requests_total',
    help: 'Requests answered by the gateway, by route, method, status and upstream',
    labelNames: ['route', 'method', 'status', 'upstream'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const { route, method, status, upstream, count } of requestCounts.entries()) {
        this.inc({ route, method, status, upstream }, count);
      }
    },
  });

  const perUpstream = ({ kind, name, help, label, read }: PerUpstreamMetric) => {
    const labelNames = label === undefined ? ['upstream'] : ['upstream', label];
    const collect = function (this: Counter | Gauge) {
      if (this instanceof Counter) this.reset();
      for (const upstream of upstreams) {
        for (const [value, count] of read(upstream.counters())) {
          const labels =
            label === undefined ? { upstream: upstream.name } : { upstream: upstream.name, [label]: value };
          if (this instanceof Counter) this.inc(labels, count);
          else this.set(labels, count);
        }
      }
    };
    const options = { name, help, labelNames, registers: [registry], collect };
    return kind === 'counter' ? new Counter(options) : new Gauge(options);
  };
  const one = (count: number): [string, number][] => [['', count]];
  for (const metric of [
    {
      kind: 'counter',
      name: 'gateway_upstream_attempts_total',
      help: 'Requests sent to upstream replicas, retries included',
      read: (c) => one(c.attempts),
    },
    {
      kind: 'counter',
      name: 'gateway_upstream_retries_total',
      help: 'Retries on another replica, by reason',
      label: 'reason',
      read: (c) => c.retriesByReason,
    },
    {
      kind: 'counter',
      name: 'gateway_upstream_ejections_total',
      help: 'Replicas ejected after consecutive failures',
      read: (c) => one(c.ejections),
    },
    {
      kind: 'gauge',
      name: 'gateway_circuit_state',
      help: 'Circuit breaker per upstream: 0 closed, 1 half-open, 2 open',
      read: (c) => one(c.breaker),
    },
    {
      kind: 'gauge',
      name: 'gateway_upstream_in_flight',
      help: 'Requests in flight to an upstream',
      read: (c) => one(c.inFlight),
    },
    {
      kind: 'gauge',
      name: 'gateway_upstream_replicas',
      help: 'Replicas per upstream by state (known, healthy, ejected)',
      label: 'state',
      read: (c) => Object.entries(c.replicas),
    },
  ] satisfies PerUpstreamMetric[]) {
    perUpstream(metric);
  }

  const latency = new Histogram({
    name: 'gateway_upstream_duration_seconds',
    help: 'Time to response headers from an upstream replica, per attempt',
    labelNames: ['upstream', 'outcome'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });

  return {
    registry,
    countRequest: (route: string, upstream: string, method: string, status: number) =>
      requestCounts.count(route, upstream, method, status),
    addUpstream(upstream: MeteredUpstream): void {
      upstreams.push(upstream);
    },
    /** One label set per outcome, built once: an observation then costs prom-client's hash and a bucket. */
    upstreamLatency(upstream: string): LatencyHistogram {
      const labelSets = new Map<number | string, { upstream: string; outcome: string }>();
      const labelsFor = (outcome: number | string) => {
        let labels = labelSets.get(outcome);
        if (labels === undefined) {
          labels = { upstream, outcome: String(outcome) };
          labelSets.set(outcome, labels);
        }
        return labels;
      };
      return { observe: (outcome, ms) => latency.observe(labelsFor(outcome), ms / 1000) };
    },
  };
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;
