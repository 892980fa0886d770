import { type Env, parseConfig, readServiceSettings } from '@lab/platform/config';
import pkg from '../package.json' with { type: 'json' };

export interface UpstreamConfig {
  /** The service name: also its compose service name and network alias. */
  name: string;
  /** Public path prefix, stripped before forwarding: /api/users/42 reaches users as /42. */
  prefix: string;
  baseUrl: string;
}

export function loadGatewayConfig(env: Env) {
  return parseConfig(env, (read) => ({
    ...readServiceSettings(read, { service: 'gateway', port: 8080, version: pkg.version }),
    upstreams: [
      { name: 'hello', prefix: '/api/hello', baseUrl: read.httpUrl('HELLO_URL', 'http://hello:8070') },
      { name: 'users', prefix: '/api/users', baseUrl: read.httpUrl('USERS_URL', 'http://users:8090') },
    ] satisfies UpstreamConfig[],
    resilience: {
      connectTimeoutMs: read.integer('UPSTREAM_CONNECT_TIMEOUT_MS', 1000, { min: 1, max: 60_000 }),
      responseTimeoutMs: read.integer('UPSTREAM_RESPONSE_TIMEOUT_MS', 5000, { min: 1, max: 300_000 }),
      discoveryIntervalMs: read.integer('DISCOVERY_INTERVAL_MS', 2000, { min: 100, max: 60_000 }),
      probeIntervalMs: read.integer('PROBE_INTERVAL_MS', 1000, { min: 100, max: 60_000 }),
      probeTimeoutMs: read.integer('PROBE_TIMEOUT_MS', 1000, { min: 1, max: 60_000 }),
      ejectAfterFailures: read.integer('EJECT_AFTER_FAILURES', 3, { min: 1, max: 100 }),
      ejectionBaseMs: read.integer('EJECTION_BASE_MS', 2000, { min: 0, max: 600_000 }),
      ejectionMaxMs: read.integer('EJECTION_MAX_MS', 30_000, { min: 0, max: 3_600_000 }),
      breakerFailures: read.integer('BREAKER_FAILURES', 5, { min: 1, max: 1000 }),
      breakerHalfOpenAfterMs: read.integer('BREAKER_HALF_OPEN_AFTER_MS', 2000, { min: 10, max: 600_000 }),
      maxConcurrent: read.integer('MAX_CONCURRENT_PER_UPSTREAM', 200, { min: 1, max: 100_000 }),
      retryBudgetRatio: read.integer('RETRY_BUDGET_PERCENT', 20, { min: 0, max: 100 }) / 100,
    },
    bodyLimitBytes: read.integer('BODY_LIMIT_BYTES', 1024 * 1024, { min: 1024, max: 100 * 1024 * 1024 }),
  }));
}

export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;
