import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from './app.ts';
import { loadConsoleConfig } from './config.ts';
import type { LiveSnapshot, RecentRequest, TraceView } from './live-types.ts';
import { Poller } from './poller.ts';
import { FakeSystem, GATEWAY, instance, topology } from './test-support/fake-system.ts';
import { encodeExportProtobuf, type TestResource } from './test-support/otlp-encoder.ts';

const fixture = JSON.parse(readFileSync(new URL('./fixtures/otel-js-export.json', import.meta.url), 'utf8')) as {
  traceId: string;
  spanIds: { root: string; secondAttempt: string };
  protobufBase64: string;
  json: unknown;
};
const PROTOBUF = { 'content-type': 'application/x-protobuf' };
const JSON_TYPE = { 'content-type': 'application/json' };

let pageDir: string;
const apps: FastifyInstance[] = [];

beforeAll(() => {
  pageDir = mkdtempSync(join(tmpdir(), 'console-page-'));
  mkdirSync(join(pageDir, 'assets'));
  writeFileSync(join(pageDir, 'index.html'), '<!doctype html><script type="module" src="/assets/app.js"></script>');
  writeFileSync(join(pageDir, 'assets', 'app.js'), 'console.log("page")');
  writeFileSync(join(pageDir, 'style.css'), 'body{}');
});

afterAll(() => rmSync(pageDir, { recursive: true, force: true }));

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

function consoleApp(env: Record<string, string> = {}, system = new FakeSystem(), dir: string = pageDir) {
  const config = loadConsoleConfig({ LOG_LEVEL: 'silent', INSTANCE_NAME: 'console-test', ...env });
  const poller = new Poller(config, { fetch: system.fetch, now: () => system.now, resolveAll: async () => [] });
  const app = buildApp(config, { pageDir: dir, poller, fetch: system.fetch, now: () => system.now });
  apps.push(app);
  return { app, poller, system };
}

const problemOf = (res: { headers: { 'content-type'?: unknown }; json(): unknown }) => {
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  return res.json() as { status: number; code: string; detail: string };
};

