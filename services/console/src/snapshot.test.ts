import { describe, expect, it } from 'vitest';
import { loadConsoleConfig } from './config.ts';
import type { LiveSnapshot, ReplicaNode } from './live-types.ts';
import { decodeJsonExport } from './otlp-json.ts';
import { Poller } from './poller.ts';
import { buildSnapshot } from './snapshot.ts';
import { FakeSystem, GATEWAY, stats, topology } from './test-support/fake-system.ts';
import { encodeExportJson, type TestResource } from './test-support/otlp-encoder.ts';
import { TraceStore } from './trace-store.ts';

/** Two polls 3 s apart with the counters below in between. */
async function pollTwice(system: FakeSystem, poller: Poller, second: () => void): Promise<void> {
  await poller.pollOnce();
  system.now += 3000;
  second();
  await poller.pollOnce();
}

function baseSystem(): FakeSystem {
  const system = new FakeSystem();
  system.set(`${GATEWAY}/api/_topology`, topology());
  system.set(`${GATEWAY}/health/ready`, { status: 'ready' });
  system.set(`${GATEWAY}/health/stats`, stats('gateway-1', 0, 0, [0, 0, 0, 0, 0, 0]));
  system.set('http://10.0.1.2:8070/health/stats', stats('hello-1', 0, 0, [0, 0, 0, 0, 0, 0]));
  system.set('http://10.0.2.2:8090/health/stats', stats('users-a', 0, 0, [0, 0, 0, 0, 0, 0]));
  system.set('http://10.0.2.3:8090/health/stats', stats('users-b', 0, 0, [0, 0, 0, 0, 0, 0]));
  // 10.0.2.4 does not answer at all; only users-a runs with LAB_FAULTS=on.
  system.set('http://10.0.2.2:8099/faults', {
    service: 'users',
    instance: 'users-a',
    faults: { latencyMs: 200, errorRate: 0.5, errorStatus: 503, hang: false },
  });
  return system;
}

function traffic(system: FakeSystem): void {
  system.set(`${GATEWAY}/health/stats`, stats('gateway-1', 900, 450, [900, 0, 0, 0, 0, 0]));
  // hello-1: 30 req/s, 10% errors.
  system.set('http://10.0.1.2:8070/health/stats', stats('hello-1', 90, 9, [0, 90, 0, 0, 0, 0]));
  // users-a: 100 req/s, no errors, all between 10 and 25 ms.
  system.set('http://10.0.2.2:8090/health/stats', stats('users-a', 300, 0, [0, 0, 300, 0, 0, 0]));
  // users-b: 50 req/s, 60% errors.
  system.set('http://10.0.2.3:8090/health/stats', stats('users-b', 150, 90, [150, 0, 0, 0, 0, 0]));
}

function setUp(system: FakeSystem, resolveAll: (host: string) => Promise<string[]> = notFound) {
  const config = loadConsoleConfig({ LOG_LEVEL: 'silent' });
  const poller = new Poller(config, { fetch: system.fetch, now: () => system.now, resolveAll });
  const store = new TraceStore({ maxTraces: 100, maxBytes: 1024 * 1024 });
  return { poller, store, snapshot: () => buildSnapshot(poller.view(), store, system.now) };
}

async function notFound(): Promise<string[]> {
  throw Object.assign(new Error('getaddrinfo ENOTFOUND monolith'), { code: 'ENOTFOUND' });
}

const replicas = (snapshot: LiveSnapshot, service: string) =>
  Object.fromEntries(
    (snapshot.services.find((node) => node.name === service)?.replicas ?? []).map((r): [string, ReplicaNode] => [
      r.id,
      r,
    ]),
  );

