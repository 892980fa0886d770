import { Faults } from '@lab/platform/faults';
import { Health } from '@lab/platform/health';
import { createLogger } from '@lab/platform/logger';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { buildApp } from './app.ts';
import { loadHelloConfig } from './config.ts';

const config = loadHelloConfig({ INSTANCE_NAME: 'hello-test-1', SERVICE_VERSION: '9.9.9', LOG_LEVEL: 'silent' });
const startedAt = Date.parse('2026-01-01T00:00:00Z');

function appAt(elapsedMs: number, health = new Health(config.service, config.instance)) {
  return buildApp(config, { logger: createLogger(config), health, startedAt, now: () => startedAt + elapsedMs });
}

describe('hello', () => {
  it('GET / greets with the uptime as text/plain', async () => {
    const res = await request(appAt(5_400)).get('/');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toBe('Hello World (TypeScript)! (up 0:00:05)\n');
  });

  it('counts hours unpadded and minutes and seconds padded', async () => {
    const res = await request(appAt((3600 + 2 * 60 + 3) * 1000)).get('/');
    expect(res.text).toBe('Hello World (TypeScript)! (up 1:02:03)\n');
  });

  it('GET /uptime reports service, instance, version, start time and whole seconds', async () => {
    const res = await request(appAt(42_750)).get('/uptime');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      service: 'hello',
      instance: 'hello-test-1',
      version: '9.9.9',
      startedAt: '2026-01-01T00:00:00.000Z',
      uptimeSeconds: 42,
    });
  });

  it('names the replica that answered and echoes a caller request id', async () => {
    const res = await request(appAt(0)).get('/').set('x-request-id', 'trace-abc.123');
    expect(res.headers['x-served-by']).toBe('hello-test-1');
    expect(res.headers['x-request-id']).toBe('trace-abc.123');
  });

  it('replaces an unsafe request id with a fresh uuid', async () => {
    const res = await request(appAt(0)).get('/').set('x-request-id', 'bad id\twith spaces');
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers unknown routes with 404 problem+json', async () => {
    const res = await request(appAt(0)).get('/nope');
    expect(res.status).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(res.text)).toMatchObject({ status: 404, code: 'NOT_FOUND', detail: 'No route for GET /nope' });
  });

  it('is live and ready, and stops being ready once draining starts', async () => {
    const health = new Health(config.service, config.instance);
    const app = appAt(0, health);
    expect((await request(app).get('/health/live')).status).toBe(200);
    expect((await request(app).get('/health/ready')).body).toMatchObject({ status: 'ready', instance: 'hello-test-1' });
    health.startDraining();
    const draining = await request(app).get('/health/ready');
    expect(draining.status).toBe(503);
    expect(draining.body.status).toBe('draining');
    expect((await request(app).get('/health/live')).status).toBe(200);
  });
});

describe('hello in the lab', () => {
  it('counts its answers at /health/stats, probes left out', async () => {
    const app = appAt(0);
    for (const path of ['/', '/uptime', '/nope', '/health/ready', '/health/live']) await request(app).get(path);
    const stats = await request(app).get('/health/stats');
    expect(stats.status).toBe(200);
    expect(stats.body).toMatchObject({
      service: 'hello',
      instance: 'hello-test-1',
      requests: 3,
      errors: 0,
      statusClasses: { '2xx': 2, '4xx': 1 },
    });
  });

  it('answers with an injected error while its lab faults say so, and is ready all along', async () => {
    const faults = new Faults();
    const app = buildApp(config, { logger: createLogger(config), faults });
    faults.set({ errorRate: 1, errorStatus: 502 });
    const failed = await request(app).get('/');
    expect(failed.status).toBe(502);
    expect(JSON.parse(failed.text)).toMatchObject({ title: 'Injected fault', code: 'INJECTED_FAULT' });
    expect((await request(app).get('/health/ready')).status).toBe(200);
    faults.clear();
    expect((await request(app).get('/')).status).toBe(200);
  });
});