describe('POST /v1/traces', () => {
  it("takes the exporter's protobuf and answers an empty protobuf response; the trace is then readable", async () => {
    const { app } = consoleApp();
    const res = await app.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: PROTOBUF,
      payload: Buffer.from(fixture.protobufBase64, 'base64'),
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/x-protobuf');
    expect(res.rawPayload).toHaveLength(0);

    const trace = (await app.inject({ url: `/api/traces/${fixture.traceId}` })).json() as TraceView;
    expect(trace.spans.map(({ startMs, kind, service }) => [startMs, kind, service])).toEqual([
      [0, 'server', 'gateway'],
      [1, 'client', 'gateway'],
      [4, 'client', 'gateway'],
      [5, 'server', 'users'],
    ]);
    expect(trace.spans[3]).toMatchObject({ instance: 'users-b', parentSpanId: fixture.spanIds.secondAttempt });
    expect(trace.spans[0]?.durationMs).toBe(9.25);

    const found = (await app.inject({ url: '/api/requests?requestId=req-fixture-1' })).json() as RecentRequest[];
    expect(found).toEqual([
      expect.objectContaining({
        path: '/api/users/42',
        service: 'users',
        replica: 'users-b',
        attempts: 2,
        status: 200,
      }),
    ]);
  });

  it("takes OTLP/JSON and gzip, answering in the request's encoding", async () => {
    const { app } = consoleApp();
    const json = await app.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      payload: JSON.stringify(fixture.json),
    });
    expect(json.statusCode).toBe(200);
    expect(json.headers['content-type']).toMatch(/^application\/json/);
    expect(json.body).toBe('{}');
    const gzipped = await app.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { ...PROTOBUF, 'content-encoding': 'gzip' },
      payload: gzipSync(Buffer.from(fixture.protobufBase64, 'base64')),
    });
    expect(gzipped.statusCode).toBe(200);
    const snapshot = (await app.inject({ url: '/api/snapshot' })).json() as LiveSnapshot;
    expect(snapshot.traces).toMatchObject({ count: 1, maxTraces: 2000, maxBytes: 16 * 1024 * 1024 });
    expect((await app.inject({ url: `/api/traces/${fixture.traceId}` })).json().spans).toHaveLength(4);
  });

  it('answers a partial success for spans with invalid ids', async () => {
    const { app } = consoleApp();
    const res = await app.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: JSON_TYPE,
      payload: '{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"abc","spanId":"def"}]}]}]}',
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ partialSuccess: { rejectedSpans: '1' } });
  });

  it('refuses malformed bodies with 400, other media types with 415, big bodies with 413', async () => {
    const { app } = consoleApp({ CONSOLE_MAX_BODY_BYTES: '4096' });
    const post = (headers: Record<string, string>, payload?: Buffer | string) =>
      app.inject({ method: 'POST', url: '/v1/traces', headers, ...(payload === undefined ? {} : { payload }) });

    const garbled = problemOf(await post(PROTOBUF, Buffer.from([0x0a, 0x7f, 0x01])));
    expect(garbled).toMatchObject({ status: 400, code: 'MALFORMED_OTLP' });
    expect(garbled.detail).toMatch(/protobuf body is malformed: .*runs past the end/);
    expect(problemOf(await post(JSON_TYPE, '{"resourceSpans":'))).toMatchObject({
      status: 400,
      code: 'MALFORMED_OTLP',
    });
    expect(problemOf(await post({ ...PROTOBUF, 'content-encoding': 'gzip' }, 'not gzip'))).toMatchObject({
      status: 400,
      detail: expect.stringMatching(/gzip/),
    });

    expect(problemOf(await post({ 'content-type': 'text/plain' }, 'x')).status).toBe(415);
    expect(problemOf(await post({}, 'x')).status).toBe(415);
    expect(problemOf(await post({ ...PROTOBUF, 'content-encoding': 'br' }, 'x')).status).toBe(415);

    expect(problemOf(await post(PROTOBUF, Buffer.alloc(5000))).status).toBe(413);
    // A gzip bomb: 1 MB of zeros in a 1 KB body.
    const bomb = gzipSync(Buffer.alloc(1024 * 1024));
    expect(bomb.length).toBeLessThan(4096);
    expect(problemOf(await post({ ...PROTOBUF, 'content-encoding': 'gzip' }, bomb)).status).toBe(413);

    const { traces } = (await app.inject({ url: '/api/snapshot' })).json() as LiveSnapshot;
    expect(traces.count).toBe(0);
  });

  it('past the ingest rate answers 429 with Retry-After, and takes spans again once the budget refills', async () => {
    const { app, system } = consoleApp({ CONSOLE_MAX_INGEST_BYTES_PER_SECOND: '65536' });
    const body = Buffer.from(fixture.protobufBase64, 'base64');
    const statuses: number[] = [];
    let refused: Awaited<ReturnType<typeof app.inject>> | undefined;
    // The clock stands still: 100 requests of ~1.3 KB in the same instant.
    for (let n = 0; n < 100; n++) {
      const res = await app.inject({ method: 'POST', url: '/v1/traces', headers: PROTOBUF, payload: body });
      statuses.push(res.statusCode);
      if (res.statusCode === 429) refused ??= res;
    }
    const accepted = statuses.filter((status) => status === 200).length;
    expect(accepted).toBe(Math.ceil(65_536 / body.length));
    expect(statuses.filter((status) => status === 429)).toHaveLength(100 - accepted);
    expect(refused?.headers['retry-after']).toBe('1');
    expect(problemOf(refused as NonNullable<typeof refused>).code).toBe('INGEST_RATE_EXCEEDED');

    system.now += 1000;
    const later = await app.inject({ method: 'POST', url: '/v1/traces', headers: PROTOBUF, payload: body });
    expect(later.statusCode).toBe(200);
  });

  it('#21 finding 5: a gzip bomb costs the budget what it inflated: after one as big as a second of ingest, the next export waits', async () => {
    const { app } = consoleApp({ CONSOLE_MAX_BODY_BYTES: '65536', CONSOLE_MAX_INGEST_BYTES_PER_SECOND: '65536' });
    // 16 MiB of zeros in about 16 KiB: a quarter of the second's budget if it were charged as received.
    const bomb = gzipSync(Buffer.alloc(16 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(65_536 / 2);
    const refused = await app.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { ...PROTOBUF, 'content-encoding': 'gzip' },
      payload: bomb,
    });
    expect(problemOf(refused)).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' });

    const next = await app.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: PROTOBUF,
      payload: Buffer.from(fixture.protobufBase64, 'base64'),
    });
    expect(problemOf(next)).toMatchObject({ status: 429, code: 'INGEST_RATE_EXCEEDED' });
  });

  it("drops the console's and the gateway's housekeeping traces, spans that came before their root included", async () => {
    const { app } = consoleApp();
    const probe = 'abcdefabcdefabcdefabcdefabcdef01';
    const send = (resources: TestResource[]) =>
      app.inject({ method: 'POST', url: '/v1/traces', headers: PROTOBUF, payload: encodeExportProtobuf(resources) });
    // A handler span of the users replica's readiness probe arrives first...
    await send([
      {
        service: 'users',
        spans: [
          {
            traceId: probe,
            spanId: '2000000000000002',
            parentSpanId: '1000000000000001',
            name: 'handler',
            kind: 1,
            startMs: 2,
            endMs: 3,
          },
        ],
      },
    ]);
    expect(((await app.inject({ url: '/api/snapshot' })).json() as LiveSnapshot).traces.count).toBe(1);
    // ...then the gateway's probe, a root client span to /health/ready.
    await send([
      {
        service: 'gateway',
        spans: [
          {
            traceId: probe,
            spanId: '1000000000000001',
            name: 'GET',
            kind: 3,
            startMs: 1,
            endMs: 4,
            attributes: { 'url.full': 'http://10.0.2.2:8090/health/ready' },
          },
        ],
      },
    ]);
    expect(((await app.inject({ url: '/api/snapshot' })).json() as LiveSnapshot).traces.count).toBe(0);
  });
});

