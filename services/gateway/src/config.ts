import { ConfigError, type ConfigReader, type Env, parseConfig, readServiceSettings } from '@lab/platform/config';
import pkg from '../package.json' with { type: 'json' };

export interface UpstreamConfig {
  /** The service name: also its compose service name and network alias. */
  name: string;
  /** Public path prefix, stripped before forwarding: /api/users/42 reaches users as /42. */
  prefix: string;
  /** An origin, or an origin and a base path that replaces the prefix (`http://monolith:8060/api/users`). */
  baseUrl: string;
}

const isHttpOrigin = (value: string) =>
  URL.canParse(value) && /^https?:$/.test(new URL(value).protocol) && new URL(value).origin === value;

/**
 * Where an upstream listens: an origin, optionally with a base path, as in nginx's
 * `proxy_pass`. A query or fragment has nowhere to go on a forwarded request, so it
 * stops the start rather than being dropped.
 */
function readUpstreamUrl(read: ConfigReader, name: string, fallback: string): string {
  const url = read.httpUrl(name, fallback);
  // In a serialised URL `?` and `#` only ever start the query and the fragment, empty ones included.
  if (/[?#]/.test(url)) {
    throw new ConfigError(
      name,
      'must be an http(s) URL without a query string or fragment',
      read.string(name, fallback),
    );
  }
  return url;
}

/** A comma-separated list of exact origins (`https://app.example.org`); empty means CORS stays off. */
function readOrigins(read: ConfigReader, name: string): string[] {
  const raw = read.string(name, '');
  const origins = raw
    .split(',')
    .map((origin) => origin.trim())
    .filter((origin) => origin !== '');
  for (const origin of origins) {
    if (!isHttpOrigin(origin)) {
      throw new ConfigError(name, 'must be a comma-separated list of origins like https://app.example.org', raw);
    }
  }
  return origins;
}

export function loadGatewayConfig(env: Env) {
  return parseConfig(env, (read) => ({
    ...readServiceSettings(read, { service: 'gateway', port: 8080, version: pkg.version }),
    upstreams: [
      { name: 'hello', prefix: '/api/hello', baseUrl: readUpstreamUrl(read, 'HELLO_URL', 'http://hello:8070') },
      { name: 'users', prefix: '/api/users', baseUrl: readUpstreamUrl(read, 'USERS_URL', 'http://users:8090') },
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
    rateLimit: {
      enabled: read.boolean('RATE_LIMIT_ENABLED', true),
      // Per client address (the socket's). Behind Docker's port publishing every client on
      // the host, and behind a NAT every client of an office, shares one address, so the
      // default must sit above what one gateway process serves (~6,000 req/s on one core
      // here): 10,000 req/s never trips a load test or a crowd, and still stops a runaway
      // client on a bigger machine. Lower it where the gateway faces the internet directly.
      perMinute: read.integer('RATE_LIMIT_PER_MINUTE', 600_000, { min: 1, max: 10_000_000 }),
    },
    corsOrigins: readOrigins(read, 'CORS_ORIGINS'),
  }));
}

export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;
