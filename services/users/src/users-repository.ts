import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { ConflictError, IdempotencyKeyReusedError } from '@lab/platform/problem';
import { migrate } from './migrations.ts';
import { uuidV7 } from './uuid-v7.ts';

export interface User {
  id: string;
  name: string;
  email: string;
  createdAt: string;
}

export interface NewUser {
  name: string;
  email: string;
}

export interface CreateOnceResult {
  user: User;
  /** True when the key had been used before and this is the first create's result again. */
  replayed: boolean;
}

export interface RowCounts {
  users: number;
  idempotencyKeys: number;
}

export interface UserPage {
  items: User[];
  nextCursor: string | null;
}

/** The store behind the routes; a server database would be another implementation of this. */
export interface UsersRepository {
  list(query: { limit: number; after?: string }): UserPage;
  get(id: string): User | undefined;
  create(input: NewUser): User;
  /** Creates at most once per key; throws IdempotencyKeyReusedError if the key came with other input. */
  createOnce(input: NewUser, idempotencyKey: string): CreateOnceResult;
  update(id: string, changes: Partial<NewUser>): User | undefined;
  remove(id: string): boolean;
  counts(): RowCounts;
  ping(): boolean;
  close(): void;
}

interface UserRow {
  id: string;
  name: string;
  email: string;
  created_at: string;
}

const toUser = (row: UserRow): User => ({ id: row.id, name: row.name, email: row.email, createdAt: row.created_at });

const SQLITE_CONSTRAINT_UNIQUE = 2067;

function rethrowDuplicateEmail(error: unknown, email: string | undefined): never {
  if ((error as { errcode?: number }).errcode === SQLITE_CONSTRAINT_UNIQUE) {
    throw new ConflictError(`A user with email ${email ?? ''} already exists`);
  }
  throw error;
}

/** Same fields, same values: the same request, however its JSON was spelled. */
const fingerprintOf = ({ name, email }: NewUser): string =>
  createHash('sha256')
    .update(JSON.stringify([name, email]))
    .digest('base64url');

export interface SqliteOptions {
  dataDir: string;
  busyTimeoutMs: number;
}

export const DATABASE_FILE = 'users.db';

export function createSqliteUsersRepository({ dataDir, busyTimeoutMs }: SqliteOptions): UsersRepository {
  mkdirSync(dataDir, { recursive: true });
  const db = new DatabaseSync(join(dataDir, DATABASE_FILE), { timeout: busyTimeoutMs });
  // WAL lets replicas read while one writes; FULL fsyncs every commit, so an
  // acknowledged write survives a SIGKILL or power loss.
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;');
  migrate(db);

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
    list({ limit, after = '' }) {
      // One extra row tells whether another page exists without a COUNT.
      const rows = selectPage.all(after, limit + 1) as unknown as UserRow[];
      const items = rows.slice(0, limit).map(toUser);
      return { items, nextCursor: rows.length > limit ? (items.at(-1)?.id ?? null) : null };
    },
    get(id) {
      const row = selectOne.get(id) as UserRow | undefined;
      return row && toUser(row);
    },
    create: insertUser,
    createOnce(input, idempotencyKey) {
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
    update(id, { name, email }) {
      try {
        const row = updateOne.get(name ?? null, email ?? null, id) as UserRow | undefined;
        return row && toUser(row);
      } catch (error) {
        rethrowDuplicateEmail(error, email);
      }
    },
    remove(id) {
      return Number(deleteOne.run(id).changes) > 0;
    },
    counts() {
      const { users, idempotencyKeys } = countRows.get() as { users: number; idempotencyKeys: number };
      return { users, idempotencyKeys };
    },
    ping() {
      return db.prepare('SELECT 1 AS ok').get() !== undefined;
    },
    close() {
      if (db.isOpen) db.close();
    },
  };
}
