import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  databaseSnapshot,
  deliveredBody,
  expectFuzzContract,
  FUZZ_SEED,
  type FuzzAnswer,
  type FuzzRequest,
  sendFuzzRequest,
} from '@lab/lab-kit/fuzz-requests';
import fc from 'fast-check';
import { Client } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from './app.ts';
import { loadUsersConfig } from './config.ts';
import { createSqliteUsersRepository } from './sqlite-repository.ts';
import type { UsersRepository } from './users-repository.ts';

/**
 * The same fuzzing twice: in-process with `inject` (fast, many runs), then over a real
 * socket, where Node's HTTP parser, header limits and connection handling run too.
 */
const INJECT_RUNS = 4000;
const RUNS = 1500;
const RAW_RUNS = 300;

let dataDir: string;
let repository: UsersRepository;
let app: ReturnType<typeof buildApp>;
let port: number;
let client: Client;
let knownIds: string[];

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'users-fuzz-'));
  const config = loadUsersConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', INSTANCE_NAME: 'users-fuzz-http' });
  repository = createSqliteUsersRepository(config);
  app = buildApp(config, { repository });
  knownIds = [];
  for (let n = 0; n < 12; n++) {
    knownIds.push((await repository.create({ name: `Seed ${n}`, email: `seed${n}@example.org` })).id);
  }
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('users did not get a TCP port');
  port = address.port;
  client = new Client(`http://127.0.0.1:${port}`);
});

afterAll(async () => {
  await client.close();
  await app.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const figures = (name: string, tally: { requests: number; fiveXx: number }) =>
  process.stdout.write(`[figures] ${name}: ${JSON.stringify({ requests: tally.requests, '5xx': tally.fiveXx })}\n`);

/** Sends bytes as they are, half-closes, and returns whatever came back before the server closed. */
function sendRaw(bytes: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.end(bytes));
    const chunks: Buffer[] = [];
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer within 5 s')));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => (error.code === 'ECONNRESET' ? undefined : reject(error)));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
  });
}

const ways: {
  way: string;
  runs: number;
  send: (request: FuzzRequest) => Promise<FuzzAnswer>;
  live(): Promise<number>;
}[] = [
  {
    way: 'in-process',
    runs: INJECT_RUNS,
    send: async (request) => {
      const { method, url, headers, delivery } = request;
      const payload = deliveredBody(request);
      const res = await app.inject({
        method: method as 'GET',
        url,
        headers: delivery === 'continue' ? { ...headers, expect: '100-continue' } : headers,
        ...(payload ? { payload } : {}),
      });
      return { status: res.statusCode, contentType: res.headers['content-type'], body: res.body };
    },
    live: async () => (await app.inject({ url: '/health/live' })).statusCode,
  },
  {
    way: 'over HTTP',
    runs: RUNS,
    send: (request) => sendFuzzRequest(`http://127.0.0.1:${port}`, request),
    live: async () => (await client.request({ method: 'GET', path: '/health/live' })).statusCode,
  },
];

describe.each(ways)('users under fuzzed requests, $way', ({ way, runs, send, live }) => {
  it('never answers 5xx or leaks internals, and no refused request changes the database', async () => {
    const tally = await expectFuzzContract({
      knownIds,
      runs,
      send,
      snapshot: () => databaseSnapshot(repository),
      onDone: (done) => figures(way === 'in-process' ? 'users-fuzz-inject' : 'users-fuzz-http', done),
    });
    expect(tally.requests).toBeGreaterThanOrEqual(runs);
    expect(await live()).toBe(200);
  }, 60_000);
});

describe('users under fuzzed bytes, over HTTP', () => {
  it('answers bytes that are not quite HTTP with a 4xx problem+json, or closes, and stays up', async () => {
    const tally = { requests: 0, fiveXx: 0 };
    const headerLine = fc.oneof(
      fc.constantFrom(
        'Host: users',
        'Content-Type: application/json',
        'Content-Length: 5',
        'Content-Length: -1',
        'Content-Length: 99999999999999999999',
        'Content-Length: 1\r\nContent-Length: 2',
        'Transfer-Encoding: chunked',
        'Transfer-Encoding: gzip, chunked',
        'Transfer-Encoding: chunked\r\nContent-Length: 3',
        'Expect: 100-continue',
        'Connection: close',
        'Idempotency-Key: \u0001',
      ),
      fc.string({ unit: 'binary-ascii', maxLength: 60 }),
    );
    const rawRequest = fc
      .tuple(
        fc.oneof(
          { weight: 3, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE') },
          fc.constantFrom('G\u0000T', 'FOO', ''),
          fc.string({ unit: 'binary-ascii' }),
        ),
        fc.oneof(
          { weight: 3, arbitrary: fc.constantFrom('/', `/${knownIds[0]}`, '/health/live') },
          fc.constantFrom(`/${'x'.repeat(20_000)}`, '/ /', '/%ZZ', '*', 'http://users/'),
          fc.string({ unit: 'binary-ascii' }),
        ),
        fc.constantFrom('HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1 junk', ''),
        fc.array(headerLine, { maxLength: 6 }),
        fc.oneof(
          fc.constant('{"name":"Raw","email":"raw@example.org"}'),
          fc.string({ unit: 'binary', maxLength: 200 }),
        ),
      )
      .map(([method, target, version, headerLines, tail]) =>
        Buffer.from(`${method} ${target} ${version}\r\n${headerLines.join('\r\n')}\r\n\r\n${tail}`),
      );
    try {
      await fc.assert(
        fc.asyncProperty(rawRequest, async (bytes) => {
          const before = await databaseSnapshot(repository);
          const answer = await sendRaw(bytes);
          tally.requests++;
          if (answer === '') return;
          const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(answer)?.[1]);
          if (status >= 500) tally.fiveXx++;
          expect(status, answer.slice(0, 200)).toBeLessThan(500);
          if (status >= 400) {
            expect(answer, answer.slice(0, 200)).toMatch(/\r\ncontent-type: application\/problem\+json/i);
            expect(await databaseSnapshot(repository)).toBe(before);
          }
        }),
        { seed: FUZZ_SEED, numRuns: RAW_RUNS },
      );
    } finally {
      figures('users-fuzz-raw-http', tally);
    }
    expect((await client.request({ method: 'GET', path: '/health/live' })).statusCode).toBe(200);
  }, 60_000);
});
