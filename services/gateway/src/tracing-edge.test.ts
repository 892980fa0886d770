import { once } from 'node:events';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseConfig } from '@lab/platform/config';
import { readTelemetrySettings, startTelemetry, type Telemetry } from '@lab/platform/telemetry';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildApp } from './app.ts';
import { loadGatewayConfig } from './config.ts';

// Tracing is process-wide: this file starts it as the gateway's main.ts does (edge: true), at a 0% ratio.
const exporter = new InMemorySpanExporter();
let telemetry: Telemetry;
let gateway: FastifyInstance;
let port: number;
const upstreamTraceparents: (string | undefined)[] = [];
const upstream = createServer((req, res) => {
  if (!req.url?.startsWith('/health/')) upstreamTraceparents.push(req.headers.traceparent as string | undefined);
  res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
});

beforeAll(async () => {
  const settings = parseConfig(
    {
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0',
    },
    (read) => readTelemetrySettings(read, 'gateway'),
  );
  const started = startTelemetry(
    settings,
    { instance: 'gateway-edge-test', version: '0.0.0' },
    { exporter, edge: true },
  );
  if (!started) throw new Error('tracing did not start');
  telemetry = started;
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  gateway = buildApp(loadGatewayConfig({ USERS_URL: url, HELLO_URL: url, LOG_LEVEL: 'silent' }));
  await gateway.listen({ port: 0, host: '127.0.0.1' });
  port = (gateway.server.address() as AddressInfo).port;
});

afterAll(async () => {
  await gateway?.close();
  upstream.close();
  await telemetry?.shutdown();
});

it("#21 finding 6: 100 requests with a client's sampled traceparent are not traced at a 0% rate, and go upstream unsampled", async () => {
  for (let i = 0; i < 100; i++) {
    const traceId = i.toString(16).padStart(32, 'a');
    const req = request({
      host: '127.0.0.1',
      port,
      path: '/api/hello',
      headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` },
    });
    req.end();
    const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage];
    res.resume();
    await once(res, 'end');
    expect(res.statusCode).toBe(200);
  }
  await telemetry.flush();
  expect(exporter.getFinishedSpans()).toHaveLength(0);
  expect(upstreamTraceparents).toHaveLength(100);
  expect(upstreamTraceparents.every((tp) => tp?.endsWith('-00'))).toBe(true);
});
