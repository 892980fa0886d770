import { once } from 'node:events';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { loadGatewayConfig } from './config.ts';
import { gatewayOverLoopback, sharedLoopbackPort } from './loopback-port.test-support.ts';

/**
 * Issue #21: what one ordinary, unauthenticated client can do to the gateway. Each test
 * runs a real gateway on a real port in front of two replicas on 127.0.0.1 and 127.0.0.2
 * and checks that the client's behaviour costs no replica its place, no breaker its state
 * and no ordinary client its answer.
 */

const KIB = 1024;
interface Received {
  method: string;
  url: string;
  bytes: number;
  complete: boolean;
  expect: string | undefined;
}

async function startReplicas() {
  const port = await sharedLoopbackPort();
  const received: Received[] = [];
  const servers: Server[] = [];
  for (const address of ['127.0.0.1', '127.0.0.2']) {
    const server = createServer((req, res) => {
      if (req.url === '/health/ready') return void res.writeHead(200).end('{}');
      const seen: Received = {
        method: req.method ?? '',
        url: req.url ?? '',
        bytes: 0,
        complete: false,
        expect: req.headers.expect,
      };
      received.push(seen);
      req.on('data', (chunk: Buffer) => {
        seen.bytes += chunk.length;
      });
      req.on('end', () => {
        seen.complete = true;
        if (req.url === '/big') {
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          return void res.end(Buffer.alloc(64 * 1024 * KIB));
        }
        const body = JSON.stringify({ bytes: seen.bytes, url: req.url });
        res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json' }).end(body);
      });
    });
    server.listen(port, address);
    await once(server, 'listening');
    servers.push(server);
  }
  return {
    port,
    received,
    stop: () => {
      for (const server of servers) {
        server.closeAllConnections();
        server.close();
      }
    },
  };
}

let gateway: FastifyInstance | undefined;
let replicas: Awaited<ReturnType<typeof startReplicas>> | undefined;
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await gateway?.close();
  replicas?.stop();
  gateway = undefined;
});

/** A listening gateway over the two replicas; returns its port. */
async function startGateway(env: Record<string, string> = {}) {
  replicas = await startReplicas();
  gateway = gatewayOverLoopback(replicas.port, ['127.0.0.1', '127.0.0.2'], {
    UPSTREAM_RESPONSE_TIMEOUT_MS: '300',
    EJECT_AFTER_FAILURES: '2',
    BREAKER_FAILURES: '3',
    ...env,
  });
  await gateway.listen({ port: 0, host: '127.0.0.1' });
  return (gateway.server.address() as AddressInfo).port;
}

interface Answer {
  status: number;
  body: string;
}

function send(
  port: number,
  {
    method = 'GET',
    path = '/api/users/1',
    headers = {},
    body,
  }: Partial<{ method: string; path: string; headers: Record<string, string>; body: Buffer }> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    // With Expect, Node's client waits for the server's 100 Continue before it sends the body.
    if (headers.expect !== undefined) req.on('continue', () => req.end(body));
    else req.end(body);
  });
}

/** A raw TCP client, for what no well-behaved HTTP client would send. */
async function rawClient(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  socket.on('error', () => {});
  await once(socket, 'connect');
  return socket;
}

/** How long until the gateway closes this socket (ms), reading whatever it sends. */
async function closedAfter(socket: Socket): Promise<{ ms: number; text: string }> {
  const startedAt = performance.now();
  let text = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    text += chunk;
  });
  await once(socket, 'close');
  return { ms: performance.now() - startedAt, text };
}

async function usersTopology(port: number) {
  const res = await fetch(`http://127.0.0.1:${port}/api/_topology`);
  const { upstreams } = (await res.json()) as {
    upstreams: { name: string; breaker: string; inFlight: number; replicas: { healthy: number; ejected: number } }[];
  };
  return upstreams.find((u) => u.name === 'users');
}

