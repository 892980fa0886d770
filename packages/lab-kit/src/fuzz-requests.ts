// The users service's unit tests, the monolith's and the container tests fuzz with the same generators.
import { request as httpRequest } from 'node:http';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { expect } from 'vitest';

/** What databaseSnapshot reads of the users service's repository. */
interface ListableRepository {
  counts(): Promise<unknown>;
  list(query: { limit: number }): Promise<{ items: unknown[] }>;
}

/** Generators of hostile HTTP requests for the users service, shared by the in-process and over-HTTP fuzz tests. */

export interface FuzzRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: Buffer;
  /**
   * How the body travels (issue #21's client shapes): `chunked` with no Content-Length, in
   * small pieces; `continue` with `Expect: 100-continue`, sent only once the server says so.
   */
  delivery?: 'chunked' | 'continue';
}

export const FUZZ_SEED = 20_261_128;

export const SQL_ISH = [
  "'; DROP TABLE users; --",
  "' OR '1'='1",
  "Robert'); DROP TABLE users;--",
  '1; DELETE FROM users WHERE 1=1',
  "' UNION SELECT key, response FROM idempotency_keys --",
  '" OR ""="',
  "admin'--",
  '\\x27; PRAGMA writable_schema=1; --',
] as const;

const STRANGE_STRINGS = [
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\udfff',
  'x\ud83d',
  '\u202eevil',
  '\ufeff',
  '\u0085',
  'ß',
] as const;

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'] as const;
const WITH_BODY = new Set(['POST', 'PUT', 'PATCH']);
/** Methods Node's parser knows but no route here has, so routing, not parsing, must refuse them. */
const ODD_METHODS = ['PROPFIND', 'MKCOL', 'PURGE', 'SEARCH', 'REPORT', 'LOCK', 'TRACE', 'QUERY'] as const;

const percentEncodedBytes = fc
  .uint8Array({ minLength: 1, maxLength: 12 })
  .map((bytes) => [...bytes].map((byte) => `%${byte.toString(16).padStart(2, '0')}`).join(''));

const segment = fc.oneof(
  fc.stringMatching(/^[\w.~!$&'()*+,;=:@-]{1,24}$/),
  percentEncodedBytes,
  fc.constantFrom(
    '%ZZ',
    '%',
    '%0',
    '%00',
    '%2F',
    '..',
    '.',
    '',
    '__proto__',
    'constructor',
    'health',
    'live',
    ':id',
    '*',
  ),
  fc.integer({ min: 90, max: 3000 }).map((length) => 'a'.repeat(length)),
  fc.constantFrom(...SQL_ISH).map(encodeURIComponent),
);

const queryString = fc
  .array(
    fc.tuple(
      fc.oneof(fc.constantFrom('limit', 'cursor', '__proto__', 'constructor', 'x'), segment),
      fc.oneof(fc.constantFrom('1', '2', '100', '101', '0', '-1', '1e3', '', '00000000000001'), fc.uuid(), segment),
    ),
    { maxLength: 4 },
  )
  .map((pairs) => `?${pairs.map(([key, value]) => `${key}=${value}`).join('&')}`);

const url = (knownIds: readonly string[]) =>
  fc
    .tuple(
      fc.oneof(
        { weight: 3, arbitrary: fc.constant('/') },
        { weight: 3, arbitrary: fc.constantFrom(...knownIds).map((id) => `/${id}`) },
        { weight: 2, arbitrary: fc.uuid().map((id) => `/${id}`) },
        { weight: 1, arbitrary: fc.constantFrom('/health/live', '/health/ready') },
        {
          weight: 3,
          arbitrary: fc.array(segment, { minLength: 1, maxLength: 4 }).map((parts) => `/${parts.join('/')}`),
        },
      ),
      fc.option(queryString, { nil: '', freq: 3 }),
    )
    .map(([path, query]) => `${path}${query}`);

const printable = (maxLength: number) => fc.string({ unit: 'grapheme-ascii', maxLength });

const contentType = fc.oneof(
  fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'application/json; charset=UTF8',
    'application/json; charset=latin1',
    'application/json; charset=utf-16',
    'APPLICATION/JSON',
    'application/json, text/plain',
    'application/problem+json',
    'application/merge-patch+json',
    'text/plain',
    'text/plain; charset=utf-8',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=----x',
    'application/octet-stream',
    'application/xml',
    '*/*',
    '',
    ';;;',
  ),
  printable(40),
);

const jsonContentType = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  { weight: 2, arbitrary: fc.constantFrom('application/json; charset=utf-8', 'Application/JSON; charset="UTF-8"') },
  { weight: 1, arbitrary: contentType },
);

const headersWith = (contentTypes: fc.Arbitrary<string>) =>
  fc
    .record({
      contentType: fc.option(contentTypes, { nil: undefined, freq: 6 }),
      others: fc.record(
        {
          'idempotency-key': fc.oneof(printable(210), fc.constantFrom('retry-1', 'retry-2', 'retry-3')),
          'x-request-id': printable(140),
          accept: fc.constantFrom('application/json', '*/*', 'text/html', ''),
        },
        { requiredKeys: [] },
      ),
    })
    .map(
      ({ contentType: type, others }): Record<string, string> => ({
        ...others,
        ...(type === undefined ? {} : { 'content-type': type }),
      }),
    );