describe('the page and its API', () => {
  it('serves the built page with a strict CSP and nosniff', async () => {
    const { app } = consoleApp();
    const index = await app.inject({ url: '/' });
    expect(index.statusCode).toBe(200);
    expect(index.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(index.headers['content-security-policy']).toContain("default-src 'self'");
    expect(index.headers['content-security-policy']).toContain("script-src 'self'");
    expect(index.headers['content-security-policy']).not.toMatch(/unsafe-inline|https?:/);
    expect(index.headers['x-content-type-options']).toBe('nosniff');
    const script = await app.inject({ url: '/assets/app.js' });
    expect([script.statusCode, script.headers['content-type'], script.body]).toEqual([
      200,
      'text/javascript; charset=utf-8',
      'console.log("page")',
    ]);
    expect((await app.inject({ url: '/assets/style.css' })).headers['content-type']).toBe('text/css; charset=utf-8');
    expect(problemOf(await app.inject({ url: '/assets/nope.js' })).status).toBe(404);
    expect(problemOf(await app.inject({ url: '/assets/..%2F..%2Fetc%2Fpasswd' })).status).toBe(404);
  });

  it('says the page is not built, with a 503, when its directory is missing', async () => {
    const { app } = consoleApp({}, new FakeSystem(), join(pageDir, 'missing'));
    expect(problemOf(await app.inject({ url: '/' }))).toMatchObject({ status: 503, code: 'PAGE_NOT_BUILT' });
    expect((await app.inject({ url: '/api/snapshot' })).statusCode).toBe(200);
  });

  it('answers 400 for a malformed trace id or a missing requestId, 404 for an unknown trace', async () => {
    const { app } = consoleApp();
    expect(problemOf(await app.inject({ url: '/api/traces/xyz' })).status).toBe(400);
    expect(problemOf(await app.inject({ url: `/api/traces/${'a'.repeat(32)}` })).status).toBe(404);
    expect(problemOf(await app.inject({ url: '/api/requests' })).status).toBe(400);
    expect((await app.inject({ url: '/api/requests?requestId=none' })).json()).toEqual([]);
  });
});

describe("the app's own poller", () => {
  it('polls every CONSOLE_POLL_INTERVAL_MS from when the app is ready, and stops with it', async () => {
    const system = new FakeSystem();
    system.set(`${GATEWAY}/health/ready`, { status: 'ready' });
    const config = loadConsoleConfig({ LOG_LEVEL: 'silent', CONSOLE_POLL_INTERVAL_MS: '100' });
    let polls = 0;
    const fetchCounting: typeof fetch = (input, init) => {
      if (String(input) === `${GATEWAY}/health/ready`) polls++;
      return system.fetch(input, init);
    };
    const app = buildApp(config, { pageDir, fetch: fetchCounting, resolveAll: async () => [] });
    apps.push(app);
    await app.ready();
    await expect
      .poll(async () => ((await app.inject({ url: '/api/snapshot' })).json() as LiveSnapshot).gateway.health)
      .toBe('green');
    await expect.poll(() => polls, { timeout: 2000 }).toBeGreaterThanOrEqual(3);
    await app.close();
    apps.splice(apps.indexOf(app), 1);
    const afterClose = polls;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(polls).toBe(afterClose);
  });
});

describe('GET /api/live', () => {
  async function listen(app: FastifyInstance): Promise<string> {
    await app.listen({ port: 0, host: '127.0.0.1' });
    return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  }

  /** Reads a stream's events as they come. */
  async function* events(body: ReadableStream<Uint8Array>): AsyncGenerator<{ event: string; data: string }> {
    const decoder = new TextDecoder();
    let buffered = '';
    for await (const chunk of body) {
      buffered += decoder.decode(chunk, { stream: true });
      for (let end = buffered.indexOf('\n\n'); end >= 0; end = buffered.indexOf('\n\n')) {
        const block = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) yield { event, data };
      }
    }
  }

  it('sends a snapshot at once and another after every poll, holds at most the stream bound, and lets go on disconnect', async () => {
    const { app, poller, system } = consoleApp({ CONSOLE_MAX_LIVE_STREAMS: '1' });
    system.set(`${GATEWAY}/health/ready`, { status: 'ready' });
    const base = await listen(app);
    // Its own connection pool, closed at the end: a spare socket undici opens would otherwise hold up the close.
    const agent = new Agent();
    const get = (signal?: AbortSignal) =>
      undiciFetch(`${base}/api/live`, { dispatcher: agent, ...(signal ? { signal } : {}) });
    const first = new AbortController();
    const res = await get(first.signal);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toContain("default-src 'self'");
    const stream = events(res.body as unknown as ReadableStream<Uint8Array>);
    const initial = (await stream.next()).value;
    expect(initial?.event).toBe('snapshot');
    expect((JSON.parse(initial?.data ?? '{}') as LiveSnapshot).gateway.health).toBe('grey');

    await poller.pollOnce();
    const afterPoll = JSON.parse((await stream.next()).value?.data ?? '{}') as LiveSnapshot;
    expect(afterPoll.gateway.health).toBe('green');

    const second = await get();
    expect(second.status).toBe(503);
    expect(((await second.json()) as { code: string }).code).toBe('TOO_MANY_STREAMS');

    first.abort();
    await expect.poll(async () => (await get(AbortSignal.timeout(500))).status).toBe(200);
    await agent.destroy();
  });

  it('does not keep the app from closing', async () => {
    const { app } = consoleApp();
    const base = await listen(app);
    const res = await fetch(`${base}/api/live`);
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    const closing = app.close();
    await expect(closing).resolves.toBeUndefined();
    apps.splice(apps.indexOf(app), 1);
  });
});

