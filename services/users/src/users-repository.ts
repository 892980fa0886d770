import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { ConflictError } from '@lab/platform/problem';
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

export interface UserPage {
  items: User[];
  nextCursor: string | null;
}

/** The store behind the routes; a server database would be another implementation of this. */
export interface UsersRepository {
  list(query: { limit: number; after?: string }): UserPage;
  get(id: string): User | undefined;
  create(input: NewUser): User;
  update(id: string, changes: Partial<NewUser>): User | undefined;
  remove(id: string): boolean;
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
    create({ name, email }) {
      try {
        return toUser(insert.get(uuidV7(), name, email, new Date().toISOString()) as unknown as UserRow);
      } catch (error) {
        rethrowDuplicateEmail(error, email);
      }
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
    ping() {
      return db.prepare('SELECT 1 AS ok').get() !== undefined;
    },
    close() {
      if (db.isOpen) db.close();
    },
  };
}
