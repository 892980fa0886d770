import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { IdempotencyKeyReusedError } from '@lab/platform/problem';
import { migrate } from './sqlite-migrations.ts';
import {
  duplicateEmail,
  fingerprintOf,
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

function rethrowDuplicateEmail(error: unknown, email: string | undefined): never {
  if ((error as { errcode?: number }).errcode === SQLITE_CONSTRAINT_UNIQUE) throw duplicateEmail(email);
  throw error;
}

export interface SqliteOptions {
  dataDir: string;
  busyTimeoutMs: number;
}

export const DATABASE_FILE = 'users.db';

/**
 * Users in one SQLite file on DATA_DIR: right for every replica on one host sharing a
 * volume. node:sqlite is synchronous; the methods are async only to share the interface.
 */
export function createSqliteUsersRepository({ dataDir, busyTimeoutMs }: SqliteOptions): UsersRepository {
  mkdirSync(dataDir, { recursive: true });
  const db = new DatabaseSync(join(dataDir, DATABASE_FILE), { timeout: busyTimeoutMs });
  // WAL lets replicas read while one writes; FULL fsyncs every commit, so an
  // acknowledged write survives a SIGKILL or power loss.
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;');
  const migrationsApplied = migrate(db);

  const selectPage = db.prepare('SELECT * FROM users WHERE id > ? ORDER BY id LIMIT ?');
  const selectOne = db.prepare('SELECT * FROM users WHERE id = ?');
  const insert = db.prepare('INSERT INTO users (id, name, email, created_at) VALUES (?, ?, ?, ?) RETURNING *');
  const updateOne = db.prepare(
    'UPDATE users SET name = coalesce(?, name), email = coalesce(?, email) WHERE id = ? RETURNING *',
  );
  const deleteOne = db.prepare('DELETE FROM users WHERE id = ?');
  const selectKey = db.prepare('SELECT fingerprint, response FROM idempotency_keys WHERE key = ?');
  const insertKey = db.prepare(
    'INSERT INTO idempotency_keys (key, fingerprint, response, created_at) VALUES (?, ?, ?, ?)',
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
      return pageOf((selectPage.all(after, limit + 1) as unknown as UserRow[]).map(toUser), limit);
    },
    async get(id) {
      const row = selectOne.get(id) as UserRow | undefined;
      return row && toUser(row);
    },
    async create(input) {
      return insertUser(input);
    },
    async createOnce(input, idempotencyKey) {
      const fingerprint = fingerprintOf(input);
      return inWriteTransaction(() => {
        const earlier = selectKey.get(idempotencyKey) as { fingerprint: string; response: string } | undefined;
        if (earlier) {
          if (earlier.fingerprint !== fingerprint) throw new IdempotencyKeyReusedError();
          return { user: JSON.parse(earlier.response) as User, replayed: true };
        }
        const user = insertUser(input);
        insertKey.run(idempotencyKey, fingerprint, JSON.stringify(user), user.createdAt);
        return { user, replayed: false };
      });
    },
    async update(id, { name, email }) {
      try {
        const row = updateOne.get(name ?? null, email ?? null, id) as UserRow | undefined;
        return row && toUser(row);
      } catch (error) {
        rethrowDuplicateEmail(error, email);
      }
    },
    async remove(id) {
      return Number(deleteOne.run(id).changes) > 0;
    },
    async counts() {
      const { users, idempotencyKeys } = countRows.get() as { users: number; idempotencyKeys: number };
      return { users, idempotencyKeys };
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
