import { createHash } from 'node:crypto';
import { ConflictError } from '@lab/platform/problem';

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

/** How long a create's Idempotency-Key is remembered, and by which clock (tests move it). */
export interface KeyLifetime {
  idempotencyKeyTtlMs?: number;
  /** Milliseconds since the epoch; Date.now unless a test moves time. */
  now?: () => number;
}

export const DEFAULT_IDEMPOTENCY_KEY_TTL_HOURS = 24;
export const HOUR_MS = 3_600_000;

/** The TTL and clock a store keys by, defaults filled in. */
export const keyLifetime = ({ idempotencyKeyTtlMs, now }: KeyLifetime) => ({
  ttlMs: idempotencyKeyTtlMs ?? DEFAULT_IDEMPOTENCY_KEY_TTL_HOURS * HOUR_MS,
  now: now ?? Date.now,
});

/** Expired keys the sweep deletes per statement: a short write lock each, never one long one. */
export const KEY_SWEEP_BATCH = 500;

export interface RowCounts {
  users: number;
  idempotencyKeys: number;
}

export interface UserPage {
  items: User[];
  nextCursor: string | null;
}

/**
 * The store behind the routes: SQLite in a file (sqlite-repository.ts) or a PostgreSQL
 * server (postgres-repository.ts), held to the same behaviour by repository-contract.test-suite.ts.
 * Every call is async because a server database answers over the network.
 */
export interface UsersRepository {
  /** OpenTelemetry's db.system.name and db.namespace: what the spans and logs call this store. */
  readonly identity: { system: 'sqlite' | 'postgresql'; namespace: string };
  /** How many schema steps opening this repository applied: 0 when another replica had applied them. */
  readonly migrationsApplied: number;
  list(query: { limit: number; after?: string }): Promise<UserPage>;
  get(id: string): Promise<User | undefined>;
  /** Throws ConflictError when another user has the email, compared ignoring ASCII case. */
  create(input: NewUser): Promise<User>;
  /**
   * Creates at most once per key, the key committed in the same transaction as the user.
   * One key space for every client; a key lives idempotencyKeyTtlMs from its create, then
   * counts as unused. Throws IdempotencyKeyReusedError if the key came with other input, and
   * IdempotencyKeyResourceGoneError if the user it created has been deleted since.
   */
  createOnce(input: NewUser, idempotencyKey: string): Promise<CreateOnceResult>;
  update(id: string, changes: Partial<NewUser>): Promise<User | undefined>;
  remove(id: string): Promise<boolean>;
  counts(): Promise<RowCounts>;
  /** Deletes the keys past their TTL, a batch at a time, and says how many. */
  sweepExpiredKeys(): Promise<number>;
  /** Readiness: resolves false (never throws) when the database cannot answer. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export const duplicateEmail = (email: string | undefined) =>
  new ConflictError(`A user with email ${email ?? ''} already exists`);

/** Same fields, same values: the same request, however its JSON was spelled. */
export const fingerprintOf = ({ name, email }: NewUser): string =>
  createHash('sha256')
    .update(JSON.stringify([name, email]))
    .digest('base64url');

/** Pages are cut by id: UUIDv7s sort by creation time, so "after this id" is a stable cursor. */
export function pageOf(rows: User[], limit: number): UserPage {
  // The stores fetch one extra row: it tells whether another page exists without a COUNT.
  const items = rows.slice(0, limit);
  return { items, nextCursor: rows.length > limit ? (items.at(-1)?.id ?? null) : null };
}
