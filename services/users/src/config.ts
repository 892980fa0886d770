import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { type Env, LOG_LEVELS, parseConfig } from '@lab/platform/config';
import pkg from '../package.json' with { type: 'json' };

export function loadUsersConfig(env: Env) {
  return parseConfig(env, (read) => ({
    service: 'users',
    host: read.string('HOST', '0.0.0.0'),
    port: read.port('PORT', 8090),
    instance: read.string('INSTANCE_NAME', hostname()),
    version: read.string('SERVICE_VERSION', pkg.version),
    logLevel: read.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    dataDir: resolve(read.string('DATA_DIR', './data')),
    /** How long a write waits for another replica's lock on the shared database file. */
    busyTimeoutMs: read.integer('DB_BUSY_TIMEOUT_MS', 5000, { min: 0, max: 60_000 }),
    bodyLimitBytes: read.integer('BODY_LIMIT_BYTES', 16 * 1024, { min: 1024, max: 1024 * 1024 }),
    shutdownGraceMs: read.integer('SHUTDOWN_GRACE_MS', 8000, { min: 0, max: 60_000 }),
  }));
}

export type UsersConfig = ReturnType<typeof loadUsersConfig>;