const strangeString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 120 }),
  fc.string({ unit: 'grapheme', maxLength: 110 }),
  fc.constantFrom(...SQL_ISH),
  fc.constantFrom(...STRANGE_STRINGS),
  fc.constantFrom(...STRANGE_STRINGS).map((odd) => `Ada${odd}`),
);

/** JSON text for one value; raw text so that numbers JSON.stringify cannot write (1e999) reach the parser. */
const valueText: fc.Arbitrary<string> = fc.oneof(
  strangeString.map((text) => JSON.stringify(text)),
  fc.emailAddress().map((text) => JSON.stringify(text)),
  fc.constantFrom('null', 'true', '0', '-0', '1e999', '-1e999', '123456789012345678901234567890', '1E-400', '[]', '{}'),
  fc.double().map((value) => JSON.stringify(value)),
  fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
);

const key = fc.oneof(
  fc.constantFrom(
    'name',
    'email',
    'name',
    'email',
    '__proto__',
    'constructor',
    'prototype',
    'id',
    'createdAt',
    'admin',
  ),
  strangeString,
);

/** Hand-built object text: duplicate keys and an own `__proto__` key survive, unlike with JSON.stringify. */
const userish = fc
  .array(fc.tuple(key, valueText), { maxLength: 5 })
  .map((entries) => `{${entries.map(([name, value]) => `${JSON.stringify(name)}:${value}`).join(',')}}`);

const plausibleUser = fc
  .record(
    {
      name: fc.oneof(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 100 }), fc.constantFrom(...SQL_ISH)),
      // Seeded addresses, in another case, make the 409 path run too.
      email: fc.oneof(fc.emailAddress(), fc.constantFrom('seed1@example.org', 'SEED2@Example.org')),
    },
    { requiredKeys: ['email'] },
  )
  .map((user) => JSON.stringify(user));

const deepNesting = fc
  .tuple(
    fc.integer({ min: 64, max: 7000 }),
    fc.constantFrom(['[', ']'], ['{"a":', '}'], ['{"name":', '}']),
    fc.boolean(),
  )
  .map(([depth, [open, close], balanced]) => `${open.repeat(depth)}1${balanced ? close.repeat(depth) : ''}`);

const body = fc.oneof(
  { weight: 3, arbitrary: fc.constant(undefined) },
  {
    weight: 3,
    arbitrary: fc.jsonValue({ maxDepth: 8, stringUnit: 'binary' }).map((v) => Buffer.from(JSON.stringify(v))),
  },
  { weight: 4, arbitrary: userish.map((text) => Buffer.from(text)) },
  { weight: 3, arbitrary: plausibleUser.map((text) => Buffer.from(text)) },
  { weight: 1, arbitrary: deepNesting.map((text) => Buffer.from(text)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes)) },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 16_400, max: 40_000 })
      .map((length) => Buffer.from(JSON.stringify({ name: 'x'.repeat(length), email: 'big@example.org' }))),
  },
);

/**
 * A mix: a quarter of the requests are anything at all; the rest aim at one route with
 * a JSON content type, mostly, so that most of them get as far as validation and the
 * repository instead of stopping at routing or content negotiation.
 */
export function fuzzRequest(knownIds: readonly string[]): fc.Arbitrary<FuzzRequest> {
  const itemPath = fc.oneof(fc.constantFrom(...knownIds), fc.uuid()).map((id) => `/${id}`);
  const anything = fc.record({
    method: fc.oneof({ weight: 9, arbitrary: fc.constantFrom(...METHODS) }, fc.constantFrom(...ODD_METHODS)),
    url: url(knownIds),
    headers: headersWith(contentType),
    body,
  });
  const create = fc.record({
    method: fc.constant('POST'),
    url: fc.oneof(
      { weight: 5, arbitrary: fc.constant('/') },
      fc.constant('/?'),
      queryString.map((q) => `/${q}`),
    ),
    headers: headersWith(jsonContentType),
    body,
  });
  const update = fc.record({
    method: fc.constantFrom('PUT', 'PATCH'),
    url: itemPath,
    headers: headersWith(jsonContentType),
    body,
  });
  const read = fc.record({
    method: fc.constantFrom('GET', 'HEAD', 'DELETE'),
    url: fc.oneof(itemPath, url(knownIds)),
    headers: headersWith(contentType),
    body: fc.option(body, { nil: undefined, freq: 2 }).map((payload) => payload ?? undefined),
  });
  const delivery = fc.option(fc.constantFrom('chunked' as const, 'continue' as const), { nil: undefined, freq: 4 });
  return fc
    .tuple(
      fc.oneof(
        { weight: 2, arbitrary: anything },
        { weight: 3, arbitrary: create },
        { weight: 3, arbitrary: update },
        read,
      ),
      delivery,
    )
    .map(([{ body: payload, ...request }, how]) => ({
      ...request,
      ...(payload === undefined ? {} : { body: payload }),
      // Only where a client sends a body on purpose: node:http cannot frame a HEAD's body reliably.
      ...(how === undefined || payload === undefined || !WITH_BODY.has(request.method) ? {} : { delivery: how }),
    }));
}

