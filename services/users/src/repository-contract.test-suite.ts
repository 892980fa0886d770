// One behaviour, two stores: this suite runs against SQLite (sqlite-repository.test.ts)
// and against a real PostgreSQL server (tests/containers, users-postgres.test.ts).
import { ConflictError, IdempotencyKeyResourceGoneError, IdempotencyKeyReusedError } from '@lab/platform/problem';
import { afterEach, describe, expect, it } from 'vitest';
import type { KeyLifetime, NewUser, User, UsersRepository } from './users-repository.ts';

/**
 * A new, empty database. open() may be called again and again: replicas, or one replica restarted.
 * The store passes `lifetime` to the repository as it is: the tests set the TTL and move the clock.
 */
export interface ContractDatabase {
  open(lifetime?: KeyLifetime): Promise<UsersRepository>;
  dispose(): Promise<void>;
}

export interface ContractStore {
  fresh(): Promise<ContractDatabase>;
}

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

const person = (n: number | string): NewUser => ({ name: `Person ${n}`, email: `person${n}@example.org` });

export function describeRepositoryContract(storeName: string, store: ContractStore) {
  describe(`the users repository contract on ${storeName}`, () => {
    const cleanups: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    /** A fresh database; every repository opened on it is closed, and the database removed, after the test. */
    const database = async () => {
      const db = await store.fresh();
      cleanups.push(() => db.dispose());
      return {
        open: async (lifetime?: KeyLifetime) => {
          const repository = await db.open(lifetime);
          cleanups.push(() => repository.close());
          return repository;
        },
      };
    };

    it('creates users with UUIDv7 ids that sort in creation order, and reads each back as created', async () => {
      const users = await (await database()).open();
      const created: User[] = [];
      for (let n = 0; n < 5; n++) created.push(await users.create(person(n)));
      for (const user of created) {
        expect(user.id).toMatch(UUID_V7);
        expect(user.createdAt).toMatch(ISO_INSTANT);
        expect(await users.get(user.id)).toEqual(user);
      }
      expect(created.map((u) => u.id)).toEqual(created.map((u) => u.id).toSorted());
      expect(await users.get('018f0000-0000-7000-8000-000000000000')).toBeUndefined();
      expect(await users.counts()).toEqual({ users: 5, idempotencyKeys: 0 });
    });

    it('refuses an email another user has, in any ASCII case, on create and on update (409)', async () => {
      const users = await (await database()).open();
      await users.create({ name: 'Ada', email: 'Ada@Example.org' });
      const bob = await users.create({ name: 'Bob', email: 'bob@example.org' });
      const twice = users.create({ name: 'Ada again', email: 'ada@EXAMPLE.ORG' });
      await expect(twice).rejects.toBeInstanceOf(ConflictError);
      await expect(twice).rejects.toMatchObject({ status: 409 });
      await expect(users.update(bob.id, { email: 'ADA@example.org' })).rejects.toBeInstanceOf(ConflictError);
      expect(await users.get(bob.id)).toEqual(bob);
      // Changing one's own email's case is no conflict.
      expect(await users.update(bob.id, { email: 'Bob@Example.org' })).toMatchObject({ email: 'Bob@Example.org' });
      expect((await users.counts()).users).toBe(2);
    });

    it('pages by cursor: every user exactly once, in id order, the last page without a cursor', async () => {
      const users = await (await database()).open();
      const ids: string[] = [];
      for (let n = 0; n < 7; n++) ids.push((await users.create(person(n))).id);
      const seen: string[] = [];
      const sizes: number[] = [];
      let after: string | undefined;
      do {
        const page = await users.list({ limit: 3, ...(after ? { after } : {}) });
        sizes.push(page.items.length);
        seen.push(...page.items.map((u) => u.id));
        after = page.nextCursor ?? undefined;
      } while (after);
      expect(sizes).toEqual([3, 3, 1]);
      expect(seen).toEqual(ids);
      expect(await users.list({ limit: 7 })).toMatchObject({ nextCursor: null });
      expect(await users.list({ limit: 3, after: ids.at(-1) as string })).toEqual({ items: [], nextCursor: null });
    });

    it('updates the fields given, keeps the others, and deletes once', async () => {
      const users = await (await database()).open();
      const grace = await users.create({ name: 'Grace', email: 'grace@example.org' });
      expect(await users.update(grace.id, { name: 'Grace Hopper' })).toEqual({ ...grace, name: 'Grace Hopper' });
      expect(await users.update('018f0000-0000-7000-8000-000000000000', { name: 'Nobody' })).toBeUndefined();
      expect(await users.remove(grace.id)).toBe(true);
      expect(await users.remove(grace.id)).toBe(false);
      expect(await users.get(grace.id)).toBeUndefined();
    });

    it('replays a create by its Idempotency-Key on another replica and after a restart', async () => {
      const db = await database();
      const [replicaA, replicaB] = [await db.open(), await db.open()];
      const first = await replicaA.createOnce(person('k'), 'key-1');
      expect(first.replayed).toBe(false);
      expect(await replicaB.createOnce(person('k'), 'key-1')).toEqual({ user: first.user, replayed: true });
      await replicaA.close();
      await replicaB.close();
      const restarted = await db.open();
      expect(await restarted.createOnce(person('k'), 'key-1')).toEqual({ user: first.user, replayed: true });
      expect(await restarted.counts()).toEqual({ users: 1, idempotencyKeys: 1 });
    });

    it('refuses a key reused with another body, and creates nothing', async () => {
      const users = await (await database()).open();
      await users.createOnce(person(1), 'key-1');
      await expect(users.createOnce(person(2), 'key-1')).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
      expect(await users.counts()).toEqual({ users: 1, idempotencyKeys: 1 });
    });

    it('stores a key only with the user it made: a create refused as a duplicate leaves the key free', async () => {
      const users = await (await database()).open();
      await users.create({ name: 'Ada', email: 'ada@example.org' });
      await expect(users.createOnce({ name: 'Ada 2', email: 'ADA@example.org' }, 'key-2')).rejects.toBeInstanceOf(
        ConflictError,
      );
      expect(await users.counts()).toEqual({ users: 1, idempotencyKeys: 0 });
      const retried = await users.createOnce({ name: 'Ada 2', email: 'ada2@example.org' }, 'key-2');
      expect(retried.replayed).toBe(false);
      expect(await users.counts()).toEqual({ users: 2, idempotencyKeys: 1 });
    });

    it('makes one user from concurrent creates with one key sent to three replicas', async () => {
      const db = await database();
      const replicas = [await db.open(), await db.open(), await db.open()];
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, n) => (replicas[n % 3] as UsersRepository).createOnce(person('c'), 'key-c')),
      );
      expect(new Set(results.map((r) => r.user.id)).size).toBe(1);
      expect(results.filter((r) => !r.replayed)).toHaveLength(1);
      expect(await (replicas[0] as UsersRepository).counts()).toEqual({ users: 1, idempotencyKeys: 1 });
    });

    it('applies the schema exactly once when four replicas start at the same moment', async () => {
      const db = await database();
      const replicas = await Promise.all([db.open(), db.open(), db.open(), db.open()]);
      const applied = replicas.map((r) => r.migrationsApplied).toSorted();
      expect(applied.slice(0, 3)).toEqual([0, 0, 0]);
      expect(applied[3]).toBeGreaterThanOrEqual(2);
      await Promise.all(replicas.map((r, n) => r.create(person(n))));
      expect((await (await db.open()).counts()).users).toBe(4);
      expect((await db.open()).migrationsApplied).toBe(0);
    });

    /** A clock the test moves: keys are stamped and expired by it, no test waits for a TTL. */
    const movableClock = () => {
      let now = Date.parse('2030-01-01T00:00:00.000Z');
      return { now: () => now, advance: (ms: number) => (now += ms) };
    };
    const DAY_MS = 24 * 3_600_000;

    it('#21 finding 10: a key expires after its TTL, on every replica: the same key then creates anew, even with another body', async () => {
      const db = await database();
      const clock = movableClock();
      const lifetime = { idempotencyKeyTtlMs: DAY_MS, now: clock.now };
      const [replicaA, replicaB] = [await db.open(lifetime), await db.open(lifetime)];
      const first = await replicaA.createOnce(person('t1'), 'key-ttl');
      clock.advance(DAY_MS - 1);
      expect(await replicaB.createOnce(person('t1'), 'key-ttl')).toEqual({ user: first.user, replayed: true });
      await expect(replicaB.createOnce(person('t2'), 'key-ttl')).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
      clock.advance(1);
      const anew = await replicaB.createOnce(person('t2'), 'key-ttl');
      expect(anew.replayed).toBe(false);
      expect(anew.user.id).not.toBe(first.user.id);
      // The key is the new create's now, for a whole TTL again.
      clock.advance(DAY_MS - 1);
      expect(await replicaA.createOnce(person('t2'), 'key-ttl')).toEqual({ user: anew.user, replayed: true });
      expect(await replicaA.counts()).toEqual({ users: 2, idempotencyKeys: 1 });
    });

    it('#21 finding 10: the sweep deletes the keys past their TTL, and only those', async () => {
      const clock = movableClock();
      const users = await (await database()).open({ idempotencyKeyTtlMs: DAY_MS, now: clock.now });
      expect(await users.sweepExpiredKeys()).toBe(0);
      for (let n = 0; n < 3; n++) await users.createOnce(person(`old${n}`), `old-${n}`);
      clock.advance(DAY_MS / 2);
      const young = await users.createOnce(person('young'), 'young');
      clock.advance(DAY_MS / 2);
      expect(await users.counts()).toEqual({ users: 4, idempotencyKeys: 4 });
      expect(await users.sweepExpiredKeys()).toBe(3);
      expect(await users.counts()).toEqual({ users: 4, idempotencyKeys: 1 });
      expect(await users.createOnce(person('young'), 'young')).toEqual({ user: young.user, replayed: true });
      expect(await users.sweepExpiredKeys()).toBe(0);
    });

    it('#21 finding 10: a key whose user was deleted since is not replayed as a 201 (410), nor creates again', async () => {
      const db = await database();
      const [replicaA, replicaB] = [await db.open(), await db.open()];
      const { user } = await replicaA.createOnce(person('gone'), 'key-gone');
      expect(await replicaA.remove(user.id)).toBe(true);
      const replay = replicaB.createOnce(person('gone'), 'key-gone');
      await expect(replay).rejects.toBeInstanceOf(IdempotencyKeyResourceGoneError);
      await expect(replay).rejects.toMatchObject({ status: 410 });
      await expect(replicaB.createOnce(person('other'), 'key-gone')).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
      expect(await replicaB.counts()).toEqual({ users: 0, idempotencyKeys: 1 });
    });

    it('closes: later calls fail and ping says not ready', async () => {
      const users = await (await database()).open();
      expect(await users.ping()).toBe(true);
      await users.close();
      expect(await users.ping()).toBe(false);
      await expect(users.list({ limit: 1 })).rejects.toThrow();
    });
  });
}