describe('the snapshot, from polls of a faked system', () => {
  it('is all grey before the first poll, with hello and users listed', () => {
    const { snapshot } = setUp(new FakeSystem());
    const first = snapshot();
    expect(first.gateway).toMatchObject({ reachable: false, health: 'grey' });
    expect(first.services.map(({ name, health }) => [name, health])).toEqual([
      ['hello', 'grey'],
      ['users', 'grey'],
    ]);
    expect(first.monolith).toBeNull();
  });

  it('figures per replica and per service come out of two stats samples 3 s apart', async () => {
    const system = baseSystem();
    const { poller, snapshot } = setUp(system);
    await pollTwice(system, poller, () => traffic(system));
    const view = snapshot();
    const users = replicas(view, 'users');
    expect(users['users-a']?.figures).toEqual({ requestsPerSecond: 100, errorPercent: 0, p50Ms: 17.5, p99Ms: 24.85 });
    expect(users['users-b']?.figures).toMatchObject({ requestsPerSecond: 50, errorPercent: 60 });
    expect(replicas(view, 'hello')['hello-1']?.figures).toMatchObject({ requestsPerSecond: 30, errorPercent: 10 });
    // users as a whole: 150 req/s, 90 errors in 450 requests.
    expect(view.services[1]?.figures).toMatchObject({ requestsPerSecond: 150, errorPercent: 20 });
    expect(view.gateway.figures).toMatchObject({ requestsPerSecond: 300, errorPercent: 50 });
  });

  it('names replicas by instance (topology, else stats, else address) and colours them', async () => {
    const system = baseSystem();
    const { poller, snapshot } = setUp(system);
    await pollTwice(system, poller, () => traffic(system));
    const view = snapshot();
    expect(Object.keys(replicas(view, 'users'))).toEqual(['users-a', 'users-b', '10.0.2.4']);
    expect(replicas(view, 'users')).toMatchObject({
      'users-a': { address: '10.0.2.2:8090', health: 'green', ready: true, ejected: false, inFlight: 2 },
      // 60% errors
      'users-b': { address: '10.0.2.3:8090', health: 'red' },
      // ejected, unready and unreachable
      '10.0.2.4': { address: '10.0.2.4:8090', health: 'red', ejected: true },
    });
    // 10% errors
    expect(replicas(view, 'hello')['hello-1']?.health).toBe('amber');
    expect(view.services.map(({ name, health, breaker, store }) => ({ name, health, breaker, store }))).toEqual([
      { name: 'hello', health: 'amber', breaker: 'closed', store: null },
      { name: 'users', health: 'red', breaker: 'closed', store: 'users-data volume' },
    ]);
    expect(view.services[1]).toMatchObject({ ejections: 1, retries: 4 });
    // The gateway is ready: users failing does not paint it red.
    expect(view.gateway).toMatchObject({ reachable: true, instance: 'gateway-1', health: 'green' });
    expect(view.scaleCommand).toBe('docker compose up -d --scale users=3');
  });

  it("shows each replica's fault settings where its lab port answers", async () => {
    const system = baseSystem();
    const { poller, snapshot } = setUp(system);
    await poller.pollOnce();
    const users = replicas(snapshot(), 'users');
    expect(users['users-a']).toMatchObject({
      faultsAvailable: true,
      faults: { latencyMs: 200, errorRate: 0.5, errorStatus: 503, hang: false },
    });
    expect(users['users-b']).toMatchObject({ faultsAvailable: false, faults: null });
  });

  it("paints a service red while the gateway's breaker to it is open, its replica green or not", async () => {
    const system = baseSystem();
    system.set(`${GATEWAY}/api/_topology`, topology('open'));
    const { poller, snapshot } = setUp(system);
    await poller.pollOnce();
    const hello = snapshot().services[0];
    expect(hello).toMatchObject({ name: 'hello', breaker: 'open', health: 'red' });
    expect(hello?.replicas[0]?.health).toBe('green');
  });

  it('paints the gateway red when it is unready or gone, and keeps its last topology with readiness unknown', async () => {
    const system = baseSystem();
    const { poller, snapshot } = setUp(system);
    await poller.pollOnce();
    system.set(`${GATEWAY}/health/ready`, { status: 'not_ready' }, 503);
    await poller.pollOnce();
    expect(snapshot().gateway.health).toBe('red');
    system.answers.delete(`${GATEWAY}/health/ready`);
    system.answers.delete(`${GATEWAY}/api/_topology`);
    await poller.pollOnce();
    const view = snapshot();
    expect(view.gateway).toMatchObject({ reachable: false, health: 'red' });
    expect(replicas(view, 'users')['users-a']).toMatchObject({ ready: null, health: 'amber' });
  });

  it('shows the monolith twin when its name resolves, with its own readiness, else null', async () => {
    const system = baseSystem();
    system.set('http://10.0.9.2:8060/health/ready', { status: 'ready' });
    system.set('http://10.0.9.2:8060/health/stats', stats('monolith-1', 0, 0, [0, 0, 0, 0, 0, 0]));
    // 10.0.9.3 is starting: it answers, unready.
    system.set('http://10.0.9.3:8060/health/ready', { status: 'not_ready' }, 503);
    const { poller, snapshot } = setUp(system, async (host) => (host === 'monolith' ? ['10.0.9.3', '10.0.9.2'] : []));
    await poller.pollOnce();
    expect(snapshot().monolith).toMatchObject({
      name: 'monolith',
      breaker: null,
      store: 'monolith-data volume',
      health: 'red',
      replicas: [
        { id: 'monolith-1', address: '10.0.9.2:8060', ready: true, health: 'green' },
        { id: '10.0.9.3', address: '10.0.9.3:8060', ready: false, health: 'red' },
      ],
    });
    const without = setUp(baseSystem());
    await without.poller.pollOnce();
    expect(without.snapshot().monolith).toBeNull();
  });
});

