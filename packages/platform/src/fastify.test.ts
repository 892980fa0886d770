import { connect } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFastifyApp } from './fastify.js';
import { Health } from './health.js';
import { createLogger } from './logger.js';

let app: FastifyInstance;

beforeEach(() => {
  app = createFastifyApp({ logger: pino({ level: 'silent' }), health: new Health('svc', 'svc-1') });
  app.get('/items', async () => []);
  app.post('/items', async () => ({}));
  app.get('/items/:id', async () => ({}));
  app.delete('/items/:id', async () => ({}));
  app.register(
    async (scoped) => {
      scoped.put('/things/:a/parts/:b', async () => ({}));
      scoped.all('/proxy/*', async () => 'proxied');
    },
    { prefix: '/v1' },
  );
});

afterEach(async () => {
  await app.close();
});

const expectProblem = (res: { statusCode: number; headers: Record<string, unknown>; json: () => unknown }) => {
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  expect(res.headers['x-request-id']).toBeTruthy();
  return res.json() as { status: number; code: string; detail: string };
};

describe('405 Method Not Allowed', () => {
  it('answers a known path with a wrong method with 405 and the methods it has in Allow', async () => {
    const res = await app.inject({ method: 'PATCH', url: '/items?x=1' });
    expect(res.statusCode).toBe(405);
    expect(res.headers.allow).toBe('GET, HEAD, POST');
    expect(expectProblem(res)).toMatchObject({ status: 405, code: 'METHOD_NOT_ALLOWED' });
  });

  it('matches parameters, prefixed plugin routes and the health routes', async () => {
    const cases = [
      { method: 'PUT', url: '/items/42', allow: 'DELETE, GET, HEAD' },
      { method: 'GET', url: '/v1/things/1/parts/2', allow: 'PUT' },
      { method: 'POST', url: '/health/live', allow: 'GET, HEAD' },
    ] as const;
    for (const { method, url, allow } of cases) {
      const res = await app.inject({ method, url });
      expect(res.statusCode, `${method} ${url}`).toBe(405);
      expect(res.headers.allow, `${method} ${url}`).toBe(allow);
    }
  });

  it('does not let an empty parameter match, so DELETE on the collection is a 405', async () => {
    const res = await app.inject({ method: 'DELETE', url: '/items/' });
    expect(res.statusCode).toBe(404);
    const collection = await app.inject({ method: 'PUT', url: '/items' });
    expect(collection.statusCode).toBe(405);
    expect(collection.headers.allow).toBe('GET, HEAD, POST');
  });

  it('keeps 404 for paths no route has, and wildcard routes answer every method', async () => {
    for (const url of ['/', '/nothing', '/items/42/extra', '/v1/things/1', '/health/live/']) {
      const res = await app.inject({ method: 'GET', url });
      expect(res.statusCode, url).toBe(404);
      expect(expectProblem(res).code).toBe('NOT_FOUND');
    }
    expect((await app.inject({ method: 'PATCH', url: '/v1/proxy/a/b' })).body).toBe('proxied');
    expect((await app.inject({ method: 'HEAD', url: '/items' })).statusCode).toBe(200);
  });

  it('names the path the client used when a proxy stripped a prefix (x-forwarded-prefix)', async () => {
    const headers = { 'x-forwarded-prefix': '/api/stock' };
    const wrongMethod = await app.inject({ method: 'PATCH', url: '/items', headers });
    expect(expectProblem(wrongMethod).detail).toBe('PATCH is not allowed on /api/stock/items; use GET, HEAD, POST');
    const missing = await app.inject({ method: 'GET', url: '/', headers });
    expect(expectProblem(missing).detail).toBe('No route for GET /api/stock');
    const unsafe = await app.inject({
      method: 'GET',
      url: '/nothing',
      headers: { 'x-forwarded-prefix': '//evil.example' },
    });
    expect(expectProblem(unsafe).detail).toBe('No route for GET /nothing');
  });
});

describe('requests that never reach a route', () => {
  it('answers a bad percent-encoding and an over-long parameter with problem+json', async () => {
    const badUrl = await app.inject({ method: 'GET', url: '/items/%ZZ' });
    expect(badUrl.statusCode).toBe(400);
    expect(expectProblem(badUrl).code).toBe('MALFORMED_URL');
    const longId = await app.inject({ method: 'GET', url: `/items/${'9'.repeat(5000)}` });
    expect(longId.statusCode).toBe(414);
    const problem = expectProblem(longId);
    expect(problem.code).toBe('URL_TOO_LONG');
    expect(problem.detail).not.toContain('999');
  });

  const sendRaw = async (text: string): Promise<string> => {
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    return new Promise<string>((resolve, reject) => {
      const socket = connect(address.port, '127.0.0.1', () => socket.end(text));
      let received = '';
      socket.on('data', (chunk) => {
        received += chunk.toString();
      });
      socket.on('close', () => resolve(received));
      socket.on('error', reject);
    });
  };
  const problemIn = (raw: string) => JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)) as unknown;

  it('answers bytes that are not HTTP with a 400 problem+json and stays up', async () => {
    const raw = await sendRaw('\u0000GARBAGE / HTTP/9\r\n\r\n');
    expect(raw).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(raw).toContain('Content-Type: application/problem+json');
    expect(problemIn(raw)).toMatchObject({ status: 400, code: 'MALFORMED_REQUEST' });
    expect((await app.inject({ url: '/health/live' })).statusCode).toBe(200);
  });

  it('answers an HTTP/1.1 request without Host with a 400 problem+json, not the bare 400 of Node', async () => {
    const raw = await sendRaw('GET /items HTTP/1.1\r\nConnection: close\r\n\r\n');
    expect(raw).toMatch(/^HTTP\/1\.1 400 Bad Request\r\n/);
    expect(raw.toLowerCase()).toContain('content-type: application/problem+json');
  });
});

describe('a request that fails', () => {
  it('gets a bare 500 problem+json and exactly one log line, with the error, its stack and the request id', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger(
      { service: 'svc', instance: 'svc-1', version: '1.0.0', logLevel: 'info' },
      { write: (line: string) => lines.push(JSON.parse(line)) },
    );
    const failing = createFastifyApp({ logger, health: new Health('svc', 'svc-1') });
    failing.get('/boom', async () => {
      throw new Error('database password is hunter2');
    });
    const res = await failing.inject({ url: '/boom', headers: { 'x-request-id': 'boom-1' } });
    await failing.close();

    expect(res.statusCode).toBe(500);
    expect(res.body).not.toContain('hunter2');
    const about = lines.filter((line) => line.reqId === 'boom-1');
    expect(about).toHaveLength(1);
    expect(about[0]).toMatchObject({ level: 'error', msg: 'request failed', res: { statusCode: 500 } });
    expect(about[0]?.err).toMatchObject({ stack: expect.stringContaining('hunter2') });
  });
});
