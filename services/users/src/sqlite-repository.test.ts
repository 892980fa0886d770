import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { DatabaseUnavailableError } from '@lab/platform/problem';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeRepositoryContract } from './repository-contract.test-suite.ts';
import { createSqliteUsersRepository, DATABASE_FILE } from './sqlite-repository.ts';
import type { UsersRepository } from './users-repository.ts';

// Replicas here are connections to one file, as containers sharing a volume are.
describeRepositoryContract('SQLite', {
  async fresh() {
    const dataDir = mkdtempSync(join(tmpdir(), 'users-contract-'));
    return {
      open: async (lifetime) => createSqliteUsersRepository({ dataDir, busyTimeoutMs: 5000, ...lifetime }),
      dispose: async () => rmSync(dataDir, { recursive: true, force: true }),
    };
  },
});

/** Every gap between the ticks of a 10 ms interval, until stop(): how long the event loop was held. */
function watchEventLoop() {
  const gaps: number[] = [];
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    gaps.push(now - last);
    last = now;
  }, 10);
  return {
    stop() {
      clearInterval(timer);
      return { ticks: gaps.length, longestGapMs: Math.max(...gaps) };
    },
  };
}

describe("SQLite under another replica's write lock", () => {
  let dataDir: string;
  let users: UsersRepository | undefined;
  let otherReplica: DatabaseSync | undefined;
  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'users-lock-'));
  });
  afterEach(async () => {
    if (otherReplica?.isTransaction) otherReplica.exec('ROLLBACK');
    otherReplica?.close();
    await users?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** This replica's repository, and another connection to its file holding the write lock (BEGIN IMMEDIATE). */
  const lockedOut = (busyTimeoutMs: number) => {
    users = createSqliteUsersRepository({ dataDir, busyTimeoutMs });
    otherReplica = new DatabaseSync(join(dataDir, DATABASE_FILE));
    otherReplica.exec('BEGIN IMMEDIATE');
    return { users, otherReplica };
  };

  it('#21 finding 11: a write waits for the lock with the event loop free, and completes once it is released', async () => {
    const { users, otherReplica } = lockedOut(5000);
    const loop = watchEventLoop();
    const startedAt = performance.now();
    const writes = Promise.all([
      users.create({ name: 'Waiting', email: 'waiting@example.org' }),
      users.createOnce({ name: 'Keyed', email: 'keyed@example.org' }, 'key-lock'),
    ]);
    setTimeout(() => otherReplica.exec('COMMIT'), 300);
    const [created, { user: keyed }] = await writes;
    const waitedMs = performance.now() - startedAt;
    const { ticks, longestGapMs } = loop.stop();
    expect(waitedMs).toBeGreaterThanOrEqual(290);
    expect(waitedMs).toBeLessThan(1000);
    expect(ticks).toBeGreaterThanOrEqual(15);
    expect(longestGapMs).toBeLessThan(100);
    expect(await users.get(created.id)).toEqual(created);
    expect(await users.get(keyed.id)).toEqual(keyed);
  });

  it('#21 finding 11: a write still locked out after DB_BUSY_TIMEOUT_MS fails as 503 DATABASE_UNAVAILABLE, the loop free all along', async () => {
    const { users } = lockedOut(400);
    const loop = watchEventLoop();
    const startedAt = performance.now();
    const write = users.create({ name: 'Too late', email: 'late@example.org' });
    await expect(write).rejects.toBeInstanceOf(DatabaseUnavailableError);
    await expect(write).rejects.toMatchObject({ status: 503, code: 'DATABASE_UNAVAILABLE' });
    const waitedMs = performance.now() - startedAt;
    const { ticks, longestGapMs } = loop.stop();
    expect(waitedMs).toBeGreaterThanOrEqual(390);
    expect(waitedMs).toBeLessThan(1500);
    expect(ticks).toBeGreaterThanOrEqual(20);
    expect(longestGapMs).toBeLessThan(100);
    otherReplica?.exec('ROLLBACK');
    expect(await users.counts()).toEqual({ users: 0, idempotencyKeys: 0 });
  });
});