/** A fuzzed body as the sender should pass it: whole, or as pieces of at most 7 bytes (chunked). */
export function deliveredBody({ body, delivery }: FuzzRequest): Buffer | Readable | undefined {
  if (body === undefined || delivery !== 'chunked') return body;
  const pieces: Buffer[] = [];
  for (let at = 0; at < body.length; at += 7) pieces.push(body.subarray(at, at + 7));
  return Readable.from(pieces, { objectMode: false });
}

/**
 * Sends a fuzzed request over a real socket with node:http, which (unlike undici) can send
 * `Expect: 100-continue` and a chunked body, and any method token.
 */
export function sendFuzzRequest(baseUrl: string, request: FuzzRequest): Promise<FuzzAnswer> {
  const { method, url, headers, delivery } = request;
  const target = new URL(baseUrl);
  const body = deliveredBody(request);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method,
        path: `${target.pathname.replace(/\/$/, '')}${url}`,
        headers: {
          ...headers,
          ...(delivery === 'continue' ? { expect: '100-continue' } : {}),
          ...(Buffer.isBuffer(body) ? { 'content-length': String(body.length) } : {}),
        },
        timeout: 10_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          // A final answer instead of 100 Continue: the body was never sent, so the request is done with.
          if (!req.writableEnded) req.destroy();
          resolve({
            status: res.statusCode ?? 0,
            contentType: res.headers['content-type'],
            body: Buffer.concat(chunks).toString(),
          });
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${url}: no answer within 10 s`)));
    req.on('error', reject);
    const write = () => {
      if (body instanceof Readable) body.pipe(req);
      else req.end(body);
    };
    // With Expect, node:http waits for the server's 100 Continue (or its final answer) first.
    if (delivery === 'continue' && body !== undefined) req.once('continue', write);
    else write();
  });
}

/** Everything a refused request must not change: every row's content, and how many keys were recorded. */
export async function databaseSnapshot(repository: ListableRepository): Promise<string> {
  return JSON.stringify([await repository.counts(), (await repository.list({ limit: 1_000_000 })).items]);
}

const LEAKS =
  /SQLITE_|constraint failed|duplicate key value|violates|no such (table|column)|\n\s+at |node:internal|\.ts:\d+/;

/** Why a response breaks the contract (5xx, a 4xx that is not problem+json, internals in the body), or undefined. */
export function contractBreach(
  method: string,
  response: { status: number; contentType: string | string[] | undefined; body: string },
): string | undefined {
  const { status, body } = response;
  // Accepts a raw header value (undici, inject), so callers need not normalise it.
  const contentType = typeof response.contentType === 'string' ? response.contentType : undefined;
  if (status >= 500) return `answered ${status}`;
  if (LEAKS.test(body) && status >= 400) return `leaked internals: ${body.slice(0, 200)}`;
  if (status < 400 || method === 'HEAD') return undefined;
  if (!contentType?.startsWith('application/problem+json')) return `${status} as ${contentType}, not problem+json`;
  const problem = JSON.parse(body) as { status?: unknown; code?: unknown };
  if (problem.status !== status || typeof problem.code !== 'string') return `malformed problem: ${body.slice(0, 200)}`;
  return undefined;
}

export interface FuzzAnswer {
  status: number;
  contentType: string | string[] | undefined;
  body: string;
}

export interface FuzzTally {
  requests: number;
  fiveXx: number;
}

/**
 * The property every deployment of users must hold under fuzzed requests: no answer
 * breaks the contract, and a refused request leaves `snapshot()` as it was.
 * `onDone` gets the tally whether or not the property held.
 */
export async function expectFuzzContract({
  knownIds,
  runs,
  send,
  snapshot,
  onDone,
}: {
  knownIds: readonly string[];
  runs: number;
  send(request: FuzzRequest): Promise<FuzzAnswer>;
  snapshot(): Promise<string> | string;
  onDone?(tally: FuzzTally): void;
}): Promise<FuzzTally> {
  const tally: FuzzTally = { requests: 0, fiveXx: 0 };
  try {
    await fc.assert(
      fc.asyncProperty(fuzzRequest(knownIds), async (request) => {
        const before = await snapshot();
        const answer = await send(request);
        tally.requests++;
        if (answer.status >= 500) tally.fiveXx++;
        const where = `${request.method} ${request.url.slice(0, 120)}`;
        expect(contractBreach(request.method, answer), where).toBeUndefined();
        if (answer.status >= 400) expect(await snapshot(), where).toBe(before);
      }),
      { seed: FUZZ_SEED, numRuns: runs },
    );
  } finally {
    onDone?.(tally);
  }
  return tally;
}
