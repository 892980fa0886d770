import type pg from 'pg';

/**
 * Ordered schema steps for PostgreSQL, the same tables as sqlite-migrations.ts. Each start
 * applies the missing ones in one transaction that first takes a transaction-scoped advisory
 * lock, so replicas starting together wait for each other and a step never runs twice
 * (CREATE TABLE racing CREATE TABLE would fail on the catalog's unique index instead).
 */
const MIGRATIONS: readonly string[] = [
  // Text ids in byte order ("C"), as SQLite's: UUIDv7s then sort by creation time.
  // lower() under "C" folds ASCII letters only, as SQLite's NOCASE does, whatever the
  // database's own locale is.
  `CREATE TABLE users (
     id         text COLLATE "C" PRIMARY KEY,
     name       text NOT NULL,
     email      text NOT NULL,
     created_at timestamptz NOT NULL
   );
   CREATE UNIQUE INDEX users_email_lower_key ON users (lower(email COLLATE "C"))`,
  // A create's key, what its body looked like and the response it got, committed with the user it made.
  `CREATE TABLE idempotency_keys (
     key         text PRIMARY KEY,
     fingerprint text NOT NULL,
     response    text,
     created_at  timestamptz NOT NULL
   )`,
  // The sweep deletes keys past their TTL by age.
  'CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at)',
];

/** Any constant works: it names this schema's lock among the database's advisory locks. */
const MIGRATION_LOCK = 0x75_73_65_72; // "user"

export const POSTGRES_SCHEMA_STEPS = MIGRATIONS.length;

export async function migratePostgres(pool: pg.Pool): Promise<number> {
  const client = await pool.connect();
  let failed: Error | undefined;
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await client.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const { rows } = await client.query<{ current: number }>(
      'SELECT coalesce(max(version), 0)::int AS current FROM schema_migrations',
    );
    const current = rows[0]?.current ?? 0;
    for (let version = current; version < MIGRATIONS.length; version++) {
      await client.query(MIGRATIONS[version] as string);
      await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [version + 1]);
    }
    await client.query('COMMIT');
    return MIGRATIONS.length - current;
  } catch (error) {
    failed = error as Error;
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    // A connection that failed mid-migration is dropped rather than pooled.
    client.release(failed);
  }
}
