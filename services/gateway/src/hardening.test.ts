import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from './app.ts';
import { loadGatewayConfig } from './config.ts';
import { clientBucket, RateLimiter } from './rate-limit.ts';
import { SECURITY_HEADERS } from './security-headers.ts';

/** An upstream that answers with headers of its own the gateway must not let through unchanged. */
let upstreamRequests = 0;
const upstream = createServer((req, res) => {
  if (req.url !== '/health/ready') upstreamRequests++;
  req.resume();
  res.writeHead(200, {
    'content-type': 'application/json',
    'x-powered-by': 'Express',
    'x-frame-options': 'SAMEORIGIN',
    'access-control-allow-origin': '*',
    vary: 'Accept-Encoding',
    'x-upstream-header': 'kept',
  });
  res.end('{"ok":true}');
});
let upstreamUrl: string;

beforeAll(async () => {
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
});

afterAll(async () => {
  upstream.closeAllConnections();
  await new Promise((resolve) => upstream.close(resolve));
});

let gateway: FastifyInstance | undefined;

afterEach(async () => {
  await gateway?.close();
  gateway = undefined;
});

async function gatewayWith(env: Record<string, string> = {}) {
  gateway = buildApp(
    loadGatewayConfig({ HELLO_URL: upstreamUrl, USERS_URL: upstreamUrl, LOG_LEVEL: 'silent', ...env }),
  );
  await gateway.ready();
  return gateway;
}

const isProblem = (contentType: unknown) => expect(String(contentType)).toMatch(/^application\/problem\+json/);

