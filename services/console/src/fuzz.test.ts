import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { contractBreach, FUZZ_SEED, type FuzzAnswer } from '@lab/lab-kit/fuzz-requests';
import fc from 'fast-check';
import { Client } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from './app.ts';
import { loadConsoleConfig } from './config.ts';
import type { LiveSnapshot } from './live-types.ts';
import { Poller } from './poller.ts';
import { FakeSystem } from './test-support/fake-system.ts';
import { encodeExportJson, encodeExportProtobuf, type TestResource } from './test-support/otlp-encoder.ts';

/**
 * The OTLP receiver under hostile exports: random and garbled protobuf and JSON, wrong
 * content types and encodings, gzip bombs and oversized bodies. Every answer is 2xx or
 * a 4xx problem+json, and the store never holds more than its bounds. In-process with
 * `inject` (fast, many runs), then over a real socket.
 */
const INJECT_RUNS = 3000;
const HTTP_RUNS = 600;
const MAX_BODY = 16 * 1024;
const MAX_TRACES = 40;
const MAX_TRACE_BYTES = 64 * 1024;

const fixture = JSON.parse(readFileSync(new URL('./fixtures/otel-js-export.json', import.meta.url), 'utf8')) as {
  protobufBase64: string;
  json: unknown;
};
const realProtobuf = Buffer.from(fixture.protobufBase64, 'base64');
const realJson = Buffer.from(JSON.stringify(fixture.json));

const hex = (bytes: number) =>
  fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((b) => Buffer.from(b).toString('hex'));
/** A few trace ids recur, so traces collect spans across requests. */
const traceId = fc.oneof(
  fc.constantFrom('0af7651916cd43dd8448eb211c80319c', '4bf92f3577b34da6a3ce929d0e0e4736'),
  hex(16),
  hex(3),
);
const attributeValue = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.array(fc.string({ maxLength: 10 }), { maxLength: 4 }),
);

const resources: fc.Arbitrary<TestResource[]> = fc.array(
  fc.record({
    service: fc.constantFrom('gateway', 'users', 'hello', 'monolith', ''),
    instance: fc.option(fc.string({ maxLength: 20 }), { nil: undefined }),
    spans: fc.array(
      fc.record({
        traceId,
        spanId: fc.oneof(hex(8), hex(2)),
        parentSpanId: fc.option(hex(8), { nil: undefined }),
        name: fc.string({ unit: 'grapheme', maxLength: 30 }),
        kind: fc.integer({ min: -1, max: 7 }),
        startMs: fc.integer({ min: 0, max: 2_000_000_000_000 }),
        endMs: fc.integer({ min: 0, max: 2_000_000_000_000 }),
        attributes: fc.dictionary(
          fc.oneof(
            fc.constantFrom('url.path', 'http.request.header.x-request-id', '__proto__'),
            fc.string({ maxLength: 12 }),
          ),
          attributeValue,
          { maxKeys: 6 },
        ),
        status: fc.integer({ min: 0, max: 3 }),
      }),
      { maxLength: 8 },
    ),
  }),
  { maxLength: 3 },
);

/** A body with some bytes replaced, some cut off, or some inserted. */
const garbled = (base: fc.Arbitrary<Buffer>) =>
  fc
    .tuple(
      base,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
      fc.nat(),
      fc.boolean(),
    )
    .map(([body, flips, cut, truncate]) => {
      const out = Buffer.from(body);
      for (const [at, byte] of flips) if (out.length > 0) out[at % out.length] = byte;
      return truncate && out.length > 0 ? out.subarray(0, cut % out.length) : out;
    });

const protobufBody = resources.map((r) => encodeExportProtobuf(r));
const jsonBody = resources.map((r) => Buffer.from(encodeExportJson(r)));

