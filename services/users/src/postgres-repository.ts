import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigError } from '@lab/platform/config';
import {
  DatabaseUnavailableError,
  HttpError,
  IdempotencyKeyResourceGoneError,
  IdempotencyKeyReusedError,
} from '@lab/platform/problem';
import pg from 'pg';
import { databaseName, redactDatabaseUrl } from './database-url.ts';
import { migratePostgres } from './postgres-migrations.ts';
import {
  duplicateEmail,
  fingerprintOf,
  KEY_SWEEP_BATCH,
  type KeyLifetime,
  keyLifetime,
  type NewUser,
  pageOf,
  type User,
  type UsersRepository,
} from './users-repository.ts';
import { uuidV7 } from './uuid-v7.ts';

export interface PostgresOptions extends KeyLifetime {
  /** postgres://user:password@host:port/database, from DATABASE_URL (checked by checkDatabaseUrl). */
  databaseUrl: string;
  /** Connections this process keeps at most (each replica has its own pool). */
  poolSize: number;
  /** How long the first connection may take to succeed (the server may still be starting). */
  connectTimeoutMs: number;
  /** A statement the server has not answered by then fails, and its connection is dropped. */
  queryTimeoutMs: number;
  /** Told about a pooled connection that broke while idle (the server restarted, the network went). */
  onIdleError?: (error: Error) => void;
  /** pg_stat_activity's application_name: which service holds a connection. */
  applicationName?: string;
}

interface UserRow {
  id: string;
  name: string;
  email: string;
  created_at: Date;
}

const toUser = (row: UserRow): User => ({
  id: row.id,
  name: row.name,
  email: row.email,
  createdAt: row.created_at.toISOString(),
});

const USER_COLUMNS = 'id, name, email, created_at';
/** Sorts before every UUID: the first page's cursor. */
const BEFORE_EVERY_ID = '';

/** SQLSTATE classes and driver errors that say "the server is not there now", not "this statement is wrong". */
function unavailableReason(error: unknown): string | undefined {
  const { code, message, syscall } = error as { code?: unknown; message?: unknown; syscall?: unknown };
  // 08: connection exception; 57P0x: the server is shutting down or starting; 53: out of resources.
  if (typeof code === 'string' && /^(08|57P0|53)[0-9A-Z]{3}$/.test(code)) return String(message);
  // Node's socket and name errors (ECONNREFUSED, ENOTFOUND, ECONNRESET...) carry the call that failed.
  if (typeof syscall === 'string' && typeof code === 'string') return code;
  if (
    typeof message === 'string' &&
    /^(Connection terminated|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error)/.test(
      message,
    )
  ) {
    return message;
  }
  return undefined;
}

/** Turns "the database is not there" into a 503 for the client; anything else stays a bug (500). */
function rethrow(error: unknown): never {
  const reason = unavailableReason(error);
  if (reason !== undefined) throw new DatabaseUnavailableError(reason);
  throw error;
}

const UNIQUE_VIOLATION = '23505';
/** The unique index on lower(email): see postgres-migrations.ts. */
const EMAIL_INDEX = 'users_email_lower_key';

function rethrowDuplicateEmail(error: unknown, email: string | undefined): never {
  const { code, constraint } = error as { code?: string; constraint?: string };
  if (code === UNIQUE_VIOLATION && constraint === EMAIL_INDEX) throw duplicateEmail(email);
  rethrow(error);
}

/** SQLSTATE 28: a refused login; 3D000: no such database. No wait will cure either. */
const refusedLogin = (error: unknown) => /^(28|3D)/.test(String((error as { code?: unknown }).code));

/**
 * Waits for the server (it may be starting beside this replica), then applies the schema.
 * A refused login, a missing database or a server still away after connectTimeoutMs is a
 * configuration error naming DATABASE_URL, password redacted.
 */
async function openPool(pool: pg.Pool, { databaseUrl, connectTimeoutMs }: PostgresOptions): Promise<number> {
  const deadline = Date.now() + connectTimeoutMs;
  for (;;) {
    try {
      return await migratePostgres(pool);
    } catch (error) {
      const reason = (error as Error).message || String(error);
      if (refusedLogin(error)) {
        throw new ConfigError('DATABASE_URL', `was refused by the server: ${reason}`, redactDatabaseUrl(databaseUrl));
      }
      if (unavailableReason(error) === undefined) throw error;
      if (Date.now() >= deadline) {
        throw new ConfigError(
          'DATABASE_URL',
          `cannot be reached within ${connectTimeoutMs} ms (DB_CONNECT_TIMEOUT_MS): ${unavailableReason(error)}`,
          redactDatabaseUrl(databaseUrl),
        );
      }
      await sleep(Math.min(500, Math.max(0, deadline - Date.now())));
    }
  }
}

/**
 * Users on a PostgreSQL server: what every replica shares when they run on more than one
 * machine. Same behaviour as the SQLite store (repository-contract.test-suite.ts runs against both);
 * a server that goes away later turns calls into DatabaseUnavailableError (503) and
 * readiness false, and the pool reconnects by itself when it is back.
 */