const T0 = 1_767_225_600_000;
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const ROOT = '00f067aa0ba902b7';
const FIRST = '1111111111111111';
const SECOND = '2222222222222222';
const USERS_SPAN = '3333333333333333';

/** GET /api/users/42 through the gateway: a first attempt at 10.0.2.4 fails, the retry at users-a answers. */
function retriedRequest(withUsersSpan: boolean, secondAddress = '10.0.2.2'): TestResource[] {
  return [
    {
      service: 'gateway',
      instance: 'gateway-1',
      spans: [
        {
          traceId: TRACE,
          spanId: ROOT,
          name: 'GET /api/users/*',
          kind: 2,
          startMs: T0,
          endMs: T0 + 42.5,
          attributes: {
            'http.request.method': 'GET',
            'url.path': '/api/users/42',
            'http.response.status_code': 200,
            'http.request.header.x-request-id': ['req-retried'],
          },
        },
        {
          traceId: TRACE,
          spanId: FIRST,
          parentSpanId: ROOT,
          name: 'GET',
          kind: 3,
          startMs: T0 + 1,
          endMs: T0 + 20,
          attributes: { 'server.address': '10.0.2.4', 'http.response.status_code': 503 },
          status: 2,
        },
        {
          traceId: TRACE,
          spanId: SECOND,
          parentSpanId: ROOT,
          name: 'GET',
          kind: 3,
          startMs: T0 + 21,
          endMs: T0 + 41,
          attributes: { 'server.address': secondAddress, 'http.response.status_code': 200 },
        },
      ],
    },
    ...(withUsersSpan
      ? [
          {
            service: 'users',
            instance: 'users-a',
            spans: [
              {
                traceId: TRACE,
                spanId: USERS_SPAN,
                parentSpanId: SECOND,
                name: 'GET /:id',
                kind: 2,
                startMs: T0 + 22,
                endMs: T0 + 40,
                attributes: { 'url.path': '/42', 'http.response.status_code': 200 },
              },
            ],
          },
        ]
      : []),
  ];
}

function housekeepingAndMonolith(): TestResource[] {
  const root = (traceId: string, path: string, startMs: number) => ({
    traceId,
    spanId: 'aaaaaaaaaaaaaaaa',
    name: 'GET',
    kind: 2,
    startMs,
    endMs: startMs + 1,
    attributes: { 'http.method': 'POST', 'http.target': `${path}?q=1`, 'http.status_code': 201 },
  });
  return [
    {
      service: 'gateway',
      spans: [
        root('5bf92f3577b34da6a3ce929d0e0e4736', '/api/_topology', T0 + 100),
        root('6bf92f3577b34da6a3ce929d0e0e4736', '/health/ready', T0 + 101),
      ],
    },
    {
      service: 'monolith',
      instance: 'monolith-1',
      spans: [root('7bf92f3577b34da6a3ce929d0e0e4736', '/api/users', T0 + 50)],
    },
  ];
}

describe('recent requests, from the stored traces', () => {
  it('a retried request: 2 attempts, answered by the replica under the last one, service by prefix', async () => {
    const system = baseSystem();
    const { poller, store, snapshot } = setUp(system);
    await poller.pollOnce();
    store.add(decodeJsonExport(encodeExportJson(retriedRequest(true))).spans);
    expect(snapshot().recent).toEqual([
      {
        traceId: TRACE,
        requestId: 'req-retried',
        at: T0,
        method: 'GET',
        path: '/api/users/42',
        status: 200,
        durationMs: 42.5,
        service: 'users',
        replica: 'users-a',
        attempts: 2,
      },
    ]);
  });

  it("before the replica's span arrives, names it from the address the gateway connected to", async () => {
    const system = baseSystem();
    const { poller, store, snapshot } = setUp(system);
    await poller.pollOnce();
    // 10.0.2.3 has no instance in the topology; its stats name it users-b.
    store.add(decodeJsonExport(encodeExportJson(retriedRequest(false, '10.0.2.3'))).spans);
    expect(snapshot().recent[0]).toMatchObject({ replica: 'users-b', attempts: 2 });
  });

  it("leaves out the gateway's own routes, takes the monolith's requests and older attribute names, newest first", async () => {
    const system = baseSystem();
    const { poller, store, snapshot } = setUp(system);
    await poller.pollOnce();
    store.add(decodeJsonExport(encodeExportJson([...retriedRequest(true), ...housekeepingAndMonolith()])).spans);
    const recent = snapshot().recent;
    expect(recent.map(({ path, service }) => [path, service])).toEqual([
      ['/api/users', 'monolith'],
      ['/api/users/42', 'users'],
    ]);
    expect(recent[0]).toMatchObject({ method: 'POST', status: 201, replica: 'monolith-1', attempts: 1 });
  });
});
