import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { setTimeout as sleep, setImmediate as yieldToRequests } from 'node:timers/promises';
import {
  DatabaseUnavailableError,
  IdempotencyKeyResourceGoneError,
  IdempotencyKeyReusedError,
} from '@lab/platform/problem';
import { migrate } from './sqlite-migrations.ts';
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

interface UserRow {
  id: string;
  name: string;
  email: string;
  created_at: string;
}

const toUser = (row: UserRow): User => ({ id: row.id, name: row.name, email: row.email, createdAt: row.created_at });

const SQLITE_CONSTRAINT_UNIQUE = 2067;
/** SQLITE_BUSY, and its extended codes (BUSY_RECOVERY, BUSY_SNAPSHOT...) in the low byte. */
const SQLITE_BUSY = 5;
const isBusy = (error: unknown) => ((error as { errcode?: number }).errcode ?? 0) % 256 === SQLITE_BUSY;
/** The pauses between tries for a lock, as SQLite's own busy handler spaces them, then 25 ms. */
const LOCK_RETRY_DELAYS_MS = [1, 2, 5, 10, 15, 20, 25];

function rethrowDuplicateEmail(error: unknown, email: string | undefined): never {
  if ((error as { errcode?: number }).errcode === SQLITE_CONSTRAINT_UNIQUE) throw duplicateEmail(email);
  throw error;
}

export interface SqliteOptions extends KeyLifetime {
  dataDir: string;
  busyTimeoutMs: number;
}

export const DATABASE_FILE = 'users.db';

/**
 * Users in one SQLite file on DATA_DIR: right for every replica on one host sharing a
 * volume. node:sqlite is synchronous, so a statement never waits inside SQLite for another
 * replica's lock: it fails at once and waitForLock tries again later, the event loop free.
 */
