import { hostname } from 'node:os';
import { type Env, LOG_LEVELS, parseConfig } from '@lab/platform/config';
import pkg from '../package.json' with { type: 'json' };

export function loadHelloConfig(env: Env) {
  return parseConfig(env, (read) => ({
    service: 'hello',
    host: read.string('HOST', '0.0.0.0'),
    port: read.port('PORT', 8070),
    instance: read.string('INSTANCE_NAME', hostname()),
    version: read.string('SERVICE_VERSION', pkg.version),
    logLevel: read.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    shutdownGraceMs: read.integer('SHUTDOWN_GRACE_MS', 8000, { min: 0, max: 60_000 }),
  }));
}

export type HelloConfig = ReturnType<typeof loadHelloConfig>;
