import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, ConfigReader, parseConfig, readServiceSettings } from './config.js';

describe('ConfigReader', () => {
  it('uses defaults for unset and blank variables', () => {
    const read = new ConfigReader({ BLANK: '  ' });
    expect(read.integer('BLANK', 7)).toBe(7);
    expect(read.string('UNSET', 'x')).toBe('x');
  });

  it('requires a string without default, naming the variable', () => {
    expect(() => new ConfigReader({}).string('DATABASE_URL')).toThrow('DATABASE_URL is required');
  });

  it('parses booleans strictly', () => {
    const read = new ConfigReader({ A: 'yes', B: 'off', C: 'maybe' });
    expect(read.boolean('A', false)).toBe(true);
    expect(read.boolean('B', true)).toBe(false);
    expect(() => read.boolean('C', true)).toThrow('C must be true or false (got "maybe")');
  });

  it('rejects fractional and out-of-range integers', () => {
    const read = new ConfigReader({ F: '1.5', BIG: '99' });
    expect(() => read.integer('F', 1)).toThrow('F must be an integer');
    expect(() => read.integer('BIG', 1, { min: 0, max: 10 })).toThrow('BIG must be an integer from 0 to 10 (got "99")');
  });

  it('normalises URLs without a trailing slash', () => {
    expect(new ConfigReader({ U: 'http://users:8090/' }).httpUrl('U', 'http://x')).toBe('http://users:8090');
  });

  it('freezes the parsed object', () => {
    const config = parseConfig({}, (read) => ({ port: read.port('PORT', 1) }));
    expect(Object.isFrozen(config)).toBe(true);
  });
});

describe('ConfigReader.secret: NAME or the file NAME_FILE names', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lab-config-secret-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const SECRET = 'postgres://app:pa55-w0rd@db:5432/users';
  const file = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };
  const thrown = (read: () => unknown) => {
    try {
      read();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as Error).message;
    }
    throw new Error('expected a ConfigError');
  };

  it('#21 finding 18: reads the file NAME_FILE names, without its trailing newline', () => {
    for (const content of [SECRET, `${SECRET}\n`, `${SECRET}\r\n`]) {
      const read = new ConfigReader({ DATABASE_URL_FILE: file('url', content) });
      expect(read.secret('DATABASE_URL')).toBe(SECRET);
    }
    expect(new ConfigReader({ DATABASE_URL: SECRET }).secret('DATABASE_URL')).toBe(SECRET);
    expect(new ConfigReader({ DATABASE_URL_FILE: ' ' }).secret('DATABASE_URL', 'fallback')).toBe('fallback');
    expect(() => new ConfigReader({}).secret('DATABASE_URL')).toThrow('DATABASE_URL is required');
  });

  it('#21 finding 18: refuses NAME and NAME_FILE together, naming both', () => {
    const read = new ConfigReader({ DATABASE_URL: SECRET, DATABASE_URL_FILE: file('both', SECRET) });
    const message = thrown(() => read.secret('DATABASE_URL'));
    expect(message).toBe('DATABASE_URL and DATABASE_URL_FILE are both set; set one of them');
  });

  it('#21 finding 18: stops on a missing, unreadable or empty file with one line naming NAME_FILE and the path', () => {
    const missing = join(dir, 'missing');
    expect(thrown(() => new ConfigReader({ DATABASE_URL_FILE: missing }).secret('DATABASE_URL'))).toBe(
      `DATABASE_URL_FILE names a file that cannot be read (ENOENT) (got ${JSON.stringify(missing)})`,
    );
    expect(thrown(() => new ConfigReader({ DATABASE_URL_FILE: dir }).secret('DATABASE_URL'))).toMatch(
      /^DATABASE_URL_FILE names a file that cannot be read \(EISDIR\)/,
    );
    const unreadable = file('unreadable', SECRET);
    chmodSync(unreadable, 0o000);
    // root reads a file whatever its mode: the case holds only for other users.
    if (process.getuid?.() !== 0) {
      expect(thrown(() => new ConfigReader({ DATABASE_URL_FILE: unreadable }).secret('DATABASE_URL'))).toMatch(
        /^DATABASE_URL_FILE names a file that cannot be read \(EACCES\)/,
      );
    }
    const empty = file('empty', '\n');
    expect(thrown(() => new ConfigReader({ DATABASE_URL_FILE: empty }).secret('DATABASE_URL'))).toBe(
      `DATABASE_URL_FILE names an empty file (got ${JSON.stringify(empty)})`,
    );
  });

  it('#21 finding 18: never shows the content of the file in an error, whatever the parser says', () => {
    // A password file named by mistake: the parser's "got" would print the password itself.
    const password = file('password', 'hunter2-not-a-url\n');
    const parse = (value: string) => {
      if (!value.startsWith('postgres://')) throw new ConfigError('DATABASE_URL', 'must be a postgres:// URL', value);
      return value;
    };
    const message = thrown(() => new ConfigReader({ DATABASE_URL_FILE: password }).secret('DATABASE_URL', '', parse));
    expect(message).toBe(
      `DATABASE_URL_FILE holds a DATABASE_URL that must be a postgres:// URL (got ${JSON.stringify(password)})`,
    );
    expect(message).not.toContain('hunter2');
    expect(new ConfigReader({ DATABASE_URL_FILE: file('ok', SECRET) }).secret('DATABASE_URL', '', parse)).toBe(SECRET);
    // From the environment, the parser's own message stands, as for any other setting.
    expect(() => new ConfigReader({ DATABASE_URL: 'nope' }).secret('DATABASE_URL', '', parse)).toThrow(
      'DATABASE_URL must be a postgres:// URL (got "nope")',
    );
  });
});

describe('lab fault settings', () => {
  const settings = (env: Record<string, string>) =>
    parseConfig(env, (read) => readServiceSettings(read, { service: 'svc', port: 8080, version: '1.0.0' }));

  it('are off by default, with the lab port on 8099', () => {
    expect(settings({})).toMatchObject({ labFaults: false, labFaultsPort: 8099 });
  });

  it('turn on with LAB_FAULTS and take LAB_FAULTS_PORT', () => {
    expect(settings({ LAB_FAULTS: 'on', LAB_FAULTS_PORT: '9099' })).toMatchObject({
      labFaults: true,
      labFaultsPort: 9099,
    });
    expect(settings({ LAB_FAULTS: 'true', LAB_FAULTS_PORT: '0' })).toMatchObject({ labFaults: true, labFaultsPort: 0 });
  });

  it('stop the start with one line naming a bad variable', () => {
    expect(() => settings({ LAB_FAULTS: 'sometimes' })).toThrow('LAB_FAULTS must be true or false (got "sometimes")');
    expect(() => settings({ LAB_FAULTS_PORT: '70000' })).toThrow(
      'LAB_FAULTS_PORT must be an integer from 0 to 65535 (got "70000")',
    );
    expect(() => settings({ LAB_FAULTS: 'on', LAB_FAULTS_PORT: '8080' })).toThrow(
      'LAB_FAULTS_PORT must differ from PORT (8080) (got "8080")',
    );
  });

  it('let the lab port equal PORT while LAB_FAULTS is off, since nothing listens on it', () => {
    expect(settings({ LAB_FAULTS_PORT: '8080' }).labFaultsPort).toBe(8080);
  });
});
