import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from './app.ts';
import { loadGatewayConfig } from './config.ts';

/** A stand-in upstream that records what the gateway sent it. */
interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

async function startRecordingUpstream(instance: string) {
  const seen: Recorded[] = [];
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    seen.push({
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      body: Buffer.concat(chunks).toString(),
    });
    if (req.url === '/health/ready') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ready"}');
      return;
    }
    res.writeHead(req.url === '/teapot' ? 418 : 200, { 'content-type': 'application/json', 'x-served-by': instance });
    res.end(JSON.stringify({ echoed: req.url }));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, seen, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** A port that was free a moment ago: nothing listens there, so connections are refused. */
async function closedPortUrl() {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

let hello: Awaited<ReturnType<typeof startRecordingUpstream>>;
let gateway: FastifyInstance;
let deadUsersUrl: string;

beforeAll(async () => {
  hello = await startRecordingUpstream('hello-replica-7');
  deadUsersUrl = await closedPortUrl();
  gateway = buildApp(loadGatewayConfig({ HELLO_URL: hello.url, USERS_URL: deadUsersUrl, LOG_LEVEL: 'silent' }));
});

afterAll(async () => {
  await gateway.close();
  await new Promise((resolve) => (hello.server as Server).close(resolve));
});

describe('gateway routing', () => {
  it('strips the service prefix: /api/hello reaches hello as /, /api/hello/uptime as /uptime', async () => {
    await gateway.inject({ url: '/api/hello' });
    await gateway.inject({ url: '/api/hello/uptime?verbose=1' });
    expect(hello.seen.slice(-2).map((r) => r.url)).toEqual(['/', '/uptime?verbose=1']);
  });

  it('passes method, body and status through untouched', async () => {
    const res = await gateway.inject({
      method: 'POST',
      url: '/api/hello/teapot',
      headers: { 'content-type': 'application/json' },
      payload: '{"a":1}',
    });
    expect(res.statusCode).toBe(418);
    expect(hello.seen.at(-1)).toMatchObject({ method: 'POST', url: '/teapot', body: '{"a":1}' });
  });

  it('propagates a caller request id to the upstream and back', async () => {
    const res = await gateway.inject({ url: '/api/hello', headers: { 'x-request-id': 'demo-42' } });
    expect(hello.seen.at(-1)?.headers['x-request-id']).toBe('demo-42');
    expect(res.headers['x-request-id']).toBe('demo-42');
  });

  it('creates a request id when the caller sent none, and the upstream sees the same one', async () => {
    const res = await gateway.inject({ url: '/api/hello' });
    const id = res.headers['x-request-id'];
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(hello.seen.at(-1)?.headers['x-request-id']).toBe(id);
  });

  it('names the replica that answered in x-served-by', async () => {
    expect((await gateway.inject({ url: '/api/hello' })).headers['x-served-by']).toBe('hello-replica-7');
  });

  it('counts what it answers at /health/stats, but not probes or /metrics scrapes', async () => {
    const sample = async () => (await gateway.inject({ url: '/health/stats' })).json();
    const before = await sample();
    await gateway.inject({ url: '/api/hello' });
    await gateway.inject({ url: '/api/hello/uptime' });
    await gateway.inject({ url: '/api/orders' });
    await gateway.inject({ url: '/metrics' });
    await gateway.inject({ url: '/health/ready' });
    const after = await sample();
    expect(after.service).toBe('gateway');
    expect(after.startedAt).toBe(before.startedAt);
    expect(after.requests - before.requests).toBe(3);
    expect(after.statusClasses['2xx'] - before.statusClasses['2xx']).toBe(2);
    expect(after.statusClasses['4xx'] - before.statusClasses['4xx']).toBe(1);
  });

  it('answers unknown routes with 404 problem+json', async () => {
    for (const url of ['/', '/api', '/api/orders', '/api/helloworld']) {
      const res = await gateway.inject({ url });
      expect(res.statusCode, url).toBe(404);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json()).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    }
  });
});

describe('gateway with an upstream down', () => {
  it('answers 503 problem+json naming the missing service, while the other keeps working', async () => {
    const users = await gateway.inject({ url: '/api/users' });
    expect(users.statusCode).toBe(503);
    expect(users.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(users.json()).toMatchObject({ status: 503, code: 'UPSTREAM_UNAVAILABLE', upstream: 'users' });
    expect(JSON.stringify(users.json())).not.toMatch(/ECONNREFUSED|127\.0\.0\.1|stack/);
    expect((await gateway.inject({ url: '/api/hello' })).statusCode).toBe(200);
  });

  it('stays ready but reports each upstream, marking itself degraded', async () => {
    const res = await gateway.inject({ url: '/health/ready' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({
      status: 'degraded',
      checks: { hello: { ok: true, known: 1, healthy: 1 }, users: { ok: false, known: 1, healthy: 0 } },
    });
  });
});

describe('gateway config', () => {
  it('rejects an upstream URL that is not http(s) with one line naming it', () => {
    expect(() => loadGatewayConfig({ USERS_URL: 'users:8090' })).toThrow(
      'USERS_URL must be an absolute http(s) URL (got "users:8090")',
    );
  });

  it('rejects an upstream URL with a query string or fragment with one line naming it', () => {
    expect(() => loadGatewayConfig({ USERS_URL: 'http://monolith:8060/api/users?x=1' })).toThrow(
      'USERS_URL must be an http(s) URL without a query string or fragment (got "http://monolith:8060/api/users?x=1")',
    );
    expect(() => loadGatewayConfig({ HELLO_URL: 'http://monolith:8060/api/hello#top' })).toThrow(/^HELLO_URL must be/);
    expect(() => loadGatewayConfig({ HELLO_URL: 'http://monolith:8060/?' })).toThrow(/^HELLO_URL must be/);
  });

  it('keeps a base path in an upstream URL, without its trailing slash', () => {
    const { upstreams } = loadGatewayConfig({ USERS_URL: 'http://monolith:8060/api/users/' });
    expect(upstreams.map((u) => u.baseUrl)).toEqual(['http://hello:8070', 'http://monolith:8060/api/users']);
  });

  it('defaults upstreams to the compose service names', () => {
    expect(loadGatewayConfig({}).upstreams.map((u) => u.baseUrl)).toEqual(['http://hello:8070', 'http://users:8090']);
  });
});