export async function createPostgresUsersRepository(options: PostgresOptions): Promise<UsersRepository> {
  const keys = keyLifetime(options);
  const pool = new pg.Pool({
    connectionString: options.databaseUrl,
    max: options.poolSize,
    connectionTimeoutMillis: Math.min(options.queryTimeoutMs, 5000),
    query_timeout: options.queryTimeoutMs,
    idleTimeoutMillis: 30_000,
    application_name: options.applicationName ?? 'users',
  });
  // An idle connection the server dropped emits 'error' on the pool; unheard, it would end the process.
  pool.on('error', (error) => options.onIdleError?.(error));
  let migrationsApplied: number;
  try {
    migrationsApplied = await openPool(pool, options);
  } catch (error) {
    await pool.end().catch(() => {});
    throw error;
  }

  const query = async <R extends pg.QueryResultRow>(text: string, values: unknown[] = []) => {
    try {
      return await pool.query<R>(text, values);
    } catch (error) {
      rethrow(error);
    }
  };

  const insertUser = async (client: pg.Pool | pg.PoolClient, { name, email }: NewUser): Promise<User> => {
    try {
      const { rows } = await client.query<UserRow>(
        `INSERT INTO users (id, name, email, created_at) VALUES ($1, $2, $3, $4) RETURNING ${USER_COLUMNS}`,
        [uuidV7(), name, email, new Date()],
      );
      return toUser(rows[0] as UserRow);
    } catch (error) {
      rethrowDuplicateEmail(error, email);
    }
  };

  /** One transaction on one connection; a connection that failed mid-way is dropped, not reused. */
  const inTransaction = async <T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> => {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      rethrow(error);
    }
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const result = await work(client);
      await client.query('COMMIT');
      return result;
    } catch (error) {
      // An unanswered ROLLBACK means the connection is gone: release() then drops it.
      await client.query('ROLLBACK').catch((rollbackError: Error) => {
        broken = rollbackError;
      });
      if (error instanceof HttpError) throw error;
      rethrow(error);
    } finally {
      client.release(broken);
    }
  };

  return {
    identity: { system: 'postgresql', namespace: databaseName(options.databaseUrl) },
    migrationsApplied,
    async list({ limit, after = BEFORE_EVERY_ID }) {
      const { rows } = await query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id > $1 ORDER BY id LIMIT $2`, [
        after,
        limit + 1,
      ]);
      return pageOf(rows.map(toUser), limit);
    },
    async get(id) {
      const { rows } = await query<UserRow>(`SELECT ${USER_COLUMNS} FROM users WHERE id = $1`, [id]);
      return rows[0] && toUser(rows[0]);
    },
    async create(input) {
      return insertUser(pool, input);
    },
    async createOnce(input, idempotencyKey) {
      const fingerprint = fingerprintOf(input);
      const now = keys.now();
      return inTransaction(async (client) => {
        // Claiming the key first: a second request with it (another replica, a retry) waits
        // on this row until the first commits, then finds it and replays; if the first rolls
        // back, the second claims the key itself. An expired key is claimed anew; a live one
        // is left as it is, but locked, so the sweep cannot take it from under the replay.
        const claimed = await client.query(
          `INSERT INTO idempotency_keys (key, fingerprint, created_at) VALUES ($1, $2, $3)
           ON CONFLICT (key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, response = NULL, created_at = EXCLUDED.created_at
           WHERE idempotency_keys.created_at <= $4`,
          [idempotencyKey, fingerprint, new Date(now), new Date(now - keys.ttlMs)],
        );
        if (claimed.rowCount === 0) {
          const { rows } = await client.query<{ fingerprint: string; response: string }>(
            'SELECT fingerprint, response FROM idempotency_keys WHERE key = $1',
            [idempotencyKey],
          );
          const earlier = rows[0] as { fingerprint: string; response: string };
          if (earlier.fingerprint !== fingerprint) throw new IdempotencyKeyReusedError();
          const user = JSON.parse(earlier.response) as User;
          // A late retry must not bring back a user deleted since, nor answer 201 for it.
          const { rowCount } = await client.query('SELECT 1 FROM users WHERE id = $1', [user.id]);
          if (rowCount === 0) throw new IdempotencyKeyResourceGoneError();
          return { user, replayed: true };
        }
        const user = await insertUser(client, input);
        await client.query('UPDATE idempotency_keys SET response = $2 WHERE key = $1', [
          idempotencyKey,
          JSON.stringify(user),
        ]);
        return { user, replayed: false };
      });
    },
    async update(id, { name, email }) {
      try {
        const { rows } = await pool.query<UserRow>(
          `UPDATE users SET name = coalesce($1, name), email = coalesce($2, email) WHERE id = $3 RETURNING ${USER_COLUMNS}`,
          [name ?? null, email ?? null, id],
        );
        return rows[0] && toUser(rows[0]);
      } catch (error) {
        rethrowDuplicateEmail(error, email);
      }
    },
    async remove(id) {
      return ((await query('DELETE FROM users WHERE id = $1', [id])).rowCount ?? 0) > 0;
    },
    async counts() {
      const { rows } = await query<{ users: number; idempotencyKeys: number }>(
        'SELECT (SELECT count(*) FROM users)::int AS users, (SELECT count(*) FROM idempotency_keys)::int AS "idempotencyKeys"',
      );
      const { users, idempotencyKeys } = rows[0] as { users: number; idempotencyKeys: number };
      return { users, idempotencyKeys };
    },
    async sweepExpiredKeys() {
      const cutoff = new Date(keys.now() - keys.ttlMs);
      let swept = 0;
      for (;;) {
        // SKIP LOCKED: a key a create is claiming anew right now is that create's, not the sweep's.
        const { rowCount } = await query(
          `DELETE FROM idempotency_keys WHERE key IN
             (SELECT key FROM idempotency_keys WHERE created_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
          [cutoff, KEY_SWEEP_BATCH],
        );
        swept += rowCount ?? 0;
        if ((rowCount ?? 0) < KEY_SWEEP_BATCH) return swept;
      }
    },
    async ping() {
      try {
        // Shorter than a statement's timeout: a probe that waits long says "not ready" late.
        // pg reads query_timeout per query too; its types only know it on the pool.
        await pool.query({ text: 'SELECT 1', query_timeout: Math.min(options.queryTimeoutMs, 2000) } as pg.QueryConfig);
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      if (!pool.ended) await pool.end();
    },
  };
}
