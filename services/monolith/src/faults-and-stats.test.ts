import { Faults } from '@lab/platform/faults';
import type { RequestStatsSnapshot } from '@lab/platform/request-stats';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningMonolith, startMonolith, TEST_INSTANCE } from './start-monolith.ts';

let running: RunningMonolith | undefined;

afterEach(async () => {
  await running?.stop();
  running = undefined;
});

async function start(faults?: Faults): Promise<RunningMonolith> {
  running = await startMonolith(undefined, faults ? { faults } : {});
  return running;
}

async function statsOf({ baseUrl }: RunningMonolith): Promise<RequestStatsSnapshot> {
  const res = await fetch(`${baseUrl}/health/stats`);
  expect(res.status).toBe(200);
  return (await res.json()) as RequestStatsSnapshot;
}

async function timed(url: string): Promise<{ status: number; ms: number }> {
  const startedAt = performance.now();
  const res = await fetch(url);
  await res.arrayBuffer();
  return { status: res.status, ms: performance.now() - startedAt };
}

describe('the monolith, one process', () => {
  it('counts each hello and users request once in its one set of stats, and no probe', async () => {
    const monolith = await start();
    for (let i = 0; i < 5; i += 1) expect((await fetch(`${monolith.baseUrl}/api/hello`)).status).toBe(200);
    expect((await fetch(`${monolith.baseUrl}/api/hello/nope`)).status).toBe(404);
    for (let i = 0; i < 3; i += 1) expect((await fetch(`${monolith.baseUrl}/api/users`)).status).toBe(200);
    for (const path of ['/health/live', '/health/ready'])
      expect((await fetch(`${monolith.baseUrl}${path}`)).status).toBe(200);

    const stats = await statsOf(monolith);
    expect(stats).toMatchObject({
      service: 'monolith',
      instance: TEST_INSTANCE,
      requests: 9,
      errors: 0,
      statusClasses: { '2xx': 8, '4xx': 1 },
    });
    expect(stats.latencyMs.counts.reduce((sum, n) => sum + n, 0)).toBe(9);
  });

  it('fails hello and users alike under one errorRate, while its probes stay 200', async () => {
    const faults = new Faults();
    const monolith = await start(faults);
    faults.set({ errorRate: 1, errorStatus: 503 });
    for (const path of ['/api/hello', '/api/hello/uptime', '/api/users']) {
      const res = await fetch(`${monolith.baseUrl}${path}`);
      expect(res.status, path).toBe(503);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(await res.json()).toMatchObject({ title: 'Injected fault', code: 'INJECTED_FAULT' });
    }
    expect((await fetch(`${monolith.baseUrl}/health/ready`)).status).toBe(200);
    expect(await statsOf(monolith)).toMatchObject({ requests: 3, errors: 3, statusClasses: { '5xx': 3 } });
  });

  it("delays hello by the latency once, not once for the Fastify root and again for hello's router", async () => {
    const faults = new Faults();
    const monolith = await start(faults);
    faults.set({ latencyMs: 200 });
    for (const path of ['/api/hello', '/api/users']) {
      const { status, ms } = await timed(`${monolith.baseUrl}${path}`);
      expect(status, path).toBe(200);
      expect(ms, path).toBeGreaterThanOrEqual(199);
      expect(ms, path).toBeLessThan(399);
    }
    faults.clear();
    expect((await timed(`${monolith.baseUrl}/api/hello`)).ms).toBeLessThan(150);
  });
});