const body: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 3, arbitrary: protobufBody },
  { weight: 3, arbitrary: jsonBody },
  { weight: 3, arbitrary: garbled(fc.oneof(fc.constant(realProtobuf), protobufBody)) },
  { weight: 2, arbitrary: garbled(fc.oneof(fc.constant(realJson), jsonBody)) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 400 }).map((b) => Buffer.from(b)) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 6 }).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')) },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 100, max: 20_000 })
      .map((depth) => Buffer.from(`{"resourceSpans":${'['.repeat(depth)}${']'.repeat(depth)}}`)),
  },
  { weight: 1, arbitrary: fc.integer({ min: MAX_BODY + 1, max: 3 * MAX_BODY }).map((n) => Buffer.alloc(n, 0x0a)) },
  { weight: 1, arbitrary: fc.constant(Buffer.alloc(0)) },
);

interface ExportRequest {
  method: string;
  headers: Record<string, string>;
  body: Buffer;
}

const exportRequest: fc.Arbitrary<ExportRequest> = fc
  .record({
    method: fc.oneof({ weight: 12, arbitrary: fc.constant('POST') }, fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH')),
    contentType: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom('application/x-protobuf', 'application/json') },
      fc.constantFrom(
        'application/protobuf',
        'application/json; charset=utf-8',
        'APPLICATION/X-PROTOBUF',
        'application/x-protobuf; proto=ExportTraceServiceRequest',
        'text/plain',
        'application/octet-stream',
        'multipart/form-data; boundary=x',
        ';;',
        '',
      ),
      fc.string({ unit: 'grapheme-ascii', maxLength: 30 }),
      fc.constant(undefined),
    ),
    encoding: fc.oneof(
      { weight: 8, arbitrary: fc.constant(undefined) },
      { weight: 2, arbitrary: fc.constant('gzip') },
      fc.constantFrom('br', 'identity', 'gzip, gzip', 'x'),
    ),
    gzipBody: fc.boolean(),
    body,
  })
  .map(({ method, contentType, encoding, gzipBody, body: payload }) => ({
    method,
    headers: {
      ...(contentType === undefined ? {} : { 'content-type': contentType }),
      ...(encoding === undefined ? {} : { 'content-encoding': encoding }),
    },
    // A declared gzip body is mostly real gzip (of a valid, garbled or oversized body), sometimes not.
    body: encoding === 'gzip' && gzipBody ? gzipSync(payload) : payload,
  }));

let app: ReturnType<typeof buildApp>;
let client: Client;

beforeAll(async () => {
  const config = loadConsoleConfig({
    LOG_LEVEL: 'silent',
    CONSOLE_MAX_BODY_BYTES: String(MAX_BODY),
    CONSOLE_MAX_TRACES: String(MAX_TRACES),
    CONSOLE_MAX_TRACE_BYTES: String(MAX_TRACE_BYTES),
  });
  const system = new FakeSystem();
  const poller = new Poller(config, { fetch: system.fetch, resolveAll: async () => [] });
  app = buildApp(config, { poller, pageDir: '/nonexistent', fetch: system.fetch });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('the console did not get a TCP port');
  client = new Client(`http://127.0.0.1:${address.port}`);
});

afterAll(async () => {
  await client.close();
  await app.close();
});

const figures = (name: string, tally: Record<string, number>) =>
  process.stdout.write(`[figures] ${name}: ${JSON.stringify(tally)}\n`);

/** The store's trace count, after checking it is within both bounds. */
async function storeWithinBounds(): Promise<number> {
  const { traces } = (await app.inject({ url: '/api/snapshot' })).json() as LiveSnapshot;
  expect(traces.count).toBeLessThanOrEqual(MAX_TRACES);
  expect(traces.bytes).toBeLessThanOrEqual(MAX_TRACE_BYTES);
  return traces.count;
}

const ways: { way: string; runs: number; send: (request: ExportRequest) => Promise<FuzzAnswer> }[] = [
  {
    way: 'in-process',
    runs: INJECT_RUNS,
    send: async ({ method, headers, body: payload }) => {
      const res = await app.inject({ method: method as 'POST', url: '/v1/traces', headers, payload });
      return { status: res.statusCode, contentType: res.headers['content-type'], body: res.body };
    },
  },
  {
    way: 'over HTTP',
    runs: HTTP_RUNS,
    send: async ({ method, headers, body: payload }) => {
      const res = await client.request({ method, path: '/v1/traces', headers, body: payload });
      return { status: res.statusCode, contentType: res.headers['content-type'], body: await res.body.text() };
    },
  },
];

