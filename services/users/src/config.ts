import { resolve } from 'node:path';
import { type Env, parseConfig, readServiceSettings } from '@lab/platform/config';
import pkg from '../package.json' with { type: 'json' };

export function loadUsersConfig(env: Env) {
  return parseConfig(env, (read) => ({
    ...readServiceSettings(read, { service: 'users', port: 8090, version: pkg.version }),
    dataDir: resolve(read.string('DATA_DIR', './data')),
    /** How long a write waits for another replica's lock on the shared database file. */
    busyTimeoutMs: read.integer('DB_BUSY_TIMEOUT_MS', 5000, { min: 0, max: 60_000 }),
    bodyLimitBytes: read.integer('BODY_LIMIT_BYTES', 16 * 1024, { min: 1024, max: 1024 * 1024 }),
  }));
}

export type UsersConfig = ReturnType<typeof loadUsersConfig>;
