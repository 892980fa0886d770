import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@lab/platform/config';
import { afterAll, describe, expect, it } from 'vitest';
import { describeUsersStore, loadUsersConfig } from './config.ts';

describe('users configuration: where users live', () => {
  it('keeps SQLite in DATA_DIR when DATABASE_URL is unset or empty', () => {
    for (const env of [{}, { DATABASE_URL: '' }]) {
      const config = loadUsersConfig({ ...env, DATA_DIR: '/srv/data' });
      expect(config.databaseUrl).toBeUndefined();
      expect(describeUsersStore(config)).toEqual({ database: 'sqlite /srv/data/users.db' });
    }
  });

  it('takes a postgres:// URL, and shows it with the password redacted', () => {
    const config = loadUsersConfig({ DATABASE_URL: 'postgres://lab:s3cret@db.internal:5433/users' });
    expect(config.databaseUrl).toBe('postgres://lab:s3cret@db.internal:5433/users');
    expect(describeUsersStore(config)).toEqual({ database: 'postgres://lab:***@db.internal:5433/users' });
  });

  it.each([
    ['mysql://lab:s3cret@db/users', 'mysql://lab:***@db/users'],
    ['postgres://lab:s3cret@/users', 'postgres://lab:***@/users'],
    ['postgres://lab:s3cret@db', 'postgres://lab:***@db'],
    ['lab:s3cret@db/users', 'lab:***@db/users'],
    ['postgres://lab:s3c@ret@/users', 'postgres://lab:***@/users'],
  ])('refuses %s with one line naming DATABASE_URL', (raw, shown) => {
    const load = () => loadUsersConfig({ DATABASE_URL: raw });
    expect(load).toThrow(ConfigError);
    expect(load).toThrow(
      `DATABASE_URL must be a postgres://user:password@host:port/database URL (got ${JSON.stringify(shown)})`,
    );
  });

  describe('DATABASE_URL_FILE', () => {
    const dir = mkdtempSync(join(tmpdir(), 'users-config-'));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    const secretFile = (content: string) => {
      const path = join(dir, `secret-${Math.random().toString(36).slice(2)}`);
      writeFileSync(path, content);
      return path;
    };

    it('#21 finding 18: takes the URL from the file a docker or Kubernetes secret mounts', () => {
      const config = loadUsersConfig({ DATABASE_URL_FILE: secretFile('postgres://app:s3cret@db:5432/users\n') });
      expect(config.databaseUrl).toBe('postgres://app:s3cret@db:5432/users');
      expect(describeUsersStore(config)).toEqual({ database: 'postgres://app:***@db:5432/users' });
    });

    it('#21 finding 18: refuses it beside DATABASE_URL, or naming a file that holds no URL, without showing the file', () => {
      const path = secretFile('postgres://app:s3cret@db:5432/users');
      expect(() =>
        loadUsersConfig({ DATABASE_URL: 'postgres://app:other@db:5432/users', DATABASE_URL_FILE: path }),
      ).toThrow('DATABASE_URL and DATABASE_URL_FILE are both set; set one of them');
      const password = secretFile('s3cret\n');
      const load = () => loadUsersConfig({ DATABASE_URL_FILE: password });
      expect(load).toThrow(ConfigError);
      expect(load).toThrow(
        `DATABASE_URL_FILE holds a DATABASE_URL that must be a postgres://user:password@host:port/database URL (got ${JSON.stringify(password)})`,
      );
      expect(() => loadUsersConfig({ DATABASE_URL_FILE: join(dir, 'missing') })).toThrow(
        /^DATABASE_URL_FILE names a file that cannot be read \(ENOENT\)/,
      );
    });
  });

  it('bounds the pool and the timeouts', () => {
    expect(() => loadUsersConfig({ DB_POOL_SIZE: '0' })).toThrow('DB_POOL_SIZE must be an integer from 1 to 100');
    expect(() => loadUsersConfig({ DB_CONNECT_TIMEOUT_MS: 'soon' })).toThrow(
      'DB_CONNECT_TIMEOUT_MS must be an integer',
    );
  });
});

describe('users configuration: how long an Idempotency-Key lives', () => {
  it('#21 finding 10: IDEMPOTENCY_KEY_TTL_HOURS, 24 by default, from 1 to 720, a bad value one line naming it', () => {
    expect(loadUsersConfig({}).idempotencyKeyTtlMs).toBe(24 * 3_600_000);
    expect(loadUsersConfig({ IDEMPOTENCY_KEY_TTL_HOURS: '1' }).idempotencyKeyTtlMs).toBe(3_600_000);
    expect(loadUsersConfig({ IDEMPOTENCY_KEY_TTL_HOURS: '720' }).idempotencyKeyTtlMs).toBe(720 * 3_600_000);
    for (const raw of ['0', '721', '1.5', 'a day']) {
      const load = () => loadUsersConfig({ IDEMPOTENCY_KEY_TTL_HOURS: raw });
      expect(load).toThrow(ConfigError);
      expect(load).toThrow(`IDEMPOTENCY_KEY_TTL_HOURS must be an integer from 1 to 720 (got ${JSON.stringify(raw)})`);
    }
  });
});
