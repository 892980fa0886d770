import { describe, expect, it } from 'vitest';
import { ConfigReader, parseConfig, readServiceSettings } from './config.js';

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
