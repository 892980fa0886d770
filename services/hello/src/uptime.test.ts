import { describe, expect, it } from 'vitest';
import { formatUptime, greeting } from './uptime.ts';

describe('formatUptime', () => {
  it.each([
    [0, '0:00:00'],
    [5, '0:00:05'],
    [59, '0:00:59'],
    [60, '0:01:00'],
    [3723, '1:02:03'],
    [36_000 + 59 * 60 + 59, '10:59:59'],
    [100 * 3600, '100:00:00'],
    [5.99, '0:00:05'],
  ])('%d seconds reads %s', (seconds, expected) => {
    expect(formatUptime(seconds)).toBe(expected);
  });

  it('reads the Flask original greeting, newline included', () => {
    expect(greeting(7)).toBe('Hello World (TypeScript)! (up 0:00:07)\n');
  });
});
