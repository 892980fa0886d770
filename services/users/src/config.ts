import { join, resolve } from 'node:path';
import { type Env, parseConfig, readServiceSettings } from '@lab/platform/config';
import pkg from '../package.json' with { type: 'json' };
import { checkDatabaseUrl, redactDatabaseUrl } from './database-url.ts';
import { DATABASE_FILE } from './sqlite-repository.ts';
import { DEFAULT_IDEMPOTENCY_KEY_TTL_HOURS, HOUR_MS } from './users-repository.ts';

const databaseUrlOrUndefined = (raw: string) => (raw === '' ? undefined : checkDatabaseUrl(raw));

export function loadUsersConfig(env: Env) {
  return parseConfig(env, (read) => ({
    ...readServiceSettings(read, { service: 'users', port: 8090, version: pkg.version }),
    /**
     * Set: users lives on this PostgreSQL server (what replicas on several machines share). Unset: SQLite
     * in DATA_DIR. Or DATABASE_URL_FILE, a file holding it: a docker or Kubernetes secret keeps the
     * password out of the service's spec.
     */
    databaseUrl: read.secret('DATABASE_URL', '', databaseUrlOrUndefined),
    /** How long the first connection to DATABASE_URL may take (the server may be starting too). */
    dbConnectTimeoutMs: read.integer('DB_CONNECT_TIMEOUT_MS', 15_000, { min: 0, max: 300_000 }),
    /** PostgreSQL connections per replica, and how long a statement may take before it fails as a 503. */
    dbPoolSize: read.integer('DB_POOL_SIZE', 10, { min: 1, max: 100 }),
    dbQueryTimeoutMs: read.integer('DB_QUERY_TIMEOUT_MS', 5000, { min: 100, max: 60_000 }),
    dataDir: resolve(read.string('DATA_DIR', './data')),
    /** How long a write waits for another replica's lock on the shared database file, the event loop free. */
    busyTimeoutMs: read.integer('DB_BUSY_TIMEOUT_MS', 5000, { min: 0, max: 60_000 }),
    /** How long a create's Idempotency-Key is remembered; every replica should share one value. */
    idempotencyKeyTtlMs:
      read.integer('IDEMPOTENCY_KEY_TTL_HOURS', DEFAULT_IDEMPOTENCY_KEY_TTL_HOURS, { min: 1, max: 720 }) * HOUR_MS,
    bodyLimitBytes: read.integer('BODY_LIMIT_BYTES', 16 * 1024, { min: 1024, max: 1024 * 1024 }),
  }));
}

export type UsersConfig = ReturnType<typeof loadUsersConfig>;

/** For the "listening" log line: where this process keeps users, the password redacted. */
export const describeUsersStore = ({ databaseUrl, dataDir }: UsersConfig) => ({
  database: databaseUrl === undefined ? `sqlite ${join(dataDir, DATABASE_FILE)}` : redactDatabaseUrl(databaseUrl),
});
