import { describe, expect, it } from 'vitest';
import { errorPercentAttribute, faultBadge, formatMs, scaleCommandFor, shortId } from './format.ts';

describe('format', () => {
  it('shortens container ids to the 12 characters docker ps shows, and leaves names alone', () => {
    expect(shortId('3f2a1c9b0d12aa77e1c0ffee3f2a1c9b0d12aa77e1c0ffee3f2a1c9b0d12aa77')).toBe('3f2a1c9b0d12');
    expect(shortId('3f2a1c9b0d12')).toBe('3f2a1c9b0d12');
    expect(shortId('10.0.3.4:3000')).toBe('10.0.3.4:3000');
  });

  it('writes error percentages with at most one decimal, and nothing when no request was seen', () => {
    expect(errorPercentAttribute(12.345)).toBe('12.3');
    expect(errorPercentAttribute(100)).toBe('100');
    expect(errorPercentAttribute(0)).toBe('0');
    expect(errorPercentAttribute(null)).toBe('');
  });

  it('keeps a decimal only where it says something', () => {
    expect(formatMs(3.14)).toBe('3.1');
    expect(formatMs(312.7)).toBe('313');
    expect(formatMs(null)).toBe('–');
  });

  it('names each active fault in the badge', () => {
    expect(faultBadge(null)).toBeNull();
    expect(faultBadge({ latencyMs: 0, errorRate: 0, errorStatus: 503, hang: false })).toBeNull();
    expect(faultBadge({ latencyMs: 200, errorRate: 0, errorStatus: 503, hang: false })).toBe('⚡ +200ms');
    expect(faultBadge({ latencyMs: 0, errorRate: 1, errorStatus: 503, hang: true })).toBe('⚡ 100% 503 · hang');
  });

  it('adapts the server’s scale command, keeping its other flags', () => {
    expect(scaleCommandFor('docker compose up -d --scale users=2', 5)).toBe('docker compose up -d --scale users=5');
    expect(scaleCommandFor('docker compose --profile lab up -d --scale users=1', 3)).toBe(
      'docker compose --profile lab up -d --scale users=3',
    );
    expect(scaleCommandFor(null, 3)).toBe('docker compose up -d --scale users=3');
  });
});
