import { once } from 'node:events';
import { createServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from './app.ts';
import { loadGatewayConfig } from './config.ts';

const MIB = 1024 * 1024;

/** Upstream routes: /big streams 4 MiB in 64 KiB chunks, /echo counts what it got, /hang never answers. */
const uploads: { bytes: number; headers: IncomingHttpHeaders; complete: boolean }[] = [];
const upstream = createServer((req, res) => {
  if (req.url === '/health/ready') return void res.writeHead(200).end('{}');
  if (req.url === '/big') {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'keep-alive': 'timeout=5', 'x-trace': 'x' });
    let sent = 0;
    const pump = () => {
      while (sent < 4 * MIB) {
        sent += 64 * 1024;
        if (!res.write(Buffer.alloc(64 * 1024, sent / (64 * 1024)))) return void res.once('drain', pump);
      }
      res.end();
    };
    return pump();
  }
  if (req.url === '/hang') return;
  if (req.url === '/nothing') return void res.writeHead(204, { 'x-trace': 'empty' }).end();
  const current = { bytes: 0, headers: req.headers, complete: false };
  uploads.push(current);
  req.on('data', (chunk: Buffer) => {
    current.bytes += chunk.length;
  });
  req.on('end', () => {
    current.complete = true;
    const body = JSON.stringify({ bytes: current.bytes });
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      connection: 'keep-alive, x-internal',
      'x-internal': 'secret',
    });
    res.end(body);
  });
});

let gateway: FastifyInstance;
let gatewayPort: number;

beforeAll(async () => {
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  gateway = buildApp(
    loadGatewayConfig({
      HELLO_URL: url,
      USERS_URL: url,
      LOG_LEVEL: 'silent',
      BODY_LIMIT_BYTES: String(MIB),
      UPSTREAM_RESPONSE_TIMEOUT_MS: '300',
    }),
  );
  await gateway.listen({ port: 0, host: '127.0.0.1' });
  gatewayPort = (gateway.server.address() as AddressInfo).port;
});

afterAll(async () => {
  await gateway.close();
  upstream.closeAllConnections();
  await new Promise((resolve) => upstream.close(resolve));
});

/** A real socket client (inject would buffer): sends `chunks` chunked, reads the answer at `readDelayMs` per chunk. */
function send(path: string, { chunks = [] as Buffer[], method = 'GET', headers = {} as Record<string, string> } = {}) {
  return new Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: gatewayPort, path, method, headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (chunk: Buffer) => parts.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

describe('gateway data path', () => {
  it('streams a 4 MiB answer through intact, without its hop-by-hop headers', async () => {
    const res = await send('/api/hello/big');
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(4 * MIB);
    expect(res.body[0]).toBe(1);
    expect(res.body[4 * MIB - 1]).toBe(64);
    expect(res.headers['x-trace']).toBe('x');
    expect(res.headers['keep-alive']).not.toBe('timeout=5');
  });

  it('passes answers without a body through as they are: 204, and HEAD with the length GET would have', async () => {
    const empty = await send('/api/hello/nothing');
    expect(empty).toMatchObject({ status: 204, headers: { 'x-trace': 'empty' } });
    expect(empty.body.length).toBe(0);
    const head = await send('/api/users/echo', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(String(JSON.stringify({ bytes: 0 }).length));
    expect(head.body.length).toBe(0);
  });

  it('streams a chunked 512 KiB upload to the upstream and answers with what the upstream said', async () => {
    const res = await send('/api/users/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      chunks: Array.from({ length: 8 }, () => Buffer.alloc(64 * 1024, 7)),
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body.toString())).toEqual({ bytes: 512 * 1024 });
    expect(uploads.at(-1)?.complete).toBe(true);
  });

  it('stops a chunked upload at BODY_LIMIT_BYTES with 413 problem+json; the upstream never gets the whole body', async () => {
    const before = uploads.length;
    const res = await send('/api/users/echo', {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      chunks: Array.from({ length: 24 }, () => Buffer.alloc(64 * 1024, 7)),
    });
    expect(res.status).toBe(413);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.parse(res.body.toString())).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
    expect(uploads.slice(before).every((upload) => !upload.complete)).toBe(true);
  });

  it('drops headers the client or the upstream named in Connection, both ways', async () => {
    const res = await send('/api/users/echo', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        connection: 'keep-alive, x-client-secret',
        'x-client-secret': 's',
      },
      chunks: [Buffer.from('{}')],
    });
    expect(res.status).toBe(200);
    expect(uploads.at(-1)?.headers['x-client-secret']).toBeUndefined();
    expect(res.headers['x-internal']).toBeUndefined();
  });

  it('answers 504 problem+json when the upstream sends no headers within the response timeout', async () => {
    const startedAt = performance.now();
    const res = await send('/api/hello/hang');
    const elapsedMs = performance.now() - startedAt;
    expect(res.status).toBe(504);
    expect(JSON.parse(res.body.toString())).toMatchObject({ code: 'UPSTREAM_TIMEOUT', upstream: 'hello' });
    expect(elapsedMs).toBeGreaterThanOrEqual(295);
    expect(elapsedMs).toBeLessThan(600);
  });
});
