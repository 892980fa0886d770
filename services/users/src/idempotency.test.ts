import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from './app.ts';
import { loadUsersConfig } from './config.ts';

let dataDir: string;
let app: FastifyInstance;

const open = () => buildApp(loadUsersConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', INSTANCE_NAME: 'users-idem' }));
const create = (body: object, key?: string) =>
  app.inject({ method: 'POST', url: '/', payload: body, headers: key === undefined ? {} : { 'idempotency-key': key } });
const listed = async () => (await app.inject({ url: '/' })).json().items as { id: string }[];

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), 'users-idem-'));
  app = open();
});

afterEach(async () => {
  await app.close();
  rmSync(dataDir, { recursive: true, force: true });
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