export function createSqliteUsersRepository(options: SqliteOptions): UsersRepository {
  const { dataDir, busyTimeoutMs } = options;
  const keys = keyLifetime(options);
  mkdirSync(dataDir, { recursive: true });
  // Opening may wait inside SQLite: nothing is served before the schema is there.
  const db = new DatabaseSync(join(dataDir, DATABASE_FILE), { timeout: busyTimeoutMs });
  // WAL lets replicas read while one writes; FULL fsyncs every commit, so an
  // acknowledged write survives a SIGKILL or power loss.
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;');
  const migrationsApplied = migrate(db);
  db.exec('PRAGMA busy_timeout = 0');

  const selectPage = db.prepare('SELECT * FROM users WHERE id > ? ORDER BY id LIMIT ?');
  const selectOne = db.prepare('SELECT * FROM users WHERE id = ?');
  const insert = db.prepare('INSERT INTO users (id, name, email, created_at) VALUES (?, ?, ?, ?) RETURNING *');
  const updateOne = db.prepare(
    'UPDATE users SET name = coalesce(?, name), email = coalesce(?, email) WHERE id = ? RETURNING *',
  );
  const deleteOne = db.prepare('DELETE FROM users WHERE id = ?');
  const userExists = db.prepare('SELECT 1 FROM users WHERE id = ?');
  const selectLiveKey = db.prepare(
    'SELECT fingerprint, response FROM idempotency_keys WHERE key = ? AND created_at > ?',
  );
  // An expired key's row may still be there, waiting for the sweep: it is replaced.
  const putKey = db.prepare(
    `INSERT INTO idempotency_keys (key, fingerprint, response, created_at) VALUES (?, ?, ?, ?)
     ON CONFLICT (key) DO UPDATE SET fingerprint = excluded.fingerprint, response = excluded.response, created_at = excluded.created_at`,
  );
  const deleteExpiredKeys = db.prepare(
    'DELETE FROM idempotency_keys WHERE key IN (SELECT key FROM idempotency_keys WHERE created_at <= ? LIMIT ?)',
  );
  const countRows = db.prepare(
    'SELECT (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM idempotency_keys) AS idempotencyKeys',
  );
  const selectOk = db.prepare('SELECT 1 AS ok');

  const insertUser = ({ name, email }: NewUser): User => {
    try {
      return toUser(insert.get(uuidV7(), name, email, new Date().toISOString()) as unknown as UserRow);
    } catch (error) {
      rethrowDuplicateEmail(error, email);
    }
  };

  /** Keys created at or before this instant have expired (ISO text sorts as time does). */
  const expiryCutoff = () => new Date(keys.now() - keys.ttlMs).toISOString();

  /** Runs `work`, and while another connection holds the lock, tries again with the loop free. */
  const waitForLock = async <T>(work: () => T): Promise<T> => {
    const deadline = performance.now() + busyTimeoutMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return work();
      } catch (error) {
        if (!isBusy(error)) throw error;
        const left = deadline - performance.now();
        if (left <= 0) {
          throw new DatabaseUnavailableError(
            `${DATABASE_FILE} stayed locked by another connection for ${busyTimeoutMs} ms (DB_BUSY_TIMEOUT_MS)`,
          );
        }
        await sleep(Math.min(left, LOCK_RETRY_DELAYS_MS[attempt] ?? 25));
      }
    }
  };

  // IMMEDIATE takes the write lock before the key is read, so two replicas given
  // the same key serialise (waiting up to busyTimeoutMs) instead of both inserting.
  const inWriteTransaction = <T>(work: () => T): T => {
    db.exec('BEGIN IMMEDIATE');
    try {
      const result = work();
      db.exec('COMMIT');
      return result;
    } catch (error) {
      db.exec('ROLLBACK');
      throw error;
    }
  };

  return {
    identity: { system: 'sqlite', namespace: DATABASE_FILE },
    migrationsApplied,
    async list({ limit, after = '' }) {
      const rows = await waitForLock(() => selectPage.all(after, limit + 1) as unknown as UserRow[]);
      return pageOf(rows.map(toUser), limit);
    },
    async get(id) {
      const row = await waitForLock(() => selectOne.get(id) as UserRow | undefined);
      return row && toUser(row);
    },
    async create(input) {
      return waitForLock(() => insertUser(input));
    },
    async createOnce(input, idempotencyKey) {
      const fingerprint = fingerprintOf(input);
      return waitForLock(() =>
        inWriteTransaction(() => {
          const earlier = selectLiveKey.get(idempotencyKey, expiryCutoff()) as
            | { fingerprint: string; response: string }
            | undefined;
          if (earlier) {
            if (earlier.fingerprint !== fingerprint) throw new IdempotencyKeyReusedError();
            const user = JSON.parse(earlier.response) as User;
            // A late retry must not bring back a user deleted since, nor answer 201 for it.
            if (userExists.get(user.id) === undefined) throw new IdempotencyKeyResourceGoneError();
            return { user, replayed: true };
          }
          const user = insertUser(input);
          putKey.run(idempotencyKey, fingerprint, JSON.stringify(user), new Date(keys.now()).toISOString());
          return { user, replayed: false };
        }),
      );
    },
    async update(id, { name, email }) {
      return waitForLock(() => {
        try {
          const row = updateOne.get(name ?? null, email ?? null, id) as UserRow | undefined;
          return row && toUser(row);
        } catch (error) {
          rethrowDuplicateEmail(error, email);
        }
      });
    },
    async remove(id) {
      return waitForLock(() => Number(deleteOne.run(id).changes) > 0);
    },
    async counts() {
      const { users, idempotencyKeys } = await waitForLock(
        () => countRows.get() as { users: number; idempotencyKeys: number },
      );
      return { users, idempotencyKeys };
    },
    async sweepExpiredKeys() {
      const cutoff = expiryCutoff();
      let swept = 0;
      for (;;) {
        const deleted = await waitForLock(() => Number(deleteExpiredKeys.run(cutoff, KEY_SWEEP_BATCH).changes));
        swept += deleted;
        if (deleted < KEY_SWEEP_BATCH) return swept;
        await yieldToRequests();
      }
    },
    async ping() {
      try {
        return selectOk.get() !== undefined;
      } catch {
        return false;
      }
    },
    async close() {
      if (db.isOpen) db.close();
    },
  };
}
