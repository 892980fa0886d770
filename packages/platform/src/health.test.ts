import { describe, expect, it } from 'vitest';
import { Health } from './health.js';

describe('Health', () => {
  it('is not ready when a critical check fails or throws', async () => {
    const health = new Health('svc', 'i1');
    health.addCheck('db', () => {
      throw new Error('locked');
    });
    expect(await health.ready()).toMatchObject({
      statusCode: 503,
      body: { status: 'not_ready', checks: { db: { ok: false, error: 'locked' } } },
    });
  });

  it('stays ready but degraded when only a non-critical check fails', async () => {
    const health = new Health('svc', 'i1');
    health.addCheck('upstream', async () => ({ ok: false }), { critical: false });
    expect(await health.ready()).toMatchObject({ statusCode: 200, body: { status: 'degraded' } });
  });
});
