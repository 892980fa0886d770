import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@lab/platform/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from './app.ts';
import { loadMonolithConfig } from './config.ts';
import { type RunningMonolith, startMonolith, TEST_INSTANCE } from './start-monolith.ts';

interface User {
  id: string;
  name: string;
  email: string;
  createdAt: string;
}

interface Problem {
  status: number;
  code: string;
  detail: string;
  errors?: { field: string; message: string }[];
}

let running: RunningMonolith;
const url = (path: string) => `${running.baseUrl}${path}`;
const sendJson = (method: string, path: string, body: unknown) =>
  fetch(url(path), { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function problemOf(res: Response): Promise<Problem> {
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  return (await res.json()) as Problem;
}

/** Sends bytes as they are and returns whatever came back before the server closed the connection. */
function sendRaw(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(text));
    const chunks: Buffer[] = [];
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer within 5 s')));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

beforeAll(async () => {
  running = await startMonolith();
});

afterAll(async () => {
  await running.stop();
});

describe('hello, mounted at /api/hello', () => {
  it('greets with the uptime as text, like the Flask original', async () => {
    const res = await fetch(url('/api/hello'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await res.text()).toMatch(/^Hello World \(TypeScript\)! \(up \d+:[0-5]\d:[0-5]\d\)\n$/);
  });

  it('reports its uptime as JSON, naming this process as the instance', async () => {
    const res = await fetch(url('/api/hello/uptime'));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { startedAt: string; uptimeSeconds: number };
    expect(body).toMatchObject({ service: 'hello', instance: TEST_INSTANCE, version: '9.9.9' });
    expect(Date.parse(body.startedAt)).toBeLessThanOrEqual(Date.now());
    expect(Number.isInteger(body.uptimeSeconds) && body.uptimeSeconds >= 0).toBe(true);
  });
});

describe('users, mounted at /api/users', () => {
  it('creates a user, reads it back, lists it, replaces, patches and deletes it', async () => {
    const created = await sendJson('POST', '/api/users', { name: 'Ada Lovelace', email: 'ada@example.org' });
    expect(created.status).toBe(201);
    const ada = (await created.json()) as User;
    expect(ada).toMatchObject({ name: 'Ada Lovelace', email: 'ada@example.org' });

    const read = await fetch(url(`/api/users/${ada.id}`));
    expect(read.status).toBe(200);
    expect(await read.json()).toEqual(ada);

    const list = (await (await fetch(url('/api/users'))).json()) as { items: User[]; nextCursor: string | null };
    expect(list.items).toContainEqual(ada);

    const put = await sendJson('PUT', `/api/users/${ada.id}`, { name: 'Augusta Ada King', email: 'aak@example.org' });
    expect(put.status).toBe(200);
    expect(await put.json()).toMatchObject({ id: ada.id, name: 'Augusta Ada King', email: 'aak@example.org' });

    const patch = await sendJson('PATCH', `/api/users/${ada.id}`, { name: 'Countess of Lovelace' });
    expect(await patch.json()).toMatchObject({ id: ada.id, name: 'Countess of Lovelace', email: 'aak@example.org' });

    expect((await fetch(url(`/api/users/${ada.id}`), { method: 'DELETE' })).status).toBe(204);
    const gone = await fetch(url(`/api/users/${ada.id}`));
    expect(gone.status).toBe(404);
    expect((await problemOf(gone)).detail).toBe(`No user with id ${ada.id}`);
  });

  it('passes the query string through: pages of one, oldest first', async () => {
    for (const n of [1, 2])
      await sendJson('POST', '/api/users', { name: `Pager ${n}`, email: `pager${n}@example.org` });
    const first = (await (await fetch(url('/api/users?limit=1'))).json()) as { items: User[]; nextCursor: string };
    expect(first.items).toHaveLength(1);
    const second = (await (await fetch(url(`/api/users?limit=1&cursor=${first.nextCursor}`))).json()) as {
      items: User[];
    };
    expect((second.items[0]?.id ?? '') > first.nextCursor).toBe(true);
  });

  it('answers invalid input with 400 problem+json naming each field', async () => {
    const res = await sendJson('POST', '/api/users', { name: '', email: 'not-an-email' });
    expect(res.status).toBe(400);
    const problem = await problemOf(res);
    expect(problem.code).toBe('VALIDATION_FAILED');
    expect(problem.errors?.map((e) => e.field).sort()).toEqual(['body/email', 'body/name']);
  });

  it('answers a taken email, in any case, with 409 problem+json', async () => {
    expect((await sendJson('POST', '/api/users', { name: 'Grace', email: 'grace@example.org' })).status).toBe(201);
    const res = await sendJson('POST', '/api/users', { name: 'Other Grace', email: 'GRACE@example.org' });
    expect(res.status).toBe(409);
    expect((await problemOf(res)).code).toBe('CONFLICT');
  });

  it('keeps users in one SQLite file under DATA_DIR, across a restart', async () => {
    const first = await startMonolith();
    const created = await fetch(`${first.baseUrl}/api/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Persisted', email: 'persisted@example.org' }),
    });
    const { id } = (await created.json()) as User;
    expect(existsSync(join(first.dataDir, 'users.db'))).toBe(true);
    await first.stop({ keepData: true });

    const second = await startMonolith(first.dataDir);
    try {
      expect(await (await fetch(`${second.baseUrl}/api/users/${id}`)).json()).toMatchObject({ id, name: 'Persisted' });
    } finally {
      await second.stop();
    }
  });
});

describe('routes the gateway does not have', () => {
  it.each(['/api/orders', '/', '/api/hellox', '/API/hello'])('answers GET %s with 404 problem+json', async (path) => {
    const res = await fetch(url(path));
    expect(res.status).toBe(404);
    expect(await problemOf(res)).toMatchObject({ status: 404, code: 'NOT_FOUND', detail: `No route for GET ${path}` });
    expect(res.headers.get('x-served-by')).toBe(TEST_INSTANCE);
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('names the path the client used in 404 and 405 answers of either mounted service', async () => {
    const wrongMethod = await fetch(url('/api/users'), { method: 'DELETE' });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET, HEAD, POST');
    expect((await problemOf(wrongMethod)).detail).toBe('DELETE is not allowed on /api/users; use GET, HEAD, POST');
    const helloMiss = await fetch(url('/api/hello/nope?x=%zz'));
    expect(helloMiss.status).toBe(404);
    expect((await problemOf(helloMiss)).detail).toBe('No route for GET /api/hello/nope');
    expect((await fetch(url('/api/hello?q=%zz'))).status).toBe(200);
  });

  it('answers a method a health route lacks with 405 and Allow', async () => {
    const res = await fetch(url('/health/ready'), { method: 'POST' });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
    expect((await problemOf(res)).code).toBe('METHOD_NOT_ALLOWED');
  });

  it('refuses an HTTP/1.1 request without Host, and bytes that are not HTTP, with 400 problem+json', async () => {
    const noHost = await sendRaw(running.port, 'GET /api/hello HTTP/1.1\r\nConnection: close\r\n\r\n');
    expect(noHost).toMatch(/^HTTP\/1\.1 400 /);
    expect(noHost).toMatch(/\r\ncontent-type: application\/problem\+json/i);
    expect(noHost).toContain('"code":"HOST_REQUIRED"');

    const garbage = await sendRaw(running.port, 'G\u0000T / HTTP/1.1\r\n\r\n');
    expect(garbage).toMatch(/^HTTP\/1\.1 400 /);
    expect(garbage).toContain('"code":"MALFORMED_REQUEST"');
  });
});

describe('request ids and replica identity', () => {
  it.each(['/api/hello', '/api/users', '/health/live', '/api/orders'])(
    '%s echoes the caller request id and names this process',
    async (path) => {
      const res = await fetch(url(path), { headers: { 'x-request-id': 'trace-abc.123' } });
      expect(res.headers.get('x-request-id')).toBe('trace-abc.123');
      expect(res.headers.get('x-served-by')).toBe(TEST_INSTANCE);
    },
  );

  it('replaces an unsafe request id with a fresh uuid', async () => {
    const res = await fetch(url('/api/orders'), { headers: { 'x-request-id': 'bad id with spaces' } });
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('health', () => {
  it('is live, ready while the users database answers, and unready once draining starts', async () => {
    const own = await startMonolith();
    try {
      const live = await fetch(`${own.baseUrl}/health/live`);
      expect(live.status).toBe(200);
      expect(await live.json()).toEqual({ status: 'ok', service: 'monolith', instance: TEST_INSTANCE });

      const ready = await fetch(`${own.baseUrl}/health/ready`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({ status: 'ready', checks: { database: { ok: true } } });

      own.health.startDraining();
      const draining = await fetch(`${own.baseUrl}/health/ready`);
      expect(draining.status).toBe(503);
      expect(await draining.json()).toMatchObject({ status: 'draining', service: 'monolith' });
      expect((await fetch(`${own.baseUrl}/health/live`)).status).toBe(200);
    } finally {
      await own.stop();
    }
  });
});

describe('logs', () => {
  it('writes one line per request, hello and users alike, with the URL the client sent', async () => {
    const lines: { reqId?: string; msg: string; req?: { url: string } }[] = [];
    const dataDir = mkdtempSync(join(tmpdir(), 'monolith-logs-'));
    const config = loadMonolithConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'info', INSTANCE_NAME: TEST_INSTANCE });
    const logger = createLogger(config, { write: (line: string) => lines.push(JSON.parse(line)) });
    const app = buildApp(config, { logger });
    try {
      const urls = ['/api/hello/uptime?x=1', '/api/hello/nope', '/api/users?limit=1', '/api/orders'];
      for (const [n, url] of urls.entries()) await app.inject({ url, headers: { 'x-request-id': `log-${n}` } });
    } finally {
      await app.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
    const perRequest = lines.filter((line) => line.reqId?.startsWith('log-'));
    expect(perRequest.map((line) => [line.msg, line.req?.url])).toEqual([
      ['request completed', '/api/hello/uptime?x=1'],
      ['request completed', '/api/hello/nope'],
      ['request completed', '/api/users?limit=1'],
      ['request completed', '/api/orders'],
    ]);
  });
});