async function expectOrdinaryClientsServed(port: number, count = 40) {
  const statuses = [];
  for (let i = 0; i < count; i++) statuses.push((await send(port, { path: `/api/users/${i}` })).status);
  expect(statuses.filter((status) => status !== 200)).toEqual([]);
  expect(await usersTopology(port)).toMatchObject({ breaker: 'closed', replicas: { healthy: 2, ejected: 0 } });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('#21 finding 1: Expect: 100-continue', () => {
  it('is answered by the gateway and not forwarded: 20 such POSTs succeed and no replica is blamed', async () => {
    const port = await startGateway();
    const body = Buffer.from(JSON.stringify({ name: 'Ada', email: 'ada@example.org' }));
    const statuses = [];
    for (let i = 0; i < 20; i++) {
      const answer = await send(port, {
        method: 'POST',
        path: '/api/users',
        headers: { expect: '100-continue', 'content-type': 'application/json', 'content-length': String(body.length) },
        body,
      });
      statuses.push(answer.status);
    }
    expect(statuses).toEqual(Array(20).fill(201));
    const posts = replicas?.received.filter((r) => r.method === 'POST') ?? [];
    expect(posts).toHaveLength(20);
    expect(posts.every((r) => r.expect === undefined && r.complete && r.bytes === body.length)).toBe(true);
    await expectOrdinaryClientsServed(port);
  });
});

describe('#21 finding 2: bodies that arrive slowly or never', () => {
  it('a slow upload (200 KiB over 1 s, past the 300 ms response deadline) is read whole, then answered 201', async () => {
    const port = await startGateway();
    const socket = await rawClient(port);
    socket.write(
      'POST /api/users HTTP/1.1\r\nHost: lab\r\nContent-Type: application/octet-stream\r\nContent-Length: 204800\r\n\r\n',
    );
    for (let i = 0; i < 10; i++) {
      socket.write(Buffer.alloc(20 * KIB, 0x61));
      await sleep(100);
    }
    const answer = await new Promise<string>((resolve) => {
      let text = '';
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        if (text.includes('}')) resolve(text);
      });
    });
    expect(answer).toMatch(/^HTTP\/1.1 201/);
    expect(answer).toContain('"bytes":204800');
    // The replica saw one request, and only once all of it had arrived.
    expect(replicas?.received.filter((r) => r.method === 'POST')).toEqual([
      expect.objectContaining({ bytes: 204_800, complete: true }),
    ]);
    await expectOrdinaryClientsServed(port);
  });

  it('30 clients that leave half-way through a chunked or large upload reach no replica and cost none its place', async () => {
    const port = await startGateway();
    for (let i = 0; i < 30; i++) {
      const socket = await rawClient(port);
      const chunked = i % 2 === 0;
      socket.write(
        `POST /api/users HTTP/1.1\r\nHost: lab\r\n${chunked ? 'Transfer-Encoding: chunked' : 'Content-Length: 500000'}\r\n\r\n`,
      );
      socket.write(chunked ? `10000\r\n${'x'.repeat(0x10000)}\r\n` : Buffer.alloc(100 * KIB));
      await sleep(5);
      socket.destroy();
    }
    await sleep(200);
    expect(replicas?.received.filter((r) => r.method === 'POST')).toEqual([]);
    await expectOrdinaryClientsServed(port);
  });

  it('stalled uploads hold no bulkhead slot: 10 of them beside MAX_CONCURRENT_PER_UPSTREAM=2, reads still answered', async () => {
    const port = await startGateway({ MAX_CONCURRENT_PER_UPSTREAM: '2' });
    for (let i = 0; i < 10; i++) {
      const socket = await rawClient(port);
      socket.write('POST /api/users HTTP/1.1\r\nHost: lab\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
    }
    await sleep(100);
    await expectOrdinaryClientsServed(port, 20);
    expect((await usersTopology(port))?.inFlight).toBe(0);
  });

  it('what lies beyond each body’s first 64 KiB comes out of one budget; a refusal is a 503 problem+json, and the budget comes back', async () => {
    const port = await startGateway({ BODY_BUFFER_BUDGET_BYTES: String(100 * KIB) });
    const start = async (bytes: number) => {
      const socket = await rawClient(port);
      socket.write(`POST /api/users HTTP/1.1\r\nHost: lab\r\nContent-Length: ${300 * KIB}\r\n\r\n`);
      socket.write(Buffer.alloc(bytes));
      return socket;
    };
    // 124 KiB held: 60 KiB of the budget.
    const first = await start(124 * KIB);
    await sleep(100);
    const second = await start(124 * KIB);
    const refused = await closedAfter(second);
    expect(refused.text).toMatch(/^HTTP\/1.1 503/);
    expect(refused.text).toContain('application/problem+json');
    expect(refused.text).toContain('"code":"UPLOAD_CAPACITY"');
    expect(refused.text).toMatch(/retry-after: 1/i);
    first.destroy();
    await sleep(100);
    // The first upload's share is free again: a whole 150 KiB body (86 KiB of the budget) goes through.
    const answer = await send(port, { method: 'POST', path: '/api/users', body: Buffer.alloc(150 * KIB) });
    expect(answer.status).toBe(201);
    await expectOrdinaryClientsServed(port, 10);
  });
});

