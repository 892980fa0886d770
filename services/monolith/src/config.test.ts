import { resolve } from 'node:path';
import { ConfigError } from '@lab/platform/config';
import { describe, expect, it } from 'vitest';
import { loadMonolithConfig } from './config.ts';

describe('monolith config', () => {
  it('defaults to port 8060 on all interfaces and the users defaults for its data, frozen', () => {
    const config = loadMonolithConfig({});
    expect(config).toMatchObject({
      service: 'monolith',
      port: 8060,
      host: '0.0.0.0',
      dataDir: resolve('./data'),
      busyTimeoutMs: 5000,
      bodyLimitBytes: 16 * 1024,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('gives the mounted apps the same environment: one instance, one DATA_DIR', () => {
    const config = loadMonolithConfig({ INSTANCE_NAME: 'mono-1', DATA_DIR: '/srv/data', DB_BUSY_TIMEOUT_MS: '250' });
    expect(config.hello).toMatchObject({ service: 'hello', instance: 'mono-1' });
    expect(config.users).toMatchObject({
      service: 'users',
      instance: 'mono-1',
      dataDir: '/srv/data',
      busyTimeoutMs: 250,
    });
    expect(config.dataDir).toBe('/srv/data');
  });

  it('rejects a bad PORT or users setting with one line naming the variable', () => {
    const cases = [
      ['PORT', '70000', 'PORT must be an integer from 0 to 65535 (got "70000")'],
      ['DB_BUSY_TIMEOUT_MS', 'soon', 'DB_BUSY_TIMEOUT_MS must be an integer from 0 to 60000 (got "soon")'],
      ['BODY_LIMIT_BYTES', '10', 'BODY_LIMIT_BYTES must be an integer from 1024 to 1048576 (got "10")'],
    ] as const;
    for (const [name, value, message] of cases) {
      let thrown: unknown;
      try {
        loadMonolithConfig({ [name]: value });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ConfigError);
      expect((thrown as ConfigError).message).toBe(message);
    }
  });
});