describe('#21 finding 4: Host and Origin on every route', () => {
  const REBOUND = 'rebind.evil.example:8088';

  it('#21 finding 4: refuses a DNS-rebound Host on /api/snapshot, the trace API, the page and /v1/traces with 403 problem+json', async () => {
    const { app } = consoleApp();
    for (const url of ['/api/snapshot', '/api/requests', `/api/traces/${fixture.traceId}`, '/', '/health/stats']) {
      const res = await app.inject({ url, headers: { host: REBOUND } });
      expect(problemOf(res), url).toMatchObject({ status: 403, code: 'UNTRUSTED_ORIGIN' });
    }
    const posted = await app.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { ...PROTOBUF, host: 'evil.example' },
      payload: Buffer.from(fixture.protobufBase64, 'base64'),
    });
    expect(problemOf(posted)).toMatchObject({ status: 403, code: 'UNTRUSTED_ORIGIN' });
    // Nor from another site's page through the console's own name.
    const crossSite = await app.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { ...PROTOBUF, host: 'localhost:8088', origin: 'https://evil.example' },
      payload: Buffer.from(fixture.protobufBase64, 'base64'),
    });
    expect(problemOf(crossSite).status).toBe(403);
    expect(((await app.inject({ url: '/api/snapshot' })).json() as LiveSnapshot).traces.count).toBe(0);
  });

  it('#21 finding 4: answers its own callers: the page on localhost or 127.0.0.1, exporters on console:<port>, tests on a mapped port', async () => {
    const { app } = consoleApp();
    const exported = await app.inject({
      method: 'POST',
      url: '/v1/traces',
      headers: { ...PROTOBUF, host: 'console:8088' },
      payload: Buffer.from(fixture.protobufBase64, 'base64'),
    });
    expect(exported.statusCode).toBe(200);
    for (const host of ['localhost:8088', '127.0.0.1:49153', '[::1]:8088', 'console']) {
      const res = await app.inject({ url: '/api/snapshot', headers: { host } });
      expect(res.statusCode, host).toBe(200);
      expect((res.json() as LiveSnapshot).traces.count).toBe(1);
    }
    // The page's own requests carry its origin.
    const own = await app.inject({
      url: `/api/traces/${fixture.traceId}`,
      headers: { host: 'localhost:8088', origin: 'http://localhost:8088' },
    });
    expect(own.statusCode).toBe(200);
  });
});

