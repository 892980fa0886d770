import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Router } from 'express';
import type { Logger } from 'pino';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createExpressApp } from './express.js';
import { createFastifyApp } from './fastify.js';
import { Faults, parseFaultRequest } from './faults.js';
import { Health } from './health.js';
import { createLogger } from './logger.js';
import type { RequestStatsSnapshot } from './request-stats.js';

type Framework = 'Express' | 'Fastify';

interface Served {
  url: string;
  close(): Promise<void>;
}

/** An app of either framework with one API route, listening on a free loopback port. */
async function serve(framework: Framework, faults: Faults, logger: Logger = pino({ level: 'silent' })) {
  const health = new Health('svc', 'svc-1');
  if (framework === 'Fastify') {
    const app = createFastifyApp({ logger, health, faults });
    app.get('/api/items', async () => []);
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close: () => app.close() };
  }
  const router = Router().get('/api/items', (_req, res) => {
    res.json([]);
  });
  const server = createServer(createExpressApp({ logger, health, faults }, router));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    // As runService closes an Express service: held requests first, then the listener.
    close: () => {
      faults.release();
      return new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
    },
  };
}

let served: Served | undefined;

afterEach(async () => {
  await served?.close();
  served = undefined;
});

async function timed(url: string): Promise<{ status: number; ms: number; res: Response }> {
  const startedAt = performance.now();
  const res = await fetch(url);
  await res.arrayBuffer();
  return { status: res.status, ms: performance.now() - startedAt, res };
}

describe('parseFaultRequest', () => {
  it('takes the known fields, an omitted one being off', () => {
    expect(parseFaultRequest({ latencyMs: 250, errorRate: 0.25, errorStatus: 502, hang: false })).toEqual({
      settings: { latencyMs: 250, errorRate: 0.25, errorStatus: 502, hang: false },
      crash: false,
    });
    expect(parseFaultRequest({ crash: true })).toEqual({ settings: {}, crash: true });
  });

  it('names every wrong field in one validation error', () => {
    const bad = { latencyMs: 1.5, errorRate: 2, errorStatus: 302, hang: 'yes', crash: 1, speed: 3 };
    expect(() => parseFaultRequest(bad)).toThrow(
      'The request is invalid: body/latencyMs must be an integer from 0 to 60000; ' +
        'body/errorRate must be a number from 0 to 1; body/errorStatus must be an integer from 400 to 599; ' +
        'body/hang must be true or false; body/crash must be true or false; body/speed is not an allowed field',
    );
    for (const notAnObject of [null, [], 'x', 3]) {
      expect(() => parseFaultRequest(notAnObject)).toThrow('body must be a JSON object');
    }
    expect(() => parseFaultRequest(JSON.parse('{"__proto__": {"hang": true}}'))).toThrow('is not an allowed field');
  });
});

describe('Faults', () => {
  it('treats settings with every fault off as no fault, and fills in what was omitted', () => {
    const faults = new Faults();
    expect(faults.set({ errorStatus: 503 })).toBeNull();
    expect(faults.set({ errorRate: 0.1 })).toEqual({ latencyMs: 0, errorRate: 0.1, errorStatus: 500, hang: false });
    expect(faults.set({ latencyMs: 0, errorRate: 0, hang: false })).toBeNull();
    expect(faults.current).toBeNull();
  });
});

