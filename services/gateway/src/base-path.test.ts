import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from './app.ts';
import { loadGatewayConfig } from './config.ts';

/**
 * A stand-in for the monolith: the public API under /api/users and its health at the
 * root, 404 anywhere else. It records every request, the gateway's probes included.
 */
const seen: { method: string; url: string; headers: IncomingHttpHeaders }[] = [];
const monolith = createServer((req, res) => {
  const url = req.url ?? '';
  seen.push({ method: req.method ?? '', url, headers: req.headers });
  req.resume();
  const known = url === '/health/ready' || /^\/api\/users([/?]|$)/.test(url);
  res.writeHead(known ? 200 : 404, { 'content-type': 'application/json' }).end('{}');
});

let gateway: FastifyInstance;

beforeAll(async () => {
  monolith.listen(0, '127.0.0.1');
  await once(monolith, 'listening');
  const origin = `http://127.0.0.1:${(monolith.address() as AddressInfo).port}`;
  gateway = buildApp(loadGatewayConfig({ USERS_URL: `${origin}/api/users`, HELLO_URL: origin, LOG_LEVEL: 'silent' }));
  await gateway.ready();
});

afterAll(async () => {
  await gateway.close();
  monolith.closeAllConnections();
  await new Promise((resolve) => monolith.close(resolve));
});

describe('an upstream URL with a base path (USERS_URL=http://monolith:8060/api/users)', () => {
  it('forwards /api/users/42?x=1 as /api/users/42?x=1, without x-forwarded-prefix, even one the client sent', async () => {
    const res = await gateway.inject({ url: '/api/users/42?x=1', headers: { 'x-forwarded-prefix': '/evil' } });
    expect(res.statusCode).toBe(200);
    expect(seen.at(-1)?.url).toBe('/api/users/42?x=1');
    expect(seen.at(-1)?.headers['x-forwarded-prefix']).toBeUndefined();
  });

  it('forwards the collection as /api/users, with no slash added, for GET and POST', async () => {
    const get = await gateway.inject({ url: '/api/users' });
    const post = await gateway.inject({
      method: 'POST',
      url: '/api/users',
      headers: { 'content-type': 'application/json' },
      payload: '{"name":"Ada","email":"ada@example.org"}',
    });
    const page = await gateway.inject({ url: '/api/users?limit=1' });
    expect([get.statusCode, post.statusCode, page.statusCode]).toEqual([200, 200, 200]);
    expect(seen.slice(-3).map((r) => `${r.method} ${r.url}`)).toEqual([
      'GET /api/users',
      'POST /api/users',
      'GET /api/users?limit=1',
    ]);
  });

  it('leaves an upstream without a base path as it was: prefix stripped, x-forwarded-prefix sent', async () => {
    await gateway.inject({ url: '/api/hello/uptime' });
    expect(seen.at(-1)?.url).toBe('/uptime');
    expect(seen.at(-1)?.headers['x-forwarded-prefix']).toBe('/api/hello');
  });

  it('probes readiness at the origin, /health/ready, not below the base path', async () => {
    const probes = seen.filter((r) => r.url.includes('health'));
    expect(probes.length).toBeGreaterThan(0);
    expect(new Set(probes.map((r) => r.url))).toEqual(new Set(['/health/ready']));
    const ready = await gateway.inject({ url: '/health/ready' });
    expect(ready.json()).toMatchObject({ checks: { users: { ok: true, healthy: 1 } } });
  });
});
