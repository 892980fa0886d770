import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@lab/platform/config';
import { describe, expect, it } from 'vitest';
import { loadHelloConfig } from './config.ts';

describe('hello config', () => {
  it('defaults to port 8070 on all interfaces, frozen', () => {
    const config = loadHelloConfig({});
    expect(config.port).toBe(8070);
    expect(config.host).toBe('0.0.0.0');
    expect(Object.isFrozen(config)).toBe(true);
  });

  it.each([
    ['PORT', 'eighty', 'PORT must be an integer from 0 to 65535 (got "eighty")'],
    ['PORT', '70000', 'PORT must be an integer from 0 to 65535 (got "70000")'],
    ['LOG_LEVEL', 'loud', 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "loud")'],
  ])('rejects %s=%s with one line naming it', (name, value, message) => {
    expect(() => loadHelloConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadHelloConfig({ [name]: value })).toThrow(message);
  });

  it('stops the real process at start with exit 78 and a single stderr line', () => {
    const main = fileURLToPath(new URL('./main.ts', import.meta.url));
    const result = spawnSync(process.execPath, [main], { env: { PORT: 'abc' }, encoding: 'utf8', timeout: 10_000 });
    expect(result.status).toBe(78);
    expect(result.stderr).toBe('configuration error: PORT must be an integer from 0 to 65535 (got "abc")\n');
    expect(result.stdout).toBe('');
  });
});
