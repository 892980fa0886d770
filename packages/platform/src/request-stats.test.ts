import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Router } from 'express';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createExpressApp } from './express.js';
import { createFastifyApp } from './fastify.js';
import { Faults } from './faults.js';
import { Health } from './health.js';
import { isOperationalPath, LATENCY_BOUNDS_MS, RequestStats, type RequestStatsSnapshot } from './request-stats.js';

describe('RequestStats', () => {
  it('counts requests, errors and status classes, and puts each latency in one bucket', () => {
    const stats = new RequestStats('svc', 'svc-1');
    for (const [status, ms] of [
      [200, 0.2],
      [201, 0.5],
      [304, 3],
      [404, 12],
      [503, 700],
      [500, 20_000],
    ] as const) {
      stats.record(status, ms);
    }
    const snapshot = stats.snapshot();
    expect(snapshot).toMatchObject({
      service: 'svc',
      instance: 'svc-1',
      requests: 6,
      errors: 2,
      statusClasses: { '2xx': 2, '3xx': 1, '4xx': 1, '5xx': 2 },
    });
    const { bounds, counts } = snapshot.latencyMs;
    expect(counts).toHaveLength(bounds.length + 1);
    const inBucketUpTo = (bound: number) => counts[bounds.indexOf(bound)];
    expect(counts[0]).toBe(2); // 0.2 and 0.5 ms: a bound is inclusive
    expect(inBucketUpTo(4)).toBe(1);
    expect(inBucketUpTo(15)).toBe(1);
    expect(inBucketUpTo(1000)).toBe(1);
    expect(counts.at(-1)).toBe(1); // 20 s: above the last bound
    expect(counts.reduce((sum, n) => sum + n, 0)).toBe(6);
  });

  it('has about 20 ascending bounds from 0.5 ms to 10 s, none more than 2.5 times the one before', () => {
    expect(LATENCY_BOUNDS_MS.length).toBeGreaterThanOrEqual(18);
    expect(LATENCY_BOUNDS_MS.length).toBeLessThanOrEqual(24);
    expect(LATENCY_BOUNDS_MS[0]).toBe(0.5);
    expect(LATENCY_BOUNDS_MS.at(-1)).toBe(10_000);
    for (let i = 1; i < LATENCY_BOUNDS_MS.length; i += 1) {
      const ratio = (LATENCY_BOUNDS_MS[i] ?? 0) / (LATENCY_BOUNDS_MS[i - 1] ?? 1);
      expect(ratio).toBeGreaterThan(1);
      expect(ratio).toBeLessThanOrEqual(2.5);
    }
  });

  it('leaves out probes and scrapes only', () => {
    for (const url of ['/health/live', '/health/ready', '/health/stats', '/metrics', '/metrics?x=1']) {
      expect(isOperationalPath(url), url).toBe(true);
    }
    for (const url of ['/', '/health', '/healthz', '/api/health/live', '/metricsx', '/api/users']) {
      expect(isOperationalPath(url), url).toBe(false);
    }
  });
});

type Framework = 'Express' | 'Fastify';

interface Served {
  url: string;
  close(): Promise<void>;
}

const logger = pino({ level: 'silent' });

async function serve(framework: Framework, faults?: Faults): Promise<Served> {
  const health = new Health('svc', 'svc-1');
  if (framework === 'Fastify') {
    const app = createFastifyApp({ logger, health, faults });
    app.get('/api/items', async () => []);
    app.get('/api/slow', async () => new Promise((resolve) => setTimeout(() => resolve({}), 300)));
    app.get('/api/boom', async () => {
      throw new Error('boom');
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close: () => app.close() };
  }
  const router = Router()
    .get('/api/items', (_req, res) => {
      res.json([]);
    })
    .get('/api/slow', (_req, res) => {
      setTimeout(() => res.json({}), 300);
    })
    .get('/api/boom', () => {
      throw new Error('boom');
    });
  const server = createServer(createExpressApp({ logger, health, faults }, router));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}

let served: Served | undefined;

afterEach(async () => {
  await served?.close();
  served = undefined;
});

const statsOf = async ({ url }: Served) => {
  const res = await fetch(`${url}/health/stats`);
  expect(res.status).toBe(200);
  return (await res.json()) as RequestStatsSnapshot;
};

describe.each([
  ['Express', 'LAB_FAULTS off', false],
  ['Fastify', 'LAB_FAULTS off', false],
  ['Express', 'LAB_FAULTS on, no fault set', true],
  ['Fastify', 'LAB_FAULTS on, no fault set', true],
] as const)('GET /health/stats on %s (%s)', (framework, _label, withFaults) => {
  it('counts each answered request once by status class and latency, and no probe', async () => {
    const startedBefore = Date.now();
    served = await serve(framework, withFaults ? new Faults() : undefined);
    const { url } = served;
    for (const path of ['/api/items', '/api/items', '/api/items', '/api/slow', '/nope', '/api/items/x']) {
      await (await fetch(`${url}${path}`)).arrayBuffer();
    }
    expect((await fetch(`${url}/api/boom`)).status).toBe(500);
    for (const path of ['/health/live', '/health/ready', '/health/live', '/health/stats']) {
      expect((await fetch(`${url}${path}`)).status).toBe(200);
    }

    const stats = await statsOf(served);
    expect(stats).toMatchObject({
      service: 'svc',
      instance: 'svc-1',
      requests: 7,
      errors: 1,
      statusClasses: { '2xx': 4, '3xx': 0, '4xx': 2, '5xx': 1 },
    });
    expect(stats.startedAt).toBeGreaterThanOrEqual(startedBefore - 1);
    expect(stats.startedAt).toBeLessThanOrEqual(Date.now());
    const { bounds, counts } = stats.latencyMs;
    expect(counts.reduce((sum, n) => sum + n, 0)).toBe(7);
    // The 300 ms request is the only one above 250 ms.
    const above250 = counts.slice(bounds.indexOf(250) + 1).reduce((sum, n) => sum + n, 0);
    expect(above250).toBe(1);
  });

  it('only grows: a second sample differs from the first by what happened in between', async () => {
    served = await serve(framework, withFaults ? new Faults() : undefined);
    await fetch(`${served.url}/api/items`);
    const first = await statsOf(served);
    for (let i = 0; i < 5; i += 1) await fetch(`${served.url}/api/items`);
    const second = await statsOf(served);
    expect(second.startedAt).toBe(first.startedAt);
    expect(second.requests - first.requests).toBe(5);
    expect(second.statusClasses['2xx'] - first.statusClasses['2xx']).toBe(5);
  });
});