describe('#21 finding 3: timeouts and limits at the edge', () => {
  it('closes a socket that sent headers and part of a body within CLIENT_REQUEST_TIMEOUT_MS (+1 s check beat), with a 408', async () => {
    const port = await startGateway({ CLIENT_HEADERS_TIMEOUT_MS: '500', CLIENT_REQUEST_TIMEOUT_MS: '1000' });
    const socket = await rawClient(port);
    socket.write('POST /api/users HTTP/1.1\r\nHost: lab\r\nContent-Length: 100\r\n\r\n0123456789');
    const { ms, text } = await closedAfter(socket);
    expect(ms).toBeGreaterThan(900);
    expect(ms).toBeLessThan(2200);
    expect(text).toMatch(/^HTTP\/1.1 408/);
    expect(replicas?.received).toEqual([]);
  });

  it('closes a socket whose headers never end within CLIENT_HEADERS_TIMEOUT_MS (+1 s check beat)', async () => {
    const port = await startGateway({ CLIENT_HEADERS_TIMEOUT_MS: '500', CLIENT_REQUEST_TIMEOUT_MS: '5000' });
    const socket = await rawClient(port);
    socket.write('GET /api/users/1 HTTP/1.1\r\nHost: lab\r\nX-Slow: ');
    const { ms } = await closedAfter(socket);
    expect(ms).toBeGreaterThan(400);
    expect(ms).toBeLessThan(1700);
  });

  // Node keeps the socket 1 s past the Keep-Alive: timeout= it announces, so the client closes first.
  it('closes an idle keep-alive connection after CLIENT_KEEPALIVE_TIMEOUT_MS (+1 s)', async () => {
    const port = await startGateway({ CLIENT_KEEPALIVE_TIMEOUT_MS: '500' });
    const socket = await rawClient(port);
    socket.write('GET /api/users/1 HTTP/1.1\r\nHost: lab\r\n\r\n');
    const { ms, text } = await closedAfter(socket);
    expect(text).toMatch(/^HTTP\/1.1 200/);
    expect(text).toMatch(/keep-alive: timeout=0/i);
    expect(ms).toBeGreaterThan(1400);
    expect(ms).toBeLessThan(2500);
  });

  it('closes a connection whose reader stopped reading a 64 MiB answer after CLIENT_IDLE_TIMEOUT_MS', async () => {
    const port = await startGateway({ CLIENT_IDLE_TIMEOUT_MS: '800' });
    const socket = await rawClient(port);
    socket.write('GET /api/users/big HTTP/1.1\r\nHost: lab\r\n\r\n');
    socket.pause();
    // A paused socket does not read, so it cannot see the close: count the gateway's side instead.
    const startedAt = performance.now();
    const server = gateway?.server;
    const connections = () => new Promise<number>((resolve) => server?.getConnections((_e, n) => resolve(n)));
    while ((await connections()) > 0 && performance.now() - startedAt < 5000) await sleep(50);
    const ms = performance.now() - startedAt;
    expect(await connections()).toBe(0);
    expect(ms).toBeGreaterThan(700);
    expect(ms).toBeLessThan(3000);
    // It got part of the answer, not all 64 MiB.
    expect(socket.bytesRead + socket.readableLength).toBeLessThan(64 * 1024 * KIB);
    await expectOrdinaryClientsServed(port, 10);
  });

  it('accepts at most MAX_CLIENT_CONNECTIONS sockets; one more is closed at once, and a freed place serves again', async () => {
    const port = await startGateway({ MAX_CLIENT_CONNECTIONS: '5' });
    const held = [];
    for (let i = 0; i < 5; i++) held.push(await rawClient(port));
    const extra = await rawClient(port);
    const { ms, text } = await closedAfter(extra);
    expect(text).toBe('');
    expect(ms).toBeLessThan(500);
    held[0]?.destroy();
    await sleep(100);
    expect((await send(port, { headers: { connection: 'close' } })).status).toBe(200);
  });

  it('stops the start with one line naming the variable when the edge deadlines contradict each other', () => {
    expect(() => loadGatewayConfig({ CLIENT_HEADERS_TIMEOUT_MS: '5000', CLIENT_REQUEST_TIMEOUT_MS: '1000' })).toThrow(
      /^CLIENT_HEADERS_TIMEOUT_MS must not exceed CLIENT_REQUEST_TIMEOUT_MS/,
    );
    expect(() => loadGatewayConfig({ CLIENT_IDLE_TIMEOUT_MS: '5000', UPSTREAM_RESPONSE_TIMEOUT_MS: '5000' })).toThrow(
      /^CLIENT_IDLE_TIMEOUT_MS must exceed UPSTREAM_RESPONSE_TIMEOUT_MS/,
    );
  });
});

describe('#21 finding 9: the prefix is stripped from the path the router matched', () => {
  it('refuses a percent-encoded prefix with 400 problem+json instead of forwarding the rest of it', async () => {
    const port = await startGateway();
    const answer = await send(port, { path: '/api/%75sers/abc' });
    expect(answer.status).toBe(400);
    expect(JSON.parse(answer.body)).toMatchObject({ code: 'ENCODED_PREFIX' });
    expect(replicas?.received).toEqual([]);
  });

  it('forwards an absolute-form request by its path, without the authority', async () => {
    const port = await startGateway();
    const socket = await rawClient(port);
    socket.write('GET http://abc/api/users/42?x=1 HTTP/1.1\r\nHost: abc\r\nConnection: close\r\n\r\n');
    const { text } = await closedAfter(socket);
    expect(text).toMatch(/^HTTP\/1.1 200/);
    expect(replicas?.received.map((r) => r.url)).toEqual(['/42?x=1']);
  });
});