describe.each(['Express', 'Fastify'] as const)('LAB_FAULTS on %s', (framework) => {
  it('with errorRate 1 answers every one of 50 API requests with the chosen status as problem+json, while probes stay 200', async () => {
    const faults = new Faults();
    served = await serve(framework, faults);
    faults.set({ errorRate: 1, errorStatus: 503 });

    const statuses: number[] = [];
    for (let i = 0; i < 50; i += 1) {
      const res = await fetch(`${served.url}/api/items`);
      statuses.push(res.status);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.headers.get('x-served-by')).toBe('svc-1');
      expect(await res.json()).toMatchObject({
        title: 'Injected fault',
        status: 503,
        code: 'INJECTED_FAULT',
        detail: expect.stringContaining('LAB_FAULTS injected this error'),
      });
    }
    expect(statuses.filter((status) => status === 503)).toHaveLength(50);
    expect((await fetch(`${served.url}/health/ready`)).status).toBe(200);
    expect((await fetch(`${served.url}/health/live`)).status).toBe(200);

    const stats = (await (await fetch(`${served.url}/health/stats`)).json()) as RequestStatsSnapshot;
    expect(stats).toMatchObject({ requests: 50, errors: 50, statusClasses: { '2xx': 0, '5xx': 50 } });
  });

  it('answers a 4xx errorStatus too, counted as a client error and not as an error', async () => {
    const faults = new Faults();
    served = await serve(framework, faults);
    faults.set({ errorRate: 1, errorStatus: 429 });
    for (let i = 0; i < 5; i += 1) expect((await fetch(`${served.url}/api/items`)).status).toBe(429);
    const stats = (await (await fetch(`${served.url}/health/stats`)).json()) as RequestStatsSnapshot;
    expect(stats).toMatchObject({ requests: 5, errors: 0, statusClasses: { '4xx': 5 } });
  });

  it('with errorRate 0.5 fails between 35% and 65% of 400 requests and serves the rest', async () => {
    const faults = new Faults();
    served = await serve(framework, faults);
    faults.set({ errorRate: 0.5 });
    const statuses: number[] = [];
    for (let i = 0; i < 400; i += 1) statuses.push((await timed(`${served.url}/api/items`)).status);
    const failed = statuses.filter((status) => status === 500).length;
    expect(failed + statuses.filter((status) => status === 200).length).toBe(400);
    expect(failed / 400).toBeGreaterThanOrEqual(0.35);
    expect(failed / 400).toBeLessThanOrEqual(0.65);
  });

  it('with latencyMs 200 makes API requests take at least 200 ms, and probes none of it', async () => {
    const faults = new Faults();
    served = await serve(framework, faults);
    faults.set({ latencyMs: 200 });
    for (let i = 0; i < 3; i += 1) {
      const api = await timed(`${served.url}/api/items`);
      expect(api.status).toBe(200);
      // Timers may fire up to a millisecond early against performance.now().
      expect(api.ms).toBeGreaterThanOrEqual(199);
    }
    const probe = await timed(`${served.url}/health/ready`);
    expect(probe.status).toBe(200);
    expect(probe.ms).toBeLessThan(150);
    const stats = (await (await fetch(`${served.url}/health/stats`)).json()) as RequestStatsSnapshot;
    const { bounds, counts } = stats.latencyMs;
    expect(counts.slice(bounds.indexOf(150) + 1).reduce((sum, n) => sum + n, 0)).toBe(3);
  });

  it('applies the latency first, then the error', async () => {
    const faults = new Faults();
    served = await serve(framework, faults);
    faults.set({ latencyMs: 100, errorRate: 1, errorStatus: 502 });
    const { status, ms } = await timed(`${served.url}/api/items`);
    expect(status).toBe(502);
    expect(ms).toBeGreaterThanOrEqual(99);
  });

  it('with hang holds a request past 1 s while probes answer, and closing still completes at once', async () => {
    const faults = new Faults();
    served = await serve(framework, faults);
    faults.set({ hang: true });
    let settled = false;
    const hung = fetch(`${served.url}/api/items`).then(
      (res) => res.status,
      () => 'connection closed',
    );
    void hung.finally(() => {
      settled = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(settled).toBe(false);
    expect((await fetch(`${served.url}/health/live`)).status).toBe(200);

    const closeStartedAt = performance.now();
    await served.close();
    served = undefined;
    expect(performance.now() - closeStartedAt).toBeLessThan(1000);
    expect(await hung).toBe('connection closed');
  });

  it('lets a delayed request go ahead when the app closes, rather than waiting out its latency', async () => {
    const faults = new Faults();
    served = await serve(framework, faults);
    faults.set({ latencyMs: 30_000 });
    const delayed = timed(`${served.url}/api/items`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const closeStartedAt = performance.now();
    await served.close();
    served = undefined;
    expect(performance.now() - closeStartedAt).toBeLessThan(1000);
    expect((await delayed).status).toBe(200);
  });

  it('serves every request again once cleared', async () => {
    const faults = new Faults();
    served = await serve(framework, faults);
    faults.set({ errorRate: 1 });
    expect((await fetch(`${served.url}/api/items`)).status).toBe(500);
    faults.clear();
    for (let i = 0; i < 20; i += 1) expect((await fetch(`${served.url}/api/items`)).status).toBe(200);
  });

  it('logs an injected error as the request failure line, with its request id', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger(
      { service: 'svc', instance: 'svc-1', logLevel: 'info' },
      { write: (line: string) => lines.push(JSON.parse(line)) },
    );
    const faults = new Faults();
    served = await serve(framework, faults, logger);
    faults.set({ errorRate: 1, errorStatus: 503 });
    await fetch(`${served.url}/api/items`, { headers: { 'x-request-id': 'fault-1' } });
    await served.close();
    served = undefined;

    const about = lines.filter((line) => line.reqId === 'fault-1');
    expect(about).toHaveLength(1);
    expect(about[0]).toMatchObject({ msg: 'request failed', res: { statusCode: 503 } });
    expect(about[0]?.err).toMatchObject({ message: expect.stringContaining('LAB_FAULTS injected this error') });
  });
});