/** A replica's lab port: records what it was sent and answers with the settings it holds. */
async function startLabListener(): Promise<{ server: Server; port: number; seen: { method: string; body: string }[] }> {
  const seen: { method: string; body: string }[] = [];
  let faults: unknown = null;
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const chunk of req) body += String(chunk);
    if (req.method !== 'GET') seen.push({ method: req.method ?? '', body });
    if (req.method === 'PUT')
      faults = { hang: false, latencyMs: 0, errorRate: 0, errorStatus: 503, ...JSON.parse(body) };
    if (req.method === 'DELETE') faults = null;
    res
      .writeHead(200, { 'content-type': 'application/json' })
      .end(JSON.stringify({ service: 'users', instance: 'users-a', faults }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port, seen };
}

describe('fault settings', () => {
  let lab: Awaited<ReturnType<typeof startLabListener>>;

  beforeAll(async () => {
    lab = await startLabListener();
  });

  afterAll(() => new Promise<void>((resolve) => lab.server.close(() => resolve())));

  /** users-a's lab port is the listener; users-b (127.0.0.2) has none. */
  async function faultsApp() {
    const system = new FakeSystem();
    const shape = topology();
    const users = shape.upstreams[1];
    if (users) users.instances = [instance('127.0.0.1', 'users-a', true), instance('127.0.0.2', 'users-b', true)];
    system.set(`${GATEWAY}/api/_topology`, shape);
    system.realOrigins.push(`http://127.0.0.1:${lab.port}`);
    const setup = consoleApp({ LAB_FAULTS_PORT: String(lab.port) }, system);
    await setup.poller.pollOnce();
    lab.seen.length = 0;
    return setup;
  }

  const put = (app: FastifyInstance, url: string, payload: unknown, headers: Record<string, string> = {}) =>
    app.inject({ method: 'PUT', url, headers: { ...JSON_TYPE, ...headers }, payload: JSON.stringify(payload) });

  it('validates the settings: 400 naming the field', async () => {
    const { app } = await faultsApp();
    for (const [body, field] of [
      [{ latencyMs: -1 }, 'latencyMs'],
      [{ latencyMs: 60_001 }, 'latencyMs'],
      [{ latencyMs: 1.5 }, 'latencyMs'],
      [{ errorRate: 1.5 }, 'errorRate'],
      [{ errorStatus: 200 }, 'errorStatus'],
      [{ hang: 'yes' }, 'hang'],
      [{ latencyMs: '100' }, 'latencyMs'],
      [{ reboot: true }, 'reboot'],
    ] as const) {
      const problem = problemOf(await put(app, '/api/faults/users', body));
      expect(problem.status).toBe(400);
      expect(problem.detail).toContain(field);
    }
    expect(problemOf(await put(app, '/api/faults/users', [])).status).toBe(400);
    expect(lab.seen).toEqual([]);
  });

  it('forwards PUT and DELETE to every replica of a service, says which took them, and shows the new settings', async () => {
    const { app } = await faultsApp();
    const res = await put(app, '/api/faults/users', { latencyMs: 250, errorRate: 0.2 });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      results: [
        { replica: 'users-a', ok: true, status: 200 },
        { replica: 'users-b', ok: false, status: null, error: 'ECONNREFUSED' },
      ],
    });
    expect(lab.seen).toEqual([{ method: 'PUT', body: '{"latencyMs":250,"errorRate":0.2}' }]);
    const snapshot = (await app.inject({ url: '/api/snapshot' })).json() as LiveSnapshot;
    expect(snapshot.services[1]?.replicas[0]).toMatchObject({
      id: 'users-a',
      faultsAvailable: true,
      faults: { latencyMs: 250, errorRate: 0.2, errorStatus: 503, hang: false },
    });

    const cleared = await app.inject({ method: 'DELETE', url: '/api/faults/users/users-a' });
    expect(cleared.json()).toEqual({ results: [{ replica: 'users-a', ok: true, status: 200 }] });
    expect(lab.seen.at(-1)).toEqual({ method: 'DELETE', body: '' });
    const after = (await app.inject({ url: '/api/snapshot' })).json() as LiveSnapshot;
    expect(after.services[1]?.replicas[0]?.faults).toBeNull();
  });

  it('answers 404 for an unknown service or replica, 502 when no replica took the settings', async () => {
    const { app } = await faultsApp();
    expect(problemOf(await put(app, '/api/faults/payments', { hang: true })).status).toBe(404);
    expect(problemOf(await put(app, '/api/faults/users/users-z', { hang: true })).status).toBe(404);
    // The twin is not running here.
    expect(problemOf(await put(app, '/api/faults/monolith', { hang: true })).status).toBe(404);
    const refused = await put(app, '/api/faults/users/users-b', { crash: true });
    expect(problemOf(refused)).toMatchObject({ status: 502, code: 'FAULTS_NOT_DELIVERED' });
    expect(refused.json().results).toEqual([{ replica: 'users-b', ok: false, status: null, error: 'ECONNREFUSED' }]);
    expect(lab.seen).toEqual([]);
  });

  it('takes changes only from its own origin: not from another site, nor a DNS-rebound name', async () => {
    const { app } = await faultsApp();
    const foreign = await put(app, '/api/faults/users', { hang: true }, { origin: 'https://evil.example' });
    expect(problemOf(foreign)).toMatchObject({ status: 403, code: 'UNTRUSTED_ORIGIN' });
    const rebound = await put(app, '/api/faults/users', { hang: true }, { host: 'rebind.evil.example:8088' });
    expect(problemOf(rebound).status).toBe(403);
    const own = await put(
      app,
      '/api/faults/users/users-a',
      {},
      {
        host: '127.0.0.1:8088',
        origin: 'http://127.0.0.1:8088',
      },
    );
    expect(own.statusCode).toBe(200);
  });
});
