import type { DatabaseSync } from 'node:sqlite';

/**
 * Ordered schema steps; `PRAGMA user_version` records how many have run. Each
 * start applies the missing ones inside one IMMEDIATE transaction, so replicas
 * starting together serialise on the write lock and a step never runs twice.
 */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE users (
     id         TEXT PRIMARY KEY,
     name       TEXT NOT NULL,
     email      TEXT NOT NULL COLLATE NOCASE UNIQUE,
     created_at TEXT NOT NULL
   ) STRICT`,
  // A create's key, what its body looked like and the response it got, committed with the user it made.
  `CREATE TABLE idempotency_keys (
     key         TEXT PRIMARY KEY,
     fingerprint TEXT NOT NULL,
     response    TEXT NOT NULL,
     created_at  TEXT NOT NULL
   ) STRICT`,
  // The sweep deletes keys past their TTL by age.
  'CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at)',
];

export function migrate(db: DatabaseSync): number {
  db.exec('BEGIN IMMEDIATE');
  try {
    const { user_version: current } = db.prepare('PRAGMA user_version').get() as { user_version: number };
    for (let version = current; version < MIGRATIONS.length; version++) {
      db.exec(MIGRATIONS[version] as string);
    }
    db.exec(`PRAGMA user_version = ${MIGRATIONS.length}`);
    db.exec('COMMIT');
    return MIGRATIONS.length - current;
  } catch (error) {
    db.exec('ROLLBACK');
    throw error;
  }
}
