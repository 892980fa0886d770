import { ConfigError } from '@lab/platform/config';
import { describe, expect, it } from 'vitest';
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

  it('bounds the pool and the timeouts', () => {
    expect(() => loadUsersConfig({ DB_POOL_SIZE: '0' })).toThrow('DB_POOL_SIZE must be an integer from 1 to 100');
    expect(() => loadUsersConfig({ DB_CONNECT_TIMEOUT_MS: 'soon' })).toThrow(
      'DB_CONNECT_TIMEOUT_MS must be an integer',
    );
  });
});
