import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The gateway's Prometheus metrics, on a registry of its own (one per app instance). */
export function createGatewayMetrics() {
  const registry = new Registry();
  return {
    registry,
    requests: new Counter({
      name: 'gateway_requests_total',
      help: 'Requests answered by the gateway, by route, method, status and upstream',
      labelNames: ['route', 'method', 'status', 'upstream'] as const,
      registers: [registry],
    }),
    attempts: new Counter({
      name: 'gateway_upstream_attempts_total',
      help: 'Requests sent to upstream replicas, retries included',
      labelNames: ['upstream'] as const,
      registers: [registry],
    }),
    retries: new Counter({
      name: 'gateway_upstream_retries_total',
      help: 'Retries on another replica, by reason',
      labelNames: ['upstream', 'reason'] as const,
      registers: [registry],
    }),
    ejections: new Counter({
      name: 'gateway_upstream_ejections_total',
      help: 'Replicas ejected after consecutive failures',
      labelNames: ['upstream'] as const,
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'gateway_upstream_duration_seconds',
      help: 'Time to response headers from an upstream replica, per attempt',
      labelNames: ['upstream', 'outcome'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    breakerState: new Gauge({
      name: 'gateway_circuit_state',
      help: 'Circuit breaker per upstream: 0 closed, 1 half-open, 2 open',
      labelNames: ['upstream'] as const,
      registers: [registry],
    }),
    inFlight: new Gauge({
      name: 'gateway_upstream_in_flight',
      help: 'Requests in flight to an upstream',
      labelNames: ['upstream'] as const,
      registers: [registry],
    }),
    replicas: new Gauge({
      name: 'gateway_upstream_replicas',
      help: 'Replicas per upstream by state (known, healthy, ejected)',
      labelNames: ['upstream', 'state'] as const,
      registers: [registry],
    }),
  };
}

export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>;