describe('rate limit per client', () => {
  it('answers the 6th request in a minute with 429 problem+json and Retry-After, other clients unaffected', async () => {
    const app = await gatewayWith({ RATE_LIMIT_PER_MINUTE: '5' });
    const fromA = () => app.inject({ url: '/api/hello', remoteAddress: '10.0.0.1' });
    for (let i = 0; i < 5; i++) expect((await fromA()).statusCode).toBe(200);
    const before = upstreamRequests;

    const limited = await fromA();
    expect(limited.statusCode).toBe(429);
    isProblem(limited.headers['content-type']);
    expect(Number(limited.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(limited.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(limited.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(limited.json()).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    expect(upstreamRequests).toBe(before);

    expect((await app.inject({ url: '/api/hello', remoteAddress: '10.0.0.2' })).statusCode).toBe(200);
  });

  it('ignores X-Forwarded-For, which a client can set to anything', async () => {
    const app = await gatewayWith({ RATE_LIMIT_PER_MINUTE: '2' });
    const statuses = [];
    for (let i = 0; i < 4; i++) {
      const res = await app.inject({
        url: '/api/users',
        remoteAddress: '10.0.0.3',
        headers: { 'x-forwarded-for': `192.0.2.${i}` },
      });
      statuses.push(res.statusCode);
    }
    expect(statuses).toEqual([200, 200, 429, 429]);
  });

  it('never limits health probes or metrics scrapes, and limits unknown routes too', async () => {
    const app = await gatewayWith({ RATE_LIMIT_PER_MINUTE: '1' });
    const client = { remoteAddress: '10.0.0.4' };
    expect((await app.inject({ url: '/api/hello', ...client })).statusCode).toBe(200);
    expect((await app.inject({ url: '/api/nowhere', ...client })).statusCode).toBe(429);
    for (const url of ['/health/live', '/health/ready', '/metrics']) {
      for (let i = 0; i < 3; i++) expect((await app.inject({ url, ...client })).statusCode, url).toBe(200);
    }
  });

  it('lets everything through when RATE_LIMIT_ENABLED=false', async () => {
    const app = await gatewayWith({ RATE_LIMIT_PER_MINUTE: '1', RATE_LIMIT_ENABLED: 'false' });
    for (let i = 0; i < 10; i++) expect((await app.inject({ url: '/api/hello' })).statusCode).toBe(200);
  });

  it('starts a client afresh after its window, and forgets clients that went quiet', () => {
    let now = 0;
    const limiter = new RateLimiter({ limit: 2, windowMs: 60_000, now: () => now });
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a')].map((d) => d.allowed)).toEqual([
      true,
      true,
      false,
    ]);
    now = 45_500;
    expect(limiter.take('a')).toEqual({ allowed: false, retryAfterSeconds: 15 });
    limiter.take('b');
    now = 60_000;
    expect(limiter.take('a').allowed).toBe(true);
    now = 121_000;
    limiter.take('c');
    limiter.sweep();
    expect(limiter.trackedClients).toBe(1);
  });

  it('#21 finding 14: sweeps on its own beat, never inside a request: 10,000 expired clients cost a request nothing', () => {
    let now = 0;
    const limiter = new RateLimiter({ limit: 2, windowMs: 60_000, now: () => now });
    for (let i = 0; i < 10_000; i++) limiter.take(`10.0.${i >> 8}.${i & 255}`);
    now = 61_000;
    limiter.take('10.9.9.9');
    expect(limiter.trackedClients).toBe(10_001);
    limiter.sweep();
    expect(limiter.trackedClients).toBe(1);
  });

  it('#21 finding 14: counts an IPv6 client by its /64, an IPv4-mapped one by its IPv4 address', async () => {
    expect(clientBucket('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(clientBucket('2001:0db8:0001:0002:ffff:0:0:9')).toBe('2001:db8:1:2::/64');
    expect(clientBucket('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(clientBucket('::ffff:192.0.2.7')).toBe('192.0.2.7');
    expect(clientBucket('192.0.2.7')).toBe('192.0.2.7');
    const app = await gatewayWith({ RATE_LIMIT_PER_MINUTE: '3' });
    const from = async (remoteAddress: string) => (await app.inject({ url: '/api/hello', remoteAddress })).statusCode;
    const sameNetwork = ['2001:db8:1:2::1', '2001:db8:1:2::2', '2001:db8:1:2:aaaa::3', '2001:db8:1:2:ffff:1:2:3'];
    expect(await Promise.all(sameNetwork.map(from))).toEqual([200, 200, 200, 429]);
    expect(await from('2001:db8:1:3::1')).toBe(200);
  });
});

describe('security headers', () => {
  it('sends them on proxied answers, overriding the upstream, and drops x-powered-by', async () => {
    const app = await gatewayWith();
    const res = await app.inject({ url: '/api/hello' });
    expect(res.headers).toMatchObject(SECURITY_HEADERS);
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['strict-transport-security']).toBeUndefined();
    expect(res.headers['x-upstream-header']).toBe('kept');
  });

  it('sends them on the gateway’s own answers: errors, health and metrics', async () => {
    const app = await gatewayWith();
    for (const url of ['/nowhere', '/health/live', '/metrics', '/api/_topology']) {
      expect((await app.inject({ url })).headers, url).toMatchObject(SECURITY_HEADERS);
    }
  });
});

describe('request size limits', () => {
  it('answers a body over BODY_LIMIT_BYTES with 413 problem+json without calling the upstream', async () => {
    const app = await gatewayWith({ BODY_LIMIT_BYTES: '1024' });
    const before = upstreamRequests;
    const res = await app.inject({
      method: 'POST',
      url: '/api/users',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'x'.repeat(2048) }),
    });
    expect(res.statusCode).toBe(413);
    isProblem(res.headers['content-type']);
    expect(res.json()).toMatchObject({ status: 413 });
    expect(res.headers['x-request-id']).toBeDefined();
    expect(upstreamRequests).toBe(before);
  });

  it('takes a 1 MiB body by default', async () => {
    const app = await gatewayWith();
    const res = await app.inject({
      method: 'POST',
      url: '/api/users',
      headers: { 'content-type': 'application/octet-stream' },
      payload: Buffer.alloc(1024 * 1024),
    });
    expect(res.statusCode).toBe(200);
  });

  it('answers a URL over 8 KiB with 414 problem+json without calling the upstream', async () => {
    const app = await gatewayWith();
    const before = upstreamRequests;
    const res = await app.inject({ url: `/api/hello/${'a'.repeat(8 * 1024)}` });
    expect(res.statusCode).toBe(414);
    isProblem(res.headers['content-type']);
    expect(res.json()).toMatchObject({ status: 414, code: 'URI_TOO_LONG' });
    expect(upstreamRequests).toBe(before);
  });
});

describe('CORS', () => {
  const preflight = (app: FastifyInstance, origin: string) =>
    app.inject({
      method: 'OPTIONS',
      url: '/api/users',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
  const corsHeaders = (headers: Record<string, unknown>) =>
    Object.keys(headers).filter((name) => name.startsWith('access-control-'));

  it('is off by default: no access-control-* headers, not even the upstream’s own', async () => {
    const app = await gatewayWith();
    const res = await app.inject({ url: '/api/hello', headers: { origin: 'https://app.example.org' } });
    expect(res.statusCode).toBe(200);
    expect(corsHeaders(res.headers)).toEqual([]);
    expect(corsHeaders((await preflight(app, 'https://app.example.org')).headers)).toEqual([]);
  });

  it('answers preflights for the CORS_ORIGINS only', async () => {
    const app = await gatewayWith({ CORS_ORIGINS: 'https://app.example.org, http://localhost:5173' });
    const allowed = await preflight(app, 'http://localhost:5173');
    expect(allowed.statusCode).toBe(204);
    expect(allowed.headers).toMatchObject({
      'access-control-allow-origin': 'http://localhost:5173',
      'access-control-allow-methods': expect.stringContaining('POST'),
      'access-control-allow-headers': expect.stringContaining('content-type'),
    });
    expect(allowed.headers).toMatchObject(SECURITY_HEADERS);

    const other = await preflight(app, 'https://evil.example.com');
    expect(corsHeaders(other.headers)).toEqual([]);
  });

  it('lets a listed origin read answers and their ids, and no other', async () => {
    const app = await gatewayWith({ CORS_ORIGINS: 'https://app.example.org' });
    const listed = await app.inject({ url: '/api/hello', headers: { origin: 'https://app.example.org' } });
    expect(listed.headers['access-control-allow-origin']).toBe('https://app.example.org');
    expect(listed.headers['access-control-expose-headers']).toContain('x-request-id');
    expect(listed.headers.vary).toBe('Accept-Encoding, Origin');

    const other = await app.inject({ url: '/api/hello', headers: { origin: 'https://evil.example.com' } });
    expect(corsHeaders(other.headers)).toEqual([]);
    expect(other.headers.vary).toBe('Accept-Encoding, Origin');
  });
});

describe('hardening config', () => {
  it('defaults: rate limit on at 600000 a minute (10,000/s) per client address, CORS off', () => {
    const config = loadGatewayConfig({});
    expect(config.rateLimit).toEqual({ enabled: true, perMinute: 600_000 });
    expect(config.corsOrigins).toEqual([]);
  });

  it('rejects a CORS_ORIGINS entry that is not a bare origin with one line naming it', () => {
    expect(() => loadGatewayConfig({ CORS_ORIGINS: 'https://app.example.org/, *' })).toThrow(
      'CORS_ORIGINS must be a comma-separated list of origins like https://app.example.org (got "https://app.example.org/, *")',
    );
    expect(() => loadGatewayConfig({ RATE_LIMIT_ENABLED: 'maybe' })).toThrow(
      'RATE_LIMIT_ENABLED must be true or false',
    );
  });
});
