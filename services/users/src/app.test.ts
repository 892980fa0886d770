import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from './app.ts';
import { loadUsersConfig } from './config.ts';
import { DATABASE_FILE } from './users-repository.ts';

let dataDir: string;
let app: FastifyInstance;

const open = () => buildApp(loadUsersConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', INSTANCE_NAME: 'users-test-1' }));
const create = (body: unknown) => app.inject({ method: 'POST', url: '/', payload: body as object });

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

  it('answers malformed JSON with 400 and a wrong content type with 415', async () => {
    const malformed = await app.inject({
      method: 'POST',
      url: '/',
      headers: { 'content-type': 'application/json' },
      payload: '{"name":',
    });
    expect(malformed.statusCode).toBe(400);
    problem(malformed);
    const wrongType = await app.inject({
      method: 'POST',
      url: '/',
      headers: { 'content-type': 'text/plain' },
      payload: 'hi',
    });
    expect(wrongType.statusCode).toBe(415);
    problem(wrongType);
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

  it('bounds the page size', async () => {
    expect((await app.inject({ method: 'GET', url: '/?limit=101' })).statusCode).toBe(400);
    expect((await app.inject({ method: 'GET', url: '/?limit=0' })).statusCode).toBe(400);
    expect((await app.inject({ method: 'GET', url: '/?limit=abc' })).statusCode).toBe(400);
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
