import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
import { Faults } from '@lab/platform/faults';
import { createLogger } from '@lab/platform/logger';
import { DatabaseUnavailableError } from '@lab/platform/problem';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { buildApp, KEY_SWEEP_INTERVAL_MS } from './app.ts';
import { loadUsersConfig } from './config.ts';
import { createSqliteUsersRepository, DATABASE_FILE } from './sqlite-repository.ts';
import type { UsersRepository } from './users-repository.ts';

let dataDir: string;
let app: FastifyInstance;

const open = () => buildApp(loadUsersConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', INSTANCE_NAME: 'users-test-1' }));
const create = (body: unknown, key?: string) =>
  app.inject({
    method: 'POST',
    url: '/',
    payload: body as object,
    headers: key === undefined ? {} : { 'idempotency-key': key },
  });
const listed = async () => (await app.inject({ url: '/' })).json().items as { id: string }[];

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'users-test-'));
  app = open();
});

afterEach(async () => {
  await app.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('users CRUD', () => {
  it('creates a user and reads it back by id', async () => {
    const created = await create({ name: 'Ada Lovelace', email: 'ada@example.org' });
    expect(created.statusCode).toBe(201);
    const user = created.json();
    expect(user).toMatchObject({ name: 'Ada Lovelace', email: 'ada@example.org' });
    expect(user.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Date.parse(user.createdAt)).not.toBeNaN();
    expect(created.headers.location).toBe(`/${user.id}`);

    const proxied = await app.inject({
      method: 'POST',
      url: '/',
      headers: { 'x-forwarded-prefix': '/api/users' },
      payload: { name: 'Behind A Proxy', email: 'proxied@example.org' },
    });
    expect(proxied.headers.location).toBe(`/api/users/${proxied.json().id}`);
    const spoofed = await app.inject({
      method: 'POST',
      url: '/',
      headers: { 'x-forwarded-prefix': '//evil.example/x' },
      payload: { name: 'Spoofed', email: 'spoofed@example.org' },
    });
    expect(spoofed.headers.location).toBe(`/${spoofed.json().id}`);

    const read = await app.inject({ method: 'GET', url: `/${user.id}` });
    expect(read.statusCode).toBe(200);
    expect(read.json()).toEqual(user);
  });

  it('lists users in creation order, a page at a time', async () => {
    for (const n of [1, 2, 3]) await create({ name: `User ${n}`, email: `u${n}@example.org` });
    const first = (await app.inject({ method: 'GET', url: '/?limit=2' })).json();
    expect(first.items.map((u: { name: string }) => u.name)).toEqual(['User 1', 'User 2']);
    expect(first.nextCursor).toBe(first.items[1].id);
    const second = (await app.inject({ method: 'GET', url: `/?limit=2&cursor=${first.nextCursor}` })).json();
    expect(second.items.map((u: { name: string }) => u.name)).toEqual(['User 3']);
    expect(second.nextCursor).toBeNull();
  });

  it('replaces with PUT, changes one field with PATCH, and deletes', async () => {
    const { id } = (await create({ name: 'Grace', email: 'grace@example.org' })).json();
    const put = await app.inject({
      method: 'PUT',
      url: `/${id}`,
      payload: { name: 'Grace Hopper', email: 'gh@example.org' },
    });
    expect(put.statusCode).toBe(200);
    expect(put.json()).toMatchObject({ id, name: 'Grace Hopper', email: 'gh@example.org' });
    const patch = await app.inject({ method: 'PATCH', url: `/${id}`, payload: { name: 'Rear Admiral Hopper' } });
    expect(patch.json()).toMatchObject({ id, name: 'Rear Admiral Hopper', email: 'gh@example.org' });
    expect((await app.inject({ method: 'DELETE', url: `/${id}` })).statusCode).toBe(204);
    expect((await app.inject({ method: 'GET', url: `/${id}` })).statusCode).toBe(404);
    expect((await app.inject({ method: 'DELETE', url: `/${id}` })).statusCode).toBe(404);
  });

  it('keeps users in a real database file under DATA_DIR across restarts', async () => {
    const { id } = (await create({ name: 'Persisted', email: 'p@example.org' })).json();
    expect(existsSync(join(dataDir, DATABASE_FILE))).toBe(true);
    await app.close();
    app = open();
    expect((await app.inject({ method: 'GET', url: `/${id}` })).json()).toMatchObject({ id, name: 'Persisted' });
  });
});

describe('users input contract', () => {
  const problem = (res: { headers: Record<string, unknown>; json: () => unknown }) => {
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    return res.json() as { status: number; code: string; errors?: { field: string; message: string }[] };
  };

  it('lists every invalid field in one 400 problem', async () => {
    const res = await create({ name: '', email: 'not-an-email', admin: true });
    expect(res.statusCode).toBe(400);
    const body = problem(res);
    expect(body.code).toBe('VALIDATION_FAILED');
    expect(body.errors?.map((e) => e.field).sort()).toEqual(['body/admin', 'body/email', 'body/name']);
  });

  it('names missing fields', async () => {
    const body = problem(await create({ name: 'No Email' }));
    expect(body.errors).toEqual([{ field: 'body/email', message: "must have required property 'email'" }]);
  });

  it('rejects a number where a name belongs instead of coercing it', async () => {
    expect((await create({ name: 12345, email: 'n@example.org' })).statusCode).toBe(400);
  });

  it('answers a duplicate email, in any case, with 409 and creates nothing', async () => {
    await create({ name: 'First', email: 'same@example.org' });
    const dup = await create({ name: 'Second', email: 'SAME@example.org' });
    expect(dup.statusCode).toBe(409);
    expect(problem(dup).code).toBe('CONFLICT');
    expect((await app.inject({ method: 'GET', url: '/' })).json().items).toHaveLength(1);
  });

  it.each([
    ['malformed JSON', 'application/json', '{"name":', 400],
    ['a wrong content type', 'text/plain', 'hi', 415],
  ])('answers %s with %i problem+json', async (_what, contentType, payload, status) => {
    const res = await app.inject({ method: 'POST', url: '/', headers: { 'content-type': contentType }, payload });
    expect(res.statusCode).toBe(status);
    problem(res);
  });

  it('answers an oversized body with 413', async () => {
    const res = await create({ name: 'x'.repeat(20_000), email: 'big@example.org' });
    expect(res.statusCode).toBe(413);
    problem(res);
  });

  it('answers a malformed id with 400 and an unknown one with 404', async () => {
    expect((await app.inject({ method: 'GET', url: '/not-a-uuid' })).statusCode).toBe(400);
    const missing = await app.inject({ method: 'GET', url: '/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b' });
    expect(missing.statusCode).toBe(404);
    expect(problem(missing).code).toBe('NOT_FOUND');
  });

  const post = (contentType: string | undefined, payload: string | Buffer, url = '/') =>
    app.inject({
      method: 'POST',
      url,
      payload,
      headers: contentType === undefined ? {} : { 'content-type': contentType },
    });

  it('takes JSON in UTF-8 only: other media types and charsets are 415', async () => {
    const json = JSON.stringify({ name: 'Ada', email: 'ada@example.org' });
    for (const contentType of [
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/json; charset=latin1',
      'application/json; charset=utf-16',
      'application/xml',
      undefined,
    ]) {
      const res = await post(contentType, contentType?.startsWith('application/json') ? json : 'name=Ada');
      expect(res.statusCode, String(contentType)).toBe(415);
      problem(res);
    }
    expect((await post('application/json; charset="UTF-8"', json)).statusCode).toBe(201);
  });

  it('answers bytes that are not UTF-8 with 400 instead of storing replacement characters', async () => {
    const invalid = Buffer.concat([
      Buffer.from('{"name":"A'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('","email":"a@x.org"}'),
    ]);
    const res = await post('application/json', invalid);
    expect(res.statusCode).toBe(400);
    expect(problem(res).code).toBe('FST_ERR_CTP_INVALID_JSON_BODY');
  });

  it('refuses prototype-pollution keys whole', async () => {
    for (const payload of [
      '{"name":"A","email":"a@x.org","__proto__":{"admin":true}}',
      '{"name":"A","email":"a@x.org","constructor":{"prototype":{"admin":true}}}',
    ]) {
      expect((await post('application/json', payload)).statusCode, payload).toBe(400);
    }
    expect(({} as { admin?: boolean }).admin).toBeUndefined();
  });

  it('refuses control characters and lone surrogates in names, and keeps real unicode as sent', async () => {
    for (const name of ['nul\u0000byte', 'bell\u0007', 'c1\u0085', 'lone\ud800surrogate', 'low\udc00']) {
      // JSON.stringify escapes these (\u0000, \ud800), so the JSON is valid and only the value is wrong.
      const res = await post('application/json', JSON.stringify({ name, email: 'u@example.org' }));
      expect(res.statusCode, name).toBe(400);
      expect(problem(res).errors?.[0]?.field).toBe('body/name');
    }
    const name = 'Zoë 李 👩🏽‍💻 ﷽';
    const created = await create({ name, email: 'unicode@example.org' });
    expect(created.statusCode).toBe(201);
    expect((await app.inject({ url: `/${created.json().id}` })).json().name).toBe(name);
  });

  it('answers nulls, huge numbers and deep nesting with 400', async () => {
    for (const payload of [
      'null',
      '{"name":null,"email":null}',
      '{"name":1e999,"email":"n@example.org"}',
      '{"name":123456789012345678901234567890,"email":"n@example.org"}',
      `${'['.repeat(4000)}${']'.repeat(4000)}`,
      `{"name":"A","email":"n@example.org","x":${'{"a":'.repeat(2000)}1${'}'.repeat(2000)}}`,
    ]) {
      const res = await post('application/json', payload);
      expect(res.statusCode, payload.slice(0, 40)).toBe(400);
      problem(res);
    }
  });

  it('stores SQL-looking text literally', async () => {
    const name = "Robert'); DROP TABLE users; --";
    const created = await create({ name, email: 'bobby@example.org' });
    expect(created.statusCode).toBe(201);
    const list = (await app.inject({ url: '/' })).json();
    expect(list.items).toEqual([expect.objectContaining({ name })]);
    expect((await app.inject({ url: "/?cursor=' OR 1=1 --" })).statusCode).toBe(400);
  });

  it('answers repeated and unknown query parameters with 400 on every route', async () => {
    const id = '0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b';
    for (const url of ['/?limit=1&limit=2', '/?cursor=a&cursor=b', '/?debug=1', `/${id}?fields=all`]) {
      const res = await app.inject({ url });
      expect(res.statusCode, url).toBe(400);
      problem(res);
    }
    const res = await app.inject({
      method: 'POST',
      url: '/?admin=true',
      payload: { name: 'Q', email: 'q@example.org' },
    });
    expect(res.statusCode).toBe(400);
  });

  it('answers odd path encodings and very long ids with 4xx problem+json', async () => {
    for (const [url, status] of [
      ['/%ZZ', 400],
      ['/%00', 400],
      ['/%F0%9F%92%A9', 400],
      [`/${'a'.repeat(5000)}`, 414],
      ['/a/b/c', 404],
    ] as const) {
      const res = await app.inject({ url });
      expect(res.statusCode, url).toBe(status);
      problem(res);
    }
  });

  it('answers a wrong method with 405 and the allowed ones, an unknown route with 404', async () => {
    const onCollection = await app.inject({ method: 'DELETE', url: '/' });
    expect(onCollection.statusCode).toBe(405);
    expect(onCollection.headers.allow).toBe('GET, HEAD, POST');
    expect(problem(onCollection).code).toBe('METHOD_NOT_ALLOWED');
    const onItem = await app.inject({ method: 'POST', url: '/0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b' });
    expect(onItem.statusCode).toBe(405);
    expect(onItem.headers.allow).toBe('DELETE, GET, HEAD, PATCH, PUT');
    expect((await app.inject({ method: 'GET', url: '/users/x/y' })).statusCode).toBe(404);
  });

  it('bounds the page size', async () => {
    expect((await app.inject({ method: 'GET', url: '/?limit=101' })).statusCode).toBe(400);
    expect((await app.inject({ method: 'GET', url: '/?limit=0' })).statusCode).toBe(400);
    expect((await app.inject({ method: 'GET', url: '/?limit=abc' })).statusCode).toBe(400);
  });
});

describe('users logs', () => {
  it('never contain what a client sent in a body, accepted or refused', async () => {
    const lines: string[] = [];
    const config = loadUsersConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'trace', INSTANCE_NAME: 'users-logs' });
    const logged = buildApp(config, { logger: createLogger(config, { write: (line: string) => lines.push(line) }) });
    const secret = 'Sekrit-Marker-7c1e';
    const email = `${secret.toLowerCase()}@example.org`;
    const bodies: { contentType: string; payload: string }[] = [
      { contentType: 'application/json', payload: JSON.stringify({ name: secret, email }) },
      { contentType: 'application/json', payload: JSON.stringify({ name: secret, email }) },
      { contentType: 'application/json', payload: `{"name":"${secret}", oops` },
      { contentType: 'application/json', payload: JSON.stringify({ name: secret, email: secret, [secret]: 1 }) },
      { contentType: 'application/json', payload: `{"__proto__":{"${secret}":1}}` },
      { contentType: 'application/json', payload: JSON.stringify({ name: secret.repeat(2000), email }) },
      { contentType: 'text/plain', payload: secret },
    ];
    const statuses: number[] = [];
    for (const { contentType, payload } of bodies) {
      const res = await logged.inject({ method: 'POST', url: '/', headers: { 'content-type': contentType }, payload });
      statuses.push(res.statusCode);
    }
    await logged.close();
    expect(statuses).toEqual([201, 409, 400, 400, 400, 413, 415]);
    expect(lines.length).toBeGreaterThanOrEqual(bodies.length);
    expect(lines.filter((line) => line.toLowerCase().includes(secret.toLowerCase()))).toEqual([]);
  });
});

describe('users health', () => {
  it('is ready when the database answers, and names the replica', async () => {
    const res = await app.inject({ method: 'GET', url: '/health/ready' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ready', checks: { database: { ok: true } } });
    expect(res.headers['x-served-by']).toBe('users-test-1');
  });
});

describe('POST / with an Idempotency-Key', () => {
  const ada = { name: 'Ada', email: 'ada@example.org' };

  it('answers a retry with the first response and creates nothing new', async () => {
    const first = await create(ada, 'order-7f3a');
    const retry = await create({ email: ada.email, name: ada.name }, 'order-7f3a');
    expect(first.statusCode).toBe(201);
    expect(retry.statusCode).toBe(201);
    expect(retry.json()).toEqual(first.json());
    expect(retry.headers.location).toBe(first.headers.location);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(first.headers['idempotent-replayed']).toBeUndefined();
    expect(await listed()).toHaveLength(1);
  });

  it('replays the response as first given, even after the user changed', async () => {
    const first = await create(ada, 'k1');
    await app.inject({ method: 'PATCH', url: `/${first.json().id}`, payload: { name: 'Countess' } });
    expect((await create(ada, 'k1')).json()).toEqual(first.json());
  });

  it('creates exactly one user from concurrent duplicates', async () => {
    const responses = await Promise.all(Array.from({ length: 5 }, () => create(ada, 'same-key')));
    expect(responses.map((res) => res.statusCode)).toEqual([201, 201, 201, 201, 201]);
    expect(new Set(responses.map((res) => res.json().id)).size).toBe(1);
    expect(await listed()).toHaveLength(1);
  });

  it('creates exactly one user when replicas on the same database file get the same key', async () => {
    const replica = open();
    try {
      const responses = await Promise.all(
        [app, replica, app, replica].map((target) =>
          target.inject({ method: 'POST', url: '/', payload: ada, headers: { 'idempotency-key': 'shared' } }),
        ),
      );
      expect(new Set(responses.map((res) => `${res.statusCode} ${res.json().id}`)).size).toBe(1);
      expect(await listed()).toHaveLength(1);
    } finally {
      await replica.close();
    }
  });

  it('answers the same key with a different body with 422 and changes nothing', async () => {
    await create(ada, 'k2');
    const reused = await create({ name: 'Grace', email: 'grace@example.org' }, 'k2');
    expect(reused.statusCode).toBe(422);
    expect(reused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(reused.json()).toMatchObject({ status: 422, code: 'IDEMPOTENCY_KEY_REUSED' });
    expect(await listed()).toHaveLength(1);
  });

  it('keeps keys apart: another key creates another user, no key behaves as before', async () => {
    expect((await create(ada, 'k3')).statusCode).toBe(201);
    expect((await create({ name: 'Grace', email: 'grace@example.org' }, 'k4')).statusCode).toBe(201);
    expect((await create(ada)).statusCode).toBe(409);
    expect(await listed()).toHaveLength(2);
  });

  it('records nothing for a create that failed, so a retry runs again', async () => {
    await create(ada);
    expect((await create(ada, 'k5')).statusCode).toBe(409);
    await app.inject({ method: 'DELETE', url: `/${(await listed())[0]?.id}` });
    expect((await create(ada, 'k5')).statusCode).toBe(201);
  });

  it('validates the key: 1 to 200 printable ASCII characters', async () => {
    for (const key of ['', 'x'.repeat(201), 'tab\there', 'ключ', 'nul\u0001']) {
      const res = await create(ada, key);
      expect(res.statusCode, JSON.stringify(key)).toBe(400);
      expect(res.json().errors[0].field).toBe('headers/idempotency-key');
    }
    expect((await create(ada, `~ ${'x'.repeat(198)}`)).statusCode).toBe(201);
    expect(await listed()).toHaveLength(1);
  });

  it('holds across a restart on the same DATA_DIR', async () => {
    const first = await create(ada, 'durable-key');
    await app.close();
    app = open();
    const retry = await create(ada, 'durable-key');
    expect(retry.statusCode).toBe(201);
    expect(retry.json()).toEqual(first.json());
    expect(retry.headers.location).toBe(first.headers.location);
    expect((await create({ name: 'Other', email: 'o@example.org' }, 'durable-key')).statusCode).toBe(422);
    expect(await listed()).toHaveLength(1);
  });
});

describe('users in the lab', () => {
  it('answers with an injected error while its lab faults say so, ready all along, and counts both at /health/stats', async () => {
    const faults = new Faults();
    const faulty = buildApp(
      loadUsersConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', INSTANCE_NAME: 'users-test-2' }),
      {
        faults,
      },
    );
    try {
      faults.set({ errorRate: 1, errorStatus: 503 });
      const failed = await faulty.inject({ url: '/' });
      expect(failed.statusCode).toBe(503);
      expect(failed.json()).toMatchObject({ title: 'Injected fault', code: 'INJECTED_FAULT' });
      expect((await faulty.inject({ url: '/health/ready' })).statusCode).toBe(200);
      faults.clear();
      expect((await faulty.inject({ url: '/' })).statusCode).toBe(200);
      expect((await faulty.inject({ url: '/health/stats' })).json()).toMatchObject({
        service: 'users',
        instance: 'users-test-2',
        requests: 2,
        errors: 1,
        statusClasses: { '2xx': 1, '5xx': 1 },
      });
    } finally {
      await faulty.close();
    }
  });
});

describe('#21: idempotency keys expire, and a key does not outlive its user', () => {
  const ada = { name: 'Ada', email: 'ada@example.org' };

  it('#21 finding 10: a replay of a key whose user was deleted since answers 410 problem+json, not 201', async () => {
    const first = await create(ada, 'key-then-delete');
    expect(first.statusCode).toBe(201);
    expect((await app.inject({ method: 'DELETE', url: `/${first.json().id}` })).statusCode).toBe(204);
    const replay = await create(ada, 'key-then-delete');
    expect(replay.statusCode).toBe(410);
    expect(replay.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(replay.json()).toMatchObject({ status: 410, code: 'IDEMPOTENCY_KEY_RESOURCE_GONE' });
    expect(replay.headers.location).toBeUndefined();
    expect(await listed()).toHaveLength(0);
  });

  it('#21 finding 10: sweeps expired keys outside any request, on a timer that holds no process open and stops on close', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const setIntervalSpy = vi.spyOn(globalThis, 'setInterval');
    let now = Date.parse('2030-01-01T00:00:00.000Z');
    const config = loadUsersConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', IDEMPOTENCY_KEY_TTL_HOURS: '1' });
    const repository = createSqliteUsersRepository({ ...config, now: () => now });
    let sweeps = 0;
    const counted: UsersRepository = {
      ...repository,
      sweepExpiredKeys: () => {
        sweeps++;
        return repository.sweepExpiredKeys();
      },
    };
    const swept = buildApp(config, { repository: counted, logger: createLogger(config, { write: () => {} }) });
    try {
      await swept.ready();
      const timers = setIntervalSpy.mock.results.map((result) => result.value as NodeJS.Timeout);
      expect(timers).toHaveLength(1);
      expect(timers[0]?.hasRef()).toBe(false);
      const made = await swept.inject({ method: 'POST', url: '/', payload: ada, headers: { 'idempotency-key': 'k' } });
      expect(made.statusCode).toBe(201);
      expect(sweeps).toBe(0);

      now += 3_600_000;
      await vi.advanceTimersByTimeAsync(KEY_SWEEP_INTERVAL_MS);
      expect(sweeps).toBe(1);
      expect(await repository.counts()).toEqual({ users: 1, idempotencyKeys: 0 });

      await swept.close();
      expect(vi.getTimerCount()).toBe(0);
      await vi.advanceTimersByTimeAsync(3 * KEY_SWEEP_INTERVAL_MS);
      expect(sweeps).toBe(1);
    } finally {
      vi.useRealTimers();
      setIntervalSpy.mockRestore();
      await swept.close();
    }
  });
});

describe("#21: users while another replica holds the SQLite file's write lock", () => {
  let otherReplica: DatabaseSync | undefined;
  afterEach(() => {
    if (otherReplica?.isTransaction) otherReplica.exec('ROLLBACK');
    otherReplica?.close();
    otherReplica = undefined;
  });

  const lockedApp = async (busyTimeoutMs: number) => {
    await app.close();
    app = buildApp(
      loadUsersConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', DB_BUSY_TIMEOUT_MS: String(busyTimeoutMs) }),
    );
    await app.ready();
    otherReplica = new DatabaseSync(join(dataDir, DATABASE_FILE));
    otherReplica.exec('BEGIN IMMEDIATE');
    return otherReplica;
  };
  /**
   * Readiness probed 50 ms into the create's wait, timed from the create: the gateway's probe
   * gives up after 1 s, and a loop held by the wait would delay even the 50 ms timer.
   */
  const probeWhileWaiting = async () => {
    const startedAt = performance.now();
    await sleep(50);
    const res = await app.inject({ url: '/health/ready' });
    return { status: res.statusCode, ms: performance.now() - startedAt };
  };

  it('#21 finding 11: readiness answers at once while a create waits for the lock, and the create then answers 201', async () => {
    const lock = await lockedApp(5000);
    const waiting = create({ name: 'Patient', email: 'patient@example.org' });
    const probe = await probeWhileWaiting();
    expect(probe.status).toBe(200);
    expect(probe.ms).toBeLessThan(250);
    lock.exec('COMMIT');
    const created = await waiting;
    expect(created.statusCode).toBe(201);
    expect(await listed()).toHaveLength(1);
  });

  it('#21 finding 11: a create still locked out after DB_BUSY_TIMEOUT_MS answers 503 problem+json, readiness 200 meanwhile', async () => {
    await lockedApp(500);
    const waiting = create({ name: 'Too late', email: 'late@example.org' });
    const probe = await probeWhileWaiting();
    expect(probe.status).toBe(200);
    expect(probe.ms).toBeLessThan(250);
    const refused = await waiting;
    expect(refused.statusCode).toBe(503);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.json()).toMatchObject({ status: 503, code: 'DATABASE_UNAVAILABLE' });
    expect(refused.body).not.toMatch(/locked|users\.db|SQLITE/i);
  });
});

describe('#21: a database away, as the client and the log see it', () => {
  it("#21 finding 13: a 503 carries a fixed detail, never the driver's words, which the request's log line keeps", async () => {
    const driverSays = 'connect ECONNREFUSED 10.9.8.7:5432 (pg_hba.conf rejects "lab")';
    const lines: string[] = [];
    const config = loadUsersConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'info', INSTANCE_NAME: 'users-away' });
    const repository = createSqliteUsersRepository(config);
    // What postgres-repository.ts throws when the pg driver reports the server away.
    const away = async (): Promise<never> => {
      throw new DatabaseUnavailableError(driverSays);
    };
    const broken = buildApp(config, {
      repository: { ...repository, list: away, create: away },
      logger: createLogger(config, { write: (line: string) => lines.push(line) }),
    });
    try {
      for (const res of [
        await broken.inject({ url: '/' }),
        await broken.inject({ method: 'POST', url: '/', payload: { name: 'A', email: 'a@example.org' } }),
      ]) {
        expect(res.statusCode).toBe(503);
        expect(res.json()).toEqual({
          type: 'https://microservices-lab.dev/problems/database-unavailable',
          title: 'Service Unavailable',
          status: 503,
          detail: 'The database is unavailable; retry, with the same Idempotency-Key for a create',
          instance: expect.any(String),
          code: 'DATABASE_UNAVAILABLE',
        });
        expect(res.body).not.toMatch(/ECONNREFUSED|10\.9\.8\.7|pg_hba/);
      }
    } finally {
      await broken.close();
    }
    const failures = lines.filter((line) => line.includes('"request failed"'));
    expect(failures).toHaveLength(2);
    for (const line of failures) expect(JSON.parse(line).err.reason).toBe(driverSays);
  });
});

describe('#21: names display as what they are', () => {
  const problem = (res: { statusCode: number; json: () => unknown }) =>
    res.json() as { code: string; errors?: { field: string }[] };

  it('#21 finding 15: refuses format characters (bidi overrides, zero-width, U+FEFF) in names with 400 naming body/name, on POST, PUT and PATCH', async () => {
    const { id } = (await create({ name: 'Plain', email: 'plain@example.org' })).json();
    const formatted = [
      'evil\u202Egnp.exe',
      'a\u2066b\u2069',
      'Ad\u200Bmin',
      'Ad\u200Cmin',
      'Ad\u200Dmin',
      '\uFEFFAda',
      'Ada\u200E',
      'soft\u00ADhyphen',
      'word\u2060joiner',
      'tag\u{E0041}',
    ];
    for (const name of formatted) {
      const body = JSON.stringify({ name, email: 'f@example.org' });
      for (const [method, url, payload] of [
        ['POST', '/', body],
        ['PUT', `/${id}`, body],
        ['PATCH', `/${id}`, JSON.stringify({ name })],
      ] as const) {
        const res = await app.inject({ method, url, payload, headers: { 'content-type': 'application/json' } });
        expect(res.statusCode, `${method} ${JSON.stringify(name)}`).toBe(400);
        expect(problem(res).code).toBe('VALIDATION_FAILED');
        expect(problem(res).errors?.map((e) => e.field)).toEqual(['body/name']);
      }
    }
    expect((await listed()).map((u) => u.id)).toEqual([id]);
    expect((await app.inject({ url: `/${id}` })).json().name).toBe('Plain');
  });

  it('#21 finding 15: stores names NFC-normalised: an NFD name comes back NFC, on POST, PUT and PATCH', async () => {
    const nfd = 'Zoe\u0308 Ame\u0301lie'; // e + combining diaeresis, e + combining acute
    const nfc = 'Zo\u00EB Am\u00E9lie';
    const created = await create({ name: nfd, email: 'zoe@example.org' }, 'nfd-key');
    expect(created.statusCode).toBe(201);
    expect(created.json().name).toBe(nfc);
    const { id } = created.json();
    expect((await app.inject({ url: `/${id}` })).json().name).toBe(nfc);
    // The same name in either form is the same request: a retry spelled NFC replays.
    const retried = await create({ name: nfc, email: 'zoe@example.org' }, 'nfd-key');
    expect(retried.headers['idempotent-replayed']).toBe('true');
    const put = await app.inject({
      method: 'PUT',
      url: `/${id}`,
      payload: { name: `${nfd}!`, email: 'zoe@example.org' },
    });
    expect(put.json().name).toBe(`${nfc}!`);
    const patch = await app.inject({ method: 'PATCH', url: `/${id}`, payload: { name: 'Cafe\u0301' } });
    expect(patch.json().name).toBe('Caf\u00E9');
    expect((await app.inject({ url: `/${id}` })).json().name).toBe('Caf\u00E9');
  });
});
