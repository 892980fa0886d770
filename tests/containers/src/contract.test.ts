import { randomBytes } from 'node:crypto';
import { fileFixture } from '@lab/lab-kit/fixture';
import type { StartedTestContainer } from 'testcontainers';
import { beforeAll, describe, expect, it } from 'vitest';
import { hostUrl, startStack } from './stack.ts';

/**
 * One contract, two deployments: the same requests against the gateway in front of
 * hello and users, and against the monolith that mounts the same code in one process,
 * must get the same answers (ids, times and container names aside).
 */
interface Step {
  status: number;
  mediaType: string;
  body: unknown;
  allow?: string;
  location?: string;
}

const VOLATILE = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Replaces what legitimately differs between runs and deployments. */
function normalise(value: unknown, key = ''): unknown {
  if (Array.isArray(value)) return value.map((v) => normalise(v));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalise(v, k)]));
  }
  if (typeof value !== 'string') return key === 'uptimeSeconds' ? '<seconds>' : value;
  if (['instance', 'createdAt', 'startedAt', 'id', 'nextCursor'].includes(key)) return `<${key}>`;
  if (/\(up \d+:\d\d:\d\d\)/.test(value)) return value.replace(/\d+:\d\d:\d\d/, 'H:MM:SS');
  return value.replace(new RegExp(VOLATILE.source.slice(1, -1), 'g'), '<id>');
}

async function step(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const mediaType = (res.headers.get('content-type') ?? '').split(';')[0] ?? '';
  const text = await res.text();
  const parsed: unknown = mediaType.endsWith('json') && text ? JSON.parse(text) : text;
  const result: Step = { status: res.status, mediaType, body: normalise(parsed) };
  const allow = res.headers.get('allow');
  if (allow) result.allow = allow;
  const location = res.headers.get('location');
  if (location) result.location = normalise(location) as string;
  return { result, raw: parsed as { id?: string } };
}

/** The contract as a script; every answer is kept for the comparison. */
async function exercise(baseUrl: string): Promise<Record<string, Step>> {
  // The same data for both deployments (each has its own database), so answers compare.
  const run = 'twin';
  const t: Record<string, Step> = {};
  t.hello = (await step(baseUrl, 'GET', '/api/hello')).result;
  t.uptime = (await step(baseUrl, 'GET', '/api/hello/uptime')).result;
  const created = await step(baseUrl, 'POST', '/api/users', {
    name: 'Contract Cora',
    email: `cora-${run}@example.org`,
  });
  t.create = created.result;
  const id = created.raw.id;
  t.read = (await step(baseUrl, 'GET', `/api/users/${id}`)).result;
  t.put = (await step(baseUrl, 'PUT', `/api/users/${id}`, { name: 'Cora C.', email: `cc-${run}@example.org` })).result;
  t.patch = (await step(baseUrl, 'PATCH', `/api/users/${id}`, { name: 'Cora' })).result;
  t.listPage = (await step(baseUrl, 'GET', '/api/users?limit=1')).result;
  t.invalid = (await step(baseUrl, 'POST', '/api/users', { name: '', email: 'nope', role: 'admin' })).result;
  t.duplicate = (await step(baseUrl, 'POST', '/api/users', { name: 'Again', email: `CC-${run}@example.org` })).result;
  const key = { 'idempotency-key': `contract-${run}` };
  const once = { name: 'Idem', email: `idem-${run}@example.org` };
  t.idempotentFirst = (await step(baseUrl, 'POST', '/api/users', once, key)).result;
  t.idempotentReplay = (await step(baseUrl, 'POST', '/api/users', once, key)).result;
  t.wrongMethod = (await step(baseUrl, 'DELETE', '/api/users')).result;
  t.unknownRoute = (await step(baseUrl, 'GET', '/api/orders')).result;
  t.remove = (await step(baseUrl, 'DELETE', `/api/users/${id}`)).result;
  t.gone = (await step(baseUrl, 'GET', `/api/users/${id}`)).result;
  t.live = (await step(baseUrl, 'GET', '/health/live')).result;
  return t;
}

const transcripts: Record<string, Record<string, Step>> = {};
const stack = fileFixture(() => startStack());
let monolith: StartedTestContainer;

beforeAll(async () => {
  // The twin beside the stack; the stack removes it and its volume with everything else.
  const volume = `mslab-monolith-${randomBytes(4).toString('hex')}`;
  monolith = await stack.startExtra('monolith', { publish: true, volume });
});

const targets = {
  microservices: () => stack.gatewayUrl,
  monolith: () => hostUrl(monolith, 'monolith'),
};

describe.each(Object.keys(targets) as (keyof typeof targets)[])('the public API contract, served by %s', (target) => {
  it('answers every step as the contract says', async () => {
    const t = await exercise(targets[target]());
    transcripts[target] = t;
    expect(t.hello).toEqual({ status: 200, mediaType: 'text/plain', body: 'Hello World (TypeScript)! (up H:MM:SS)\n' });
    expect(t.uptime).toMatchObject({ status: 200, body: { service: 'hello', version: '1.0.0' } });
    expect(t.create).toMatchObject({
      status: 201,
      mediaType: 'application/json',
      body: { id: '<id>', name: 'Contract Cora' },
    });
    expect(t.read?.body).toEqual(t.create?.body);
    expect(t.patch).toMatchObject({ status: 200, body: { name: 'Cora' } });
    expect(t.invalid).toMatchObject({
      status: 400,
      mediaType: 'application/problem+json',
      body: { code: 'VALIDATION_FAILED' },
    });
    expect(t.duplicate).toMatchObject({ status: 409, body: { code: 'CONFLICT' } });
    expect(t.idempotentReplay).toEqual(t.idempotentFirst);
    expect(t.wrongMethod).toMatchObject({ status: 405, mediaType: 'application/problem+json' });
    expect(t.unknownRoute).toMatchObject({
      status: 404,
      mediaType: 'application/problem+json',
      body: { code: 'NOT_FOUND' },
    });
    expect(t.remove?.status).toBe(204);
    expect(t.gone?.status).toBe(404);
    expect(t.live?.status).toBe(200);
  });
});

describe('one contract, two deployments', () => {
  it('gets the same answers from the monolith as from the microservices', () => {
    expect(Object.keys(transcripts).sort()).toEqual(['microservices', 'monolith']);
    const { microservices, monolith: twin } = transcripts;
    // Liveness bodies name the process that answered: the gateway, or the monolith.
    const comparable = (t: Record<string, Step> = {}) => ({ ...t, live: t.live?.status });
    expect(comparable(twin)).toEqual(comparable(microservices));
  });
});
