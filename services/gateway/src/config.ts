import { hostname } from 'node:os';
import { type Env, LOG_LEVELS, parseConfig } from '@lab/platform/config';
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
    service: 'gateway',
    host: read.string('HOST', '0.0.0.0'),
    port: read.port('PORT', 8080),
    instance: read.string('INSTANCE_NAME', hostname()),
    version: read.string('SERVICE_VERSION', pkg.version),
    logLevel: read.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    upstreams: [
      { name: 'hello', prefix: '/api/hello', baseUrl: read.httpUrl('HELLO_URL', 'http://hello:8070') },
      { name: 'users', prefix: '/api/users', baseUrl: read.httpUrl('USERS_URL', 'http://users:8090') },
    ] satisfies UpstreamConfig[],
    connectTimeoutMs: read.integer('UPSTREAM_CONNECT_TIMEOUT_MS', 1000, { min: 1, max: 60_000 }),
    responseTimeoutMs: read.integer('UPSTREAM_RESPONSE_TIMEOUT_MS', 5000, { min: 1, max: 300_000 }),
    /** How long a readiness probe of an upstream may take before it counts as down. */
    probeTimeoutMs: read.integer('UPSTREAM_PROBE_TIMEOUT_MS', 1000, { min: 1, max: 60_000 }),
    bodyLimitBytes: read.integer('BODY_LIMIT_BYTES', 1024 * 1024, { min: 1024, max: 100 * 1024 * 1024 }),
    shutdownGraceMs: read.integer('SHUTDOWN_GRACE_MS', 8000, { min: 0, max: 60_000 }),
  }));
}

export type GatewayConfig = ReturnType<typeof loadGatewayConfig>;
