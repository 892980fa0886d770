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

/** The upstream side: deadlines, probing, ejection, breaker, bulkhead and retry budget. */
function readResilience(read: ConfigReader) {
  return {
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
  };
}

/**
 * What a client may make the gateway hold, and for how long (nginx's client_* settings, Envoy's
 * stream timeouts): every phase a client controls has a deadline, so a slow or silent client
 * costs a socket for seconds, never a replica's reputation or the process's memory.
 */
function readEdgeLimits(read: ConfigReader, upstreamResponseTimeoutMs: number) {
  const headersTimeoutMs = read.integer('CLIENT_HEADERS_TIMEOUT_MS', 10_000, { min: 100, max: 600_000 });
  const requestTimeoutMs = read.integer('CLIENT_REQUEST_TIMEOUT_MS', 30_000, { min: 100, max: 600_000 });
  if (headersTimeoutMs > requestTimeoutMs) {
    throw new ConfigError(
      'CLIENT_HEADERS_TIMEOUT_MS',
      'must not exceed CLIENT_REQUEST_TIMEOUT_MS',
      String(headersTimeoutMs),
    );
  }
  const idleTimeoutMs = read.integer('CLIENT_IDLE_TIMEOUT_MS', 15_000, { min: 100, max: 600_000 });
  // A socket is idle while the gateway waits for the upstream's answer too: cutting it then would
  // turn a slow upstream into a dropped connection instead of the 504 the client is owed.
  if (idleTimeoutMs <= upstreamResponseTimeoutMs) {
    throw new ConfigError('CLIENT_IDLE_TIMEOUT_MS', 'must exceed UPSTREAM_RESPONSE_TIMEOUT_MS', String(idleTimeoutMs));
  }
  return {
    headersTimeoutMs,
    requestTimeoutMs,
    idleTimeoutMs,
    keepAliveTimeoutMs: read.integer('CLIENT_KEEPALIVE_TIMEOUT_MS', 72_000, { min: 100, max: 600_000 }),
    maxConnections: read.integer('MAX_CLIENT_CONNECTIONS', 1024, { min: 1, max: 1_000_000 }),
    bodyBufferBudgetBytes: read.integer('BODY_BUFFER_BUDGET_BYTES', 32 * 1024 * 1024, {
      min: 0,
      max: 4 * 1024 * 1024 * 1024,
    }),
  };
}

export function loadGatewayConfig(env: Env) {
  return parseConfig(env, (read) => {
    const resilience = readResilience(read);
    return {
      ...readServiceSettings(read, { service: 'gateway', port: 8080, version: pkg.version }),
      upstreams: [
        { name: 'hello', prefix: '/api/hello', baseUrl: readUpstreamUrl(read, 'HELLO_URL', 'http://hello:8070') },
        { name: 'users', prefix: '/api/users', baseUrl: readUpstreamUrl(read, 'USERS_URL', 'http://users:8090') },
      ] satisfies UpstreamConfig[],
      resilience,
      bodyLimitBytes: read.integer('BODY_LIMIT_BYTES', 1024 * 1024, { min: 1024, max: 100 * 1024 * 1024 }),
      edge: readEdgeLimits(read, resilience.responseTimeoutMs),
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
    };
  });
}

export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;