describe.each(ways)('the OTLP receiver under fuzzed exports, $way', ({ way, runs, send }) => {
  it('answers 2xx or a 4xx problem+json, never 5xx, and the store stays within its bounds', async () => {
    const tally = { requests: 0, accepted: 0, refused: 0, '5xx': 0, peakTraces: 0 };
    try {
      await fc.assert(
        fc.asyncProperty(exportRequest, async (request) => {
          const answer = await send(request);
          tally.requests++;
          if (answer.status >= 500) tally['5xx']++;
          else if (answer.status >= 400) tally.refused++;
          else tally.accepted++;
          const where = `${request.method} ${JSON.stringify(request.headers)} ${request.body.length} bytes`;
          expect(contractBreach(request.method, answer), where).toBeUndefined();
          tally.peakTraces = Math.max(tally.peakTraces, await storeWithinBounds());
        }),
        { seed: FUZZ_SEED, numRuns: runs },
      );
    } finally {
      figures(`console-otlp-fuzz-${way === 'in-process' ? 'inject' : 'http'}`, tally);
    }
    // The mix reaches the decoders: a fair share is taken, a fair share refused.
    expect(tally.accepted).toBeGreaterThan(runs / 10);
    expect(tally.refused).toBeGreaterThan(runs / 10);
    // ...and the store filled up to its bound, so eviction ran.
    expect(tally.peakTraces).toBe(MAX_TRACES);
    expect((await app.inject({ url: '/health/live' })).statusCode).toBe(200);
  }, 120_000);
});

describe('the OTLP receiver under a flood', () => {
  it('past the ingest bound answers 429 with Retry-After, and the store stays within its bounds', async () => {
    const config = loadConsoleConfig({
      LOG_LEVEL: 'silent',
      CONSOLE_MAX_INGEST_BYTES_PER_SECOND: String(32 * 1024),
      CONSOLE_MAX_TRACES: String(MAX_TRACES),
      CONSOLE_MAX_TRACE_BYTES: String(MAX_TRACE_BYTES),
    });
    const system = new FakeSystem();
    const flooded = buildApp(config, {
      poller: new Poller(config, { fetch: system.fetch }),
      pageDir: '/nonexistent',
      now: () => system.now,
    });
    const tally = { requests: 0, accepted: 0, limited: 0, bytesAccepted: 0 };
    try {
      // 10 simulated seconds of exports arriving every 10 ms.
      await fc.assert(
        fc.asyncProperty(fc.array(protobufBody, { minLength: 1000, maxLength: 1000 }), async (bodies) => {
          for (const payload of bodies) {
            system.now += 10;
            const res = await flooded.inject({
              method: 'POST',
              url: '/v1/traces',
              headers: { 'content-type': 'application/x-protobuf' },
              payload: Buffer.concat([payload, realProtobuf]),
            });
            tally.requests++;
            if (res.statusCode === 429) {
              tally.limited++;
              expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(1);
              expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
            } else {
              expect(res.statusCode).toBe(200);
              tally.accepted++;
              tally.bytesAccepted += payload.length + realProtobuf.length;
            }
          }
        }),
        { seed: FUZZ_SEED, numRuns: 1 },
      );
      const { traces } = (await flooded.inject({ url: '/api/snapshot' })).json() as LiveSnapshot;
      expect(traces.count).toBeLessThanOrEqual(MAX_TRACES);
      expect(traces.bytes).toBeLessThanOrEqual(MAX_TRACE_BYTES);
    } finally {
      figures('console-otlp-flood', tally);
      await flooded.close();
    }
    expect(tally.limited).toBeGreaterThan(0);
    // 10 s at 32 KiB/s, plus the one-second burst and at most one body of debt.
    expect(tally.bytesAccepted).toBeLessThanOrEqual(11 * 32 * 1024 + 8 * 1024);
    expect(tally.bytesAccepted).toBeGreaterThan(9 * 32 * 1024);
  }, 60_000);
});
