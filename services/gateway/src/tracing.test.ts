import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseConfig } from '@lab/platform/config';
import {
  readTelemetrySettings,
  startTelemetry,
  type Telemetry,
  untracedPath,
  untracedRequest,
} from '@lab/platform/telemetry';
import { SpanKind } from '@opentelemetry/api';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildApp } from './app.ts';
import { loadGatewayConfig } from './config.ts';
import { sharedLoopbackPort } from './loopback-port.test-support.ts';

// Tracing is process-wide state: this file starts it once, as runService does, before any app is built.
const exporter = new InMemorySpanExporter();
let telemetry: Telemetry;
let gateway: FastifyInstance;
let gatewayPort: number;
const replicas: Server[] = [];
/** What each replica received: its address, the request's trace headers. */
const received: { address: string; headers: IncomingHttpHeaders }[] = [];
let failNextAttempt = false;

beforeAll(async () => {
  const settings = parseConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' }, (read) =>
    readTelemetrySettings(read, 'gateway'),
  );
  const started = startTelemetry(
    settings,
    { instance: 'gateway-test', version: '0.0.0' },
    {
      exporter,
      instrumentations: () => [
        new UndiciInstrumentation({ ignoreRequestHook: (r) => untracedRequest() || untracedPath(r.path) }),
      ],
    },
  );
  if (!started) throw new Error('tracing did not start');
  telemetry = started;

  // Two users replicas sharing a port on two loopback addresses, as Docker replicas do.
  const port = await sharedLoopbackPort();
  for (const address of ['127.0.0.1', '127.0.0.2']) {
    const server = createServer((req, res) => {
      if (req.url?.startsWith('/health/')) return void res.writeHead(200).end('{}');
      received.push({ address, headers: req.headers });
      if (failNextAttempt) {
        failNextAttempt = false;
        return void res.writeHead(503).end('{}');
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    }).listen(port, address);
    await once(server, 'listening');
    replicas.push(server);
  }
  gateway = buildApp(
    loadGatewayConfig({
      USERS_URL: `http://users.test:${port}`,
      HELLO_URL: `http://hello.test:${port}`,
      LOG_LEVEL: 'silent',
    }),
    { resolveAll: async () => ['127.0.0.1', '127.0.0.2'] },
  );
  await gateway.listen({ port: 0, host: '127.0.0.1' });
  gatewayPort = (gateway.server.address() as AddressInfo).port;
});

afterAll(async () => {
  await gateway?.close();
  for (const server of replicas) server.close();
  await telemetry?.shutdown();
});

beforeEach(() => {
  exporter.reset();
  received.length = 0;
});

/** A client's GET over a real socket (node:http: its outgoing requests are not traced here). */
async function get(path: string, headers: Record<string, string>): Promise<number> {
  const req = request({ host: '127.0.0.1', port: gatewayPort, path, headers });
  req.end();
  const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage];
  res.resume();
  await once(res, 'end');
  return res.statusCode ?? 0;
}

async function spansOfTrace(traceId: string): Promise<ReadableSpan[]> {
  await telemetry.flush();
  return exporter.getFinishedSpans().filter((span) => span.spanContext().traceId === traceId);
}

const parentOf = (span: ReadableSpan) => span.parentSpanContext?.spanId;
const startNs = (span: ReadableSpan) => span.startTime[0] * 1e9 + span.startTime[1];

/** The chain of span names from `span` up to the trace's root. */
function ancestry(span: ReadableSpan, all: ReadableSpan[]): ReadableSpan[] {
  const chain = [span];
  for (let parent = parentOf(span); parent; ) {
    const next = all.find((candidate) => candidate.spanContext().spanId === parent);
    if (!next) break;
    chain.push(next);
    parent = parentOf(next);
  }
  return chain;
}

describe('a request through the gateway is one trace', () => {
  it('gateway server span -> one client span per attempt -> each replica server span; a retry is a second attempt on the other replica', async () => {
    failNextAttempt = true;
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    // The client's own trace context: the gateway continues it (parent-based sampling).
    const status = await get('/api/users/', {
      traceparent: `00-${traceId}-00f067aa0ba902b7-01`,
      'x-request-id': 'trace-test-1',
    });
    expect(status).toBe(200);
    const spans = await spansOfTrace(traceId);

    const server = spans.filter((s) => s.kind === SpanKind.SERVER);
    const gatewayRoot = server.find((s) => s.attributes['url.path'] === '/api/users/');
    expect(gatewayRoot?.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    expect(gatewayRoot?.attributes['http.request.header.x-request-id']).toEqual(['trace-test-1']);
    expect(gatewayRoot?.attributes['http.response.status_code']).toBe(200);

    const attempts = spans.filter((s) => s.kind === SpanKind.CLIENT).sort((a, b) => startNs(a) - startNs(b));
    expect(attempts.map((s) => s.attributes['server.address']).sort()).toEqual(['127.0.0.1', '127.0.0.2']);
    expect(attempts.map((s) => s.attributes['http.response.status_code']).sort()).toEqual([200, 503]);
    for (const attempt of attempts) expect(ancestry(attempt, spans)).toContain(gatewayRoot);

    // Each replica's server span hangs under the attempt that reached it.
    const upstreamServers = server.filter((s) => s !== gatewayRoot);
    expect(upstreamServers).toHaveLength(2);
    for (const upstream of upstreamServers) {
      const attempt = attempts.find((a) => a.spanContext().spanId === parentOf(upstream));
      expect(attempt).toBeDefined();
    }

    // Exactly one traceparent reached each replica (the client's was replaced, not doubled), naming its attempt.
    expect(received).toHaveLength(2);
    for (const { headers } of received) {
      expect(typeof headers.traceparent).toBe('string');
      const [, sentTrace, sentParent] = String(headers.traceparent).split('-');
      expect(sentTrace).toBe(traceId);
      expect(attempts.map((a) => a.spanContext().spanId)).toContain(sentParent);
      expect(headers['x-request-id']).toBe('trace-test-1');
    }
  });

  it('a request id the gateway makes up is on its server span too, the same one the replica receives', async () => {
    expect(await get('/api/hello', {})).toBe(200);
    await telemetry.flush();
    const root = exporter
      .getFinishedSpans()
      .find((s) => s.kind === SpanKind.SERVER && s.attributes['url.path'] === '/api/hello');
    const [id] = (root?.attributes['http.request.header.x-request-id'] as string[] | undefined) ?? [];
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(received[0]?.headers['x-request-id']).toBe(id);
  });

  it('a request its caller did not sample makes no span, and tells the replica so with a not-sampled traceparent', async () => {
    const status = await get('/api/users/', { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00' });
    expect(status).toBe(200);
    await telemetry.flush();
    expect(exporter.getFinishedSpans()).toEqual([]);
    expect(received).toHaveLength(1);
    expect(received[0]?.headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
  });

  it('probes and scrapes make no spans', async () => {
    expect(await get('/health/ready', {})).toBe(200);
    expect(await get('/metrics', {})).toBe(200);
    await telemetry.flush();
    expect(exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER)).toEqual([]);
  });
});
