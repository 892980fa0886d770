import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
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

  it.each([
    ['PORT', '70000', 'PORT must be an integer from 0 to 65535 (got "70000")'],
    ['DB_BUSY_TIMEOUT_MS', 'soon', 'DB_BUSY_TIMEOUT_MS must be an integer from 0 to 60000 (got "soon")'],
    ['BODY_LIMIT_BYTES', '10', 'BODY_LIMIT_BYTES must be an integer from 1024 to 1048576 (got "10")'],
  ])('rejects %s=%s with one line naming it', (name, value, message) => {
    expect(() => loadMonolithConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadMonolithConfig({ [name]: value })).toThrow(message);
  });

  it('stops the real process at start with exit 78 and a single stderr line', () => {
    const main = fileURLToPath(new URL('./main.ts', import.meta.url));
    const result = spawnSync(process.execPath, [main], { env: { PORT: 'abc' }, encoding: 'utf8', timeout: 10_000 });
    expect(result.status).toBe(78);
    expect(result.stderr).toBe('configuration error: PORT must be an integer from 0 to 65535 (got "abc")\n');
    expect(result.stdout).toBe('');
  });
});
