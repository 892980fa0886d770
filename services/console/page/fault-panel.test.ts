import { describe, expect, it } from 'vitest';
import { describeOutcome, faultPath, parseFaultForm } from './fault-panel.ts';

describe('fault requests', () => {
  it('addresses a service or one of its replicas', () => {
    expect(faultPath('users')).toBe('/api/faults/users');
    expect(faultPath('users/10.0.3.4:3000')).toBe('/api/faults/users/10.0.3.4%3A3000');
  });

  it('turns the form into the PUT body, the error rate from a percentage', () => {
    expect(parseFaultForm({ latencyMs: '300', errorPercent: '25', errorStatus: '', hang: false })).toEqual({
      latencyMs: 300,
      errorRate: 0.25,
      errorStatus: 503,
      hang: false,
    });
    expect(parseFaultForm({ latencyMs: '-1', errorPercent: '0', errorStatus: '503', hang: false })).toMatch(/Latency/);
    expect(parseFaultForm({ latencyMs: '0', errorPercent: '120', errorStatus: '503', hang: false })).toMatch(/rate/);
    expect(parseFaultForm({ latencyMs: '0', errorPercent: '0', errorStatus: '200', hang: false })).toMatch(/status/);
  });

  it('reports each replica’s outcome, and a problem’s title and detail', () => {
    const results = [
      { replica: '3f2a1c9b0d12aa77', ok: true, status: 200 },
      { replica: 'b0d12aa77e1c0ffee', ok: false, status: 502, error: 'connect ECONNREFUSED' },
    ];
    expect(describeOutcome('Clear faults on', 'users', 200, { results })).toEqual({
      ok: false,
      text: 'Clear faults on users: 3f2a1c9b0d12 ok, b0d12aa77e1c failed (connect ECONNREFUSED)',
    });
    expect(
      describeOutcome('Crash', 'users', 409, { title: 'Faults unavailable', detail: 'LAB_FAULTS is off' }),
    ).toEqual({
      ok: false,
      text: 'Crash users failed: Faults unavailable: LAB_FAULTS is off',
    });
  });
});
