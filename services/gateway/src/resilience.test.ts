import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { gatewayOverLoopback, sharedLoopbackPort } from './loopback-port.test-support.ts';
import { RetryBudget } from './retry-budget.ts';

type Behaviour = 'ok' | 'fail503' | 'refuse';

/**
 * Replicas of one "users" service on 127.0.0.1, 127.0.0.2, ... sharing one port,
 * as Docker replicas share a port on different IPs. Each can be told to misbehave.
 */
async function startReplicas(count: number) {
  const port = await sharedLoopbackPort();

  const addresses = Array.from({ length: count }, (_, i) => `127.0.0.${i + 1}`);
  const behaviour = new Map<string, Behaviour>(addresses.map((a) => [a, 'ok']));
  const served = new Map<string, number>(addresses.map((a) => [a, 0]));
  const servers = new Map<string, Server>();
  const listen = async (address: string) => {
    const server = createServer((req, res) => {
      if (req.url === '/health/ready') return void res.writeHead(200).end('{}');
      served.set(address, (served.get(address) ?? 0) + 1);
      if (behaviour.get(address) === 'fail503') return void res.writeHead(503).end('{}');
      res.writeHead(200, { 'content-type': 'application/json', 'x-served-by': address }).end('{"ok":true}');
    });
    server.listen(port, address);
    await once(server, 'listening');
    servers.set(address, server);
  };
  await Promise.all(addresses.map(listen));
  return {
    port,
    addresses,
    served,
    async set(address: string, next: Behaviour) {
      const wasRefusing = behaviour.get(address) === 'refuse';
      behaviour.set(address, next);
      if (next === 'refuse') {
        servers.get(address)?.closeAllConnections();
        servers.get(address)?.close();
      } else if (wasRefusing) {
        await listen(address);
      }
    },
    async stop() {
      for (const server of servers.values()) {
        server.closeAllConnections();
        server.close();
      }
    },
  };
}

let gateway: FastifyInstance | undefined;
let replicas: Awaited<ReturnType<typeof startReplicas>> | undefined;

afterEach(async () => {
  await gateway?.close();
  await replicas?.stop();
});

async function gatewayOver(count: number, env: Record<string, string> = {}) {
  replicas = await startReplicas(count);
  const addresses = replicas.addresses;
  gateway = gatewayOverLoopback(replicas.port, addresses, {
    ...env,
  });
  await gateway.ready();
  return { gateway, replicas };
}

const topology = async (app: FastifyInstance) =>
  (await app.inject({ url: '/api/_topology' })).json().upstreams.find((u: { name: string }) => u.name === 'users');

describe('balancing', () => {
  it('spreads sequential requests evenly over every healthy replica', async () => {
    const { gateway, replicas } = await gatewayOver(3);
    for (let i = 0; i < 300; i++) await gateway.inject({ url: '/api/users' });
    for (const address of replicas.addresses) expect(replicas.served.get(address)).toBe(100);
  });
});

describe('retries', () => {
  it('retries an idempotent GET once on another replica when one answers 503', async () => {
    const { gateway, replicas } = await gatewayOver(2);
    replicas.set('127.0.0.1', 'fail503');
    const statuses = [];
    for (let i = 0; i < 10; i++) statuses.push((await gateway.inject({ url: '/api/users' })).statusCode);
    expect(statuses).toEqual(Array(10).fill(200));
    const users = await topology(gateway);
    expect(users.retries).toBeGreaterThan(0);
    expect(users.retries).toBeLessThanOrEqual(3);
  });

  it('does not retry a POST without an Idempotency-Key, and does retry one with it', async () => {
    const { gateway, replicas } = await gatewayOver(2);
    replicas.set('127.0.0.1', 'fail503');
    const post = (headers: Record<string, string> = {}) =>
      gateway.inject({ method: 'POST', url: '/api/users', payload: {}, headers }).then((r) => r.statusCode);
    const plain = [await post(), await post(), await post(), await post()];
    expect(plain.filter((s) => s === 503)).toHaveLength(2);
    const keyed = [];
    for (let i = 0; i < 4; i++) keyed.push(await post({ 'idempotency-key': `create-${i}` }));
    expect(keyed).toEqual([200, 200, 200, 200]);
  });

  it('never spends more than the budget: 20% of requests plus a small reserve', async () => {
    const budget = new RetryBudget(0.2, 5);
    let granted = 0;
    for (let i = 0; i < 1000; i++) {
      budget.recordRequest();
      if (budget.tryWithdraw()) granted++;
    }
    expect(granted).toBeLessThanOrEqual(205);
    expect(granted).toBeGreaterThanOrEqual(195);
  });
});

describe('passive health and the circuit breaker', () => {
  it('ejects a replica that keeps failing and serves from the others without errors', async () => {
    const { gateway, replicas } = await gatewayOver(3, { EJECT_AFTER_FAILURES: '2', EJECTION_BASE_MS: '60000' });
    replicas.set('127.0.0.2', 'refuse');
    const statuses = new Set<number>();
    for (let i = 0; i < 30; i++) statuses.add((await gateway.inject({ url: '/api/users' })).statusCode);
    expect([...statuses]).toEqual([200]);
    const users = await topology(gateway);
    expect(users.replicas).toEqual({ known: 3, healthy: 2, ejected: 1 });
    expect(users.instances.find((r: { address: string }) => r.address === '127.0.0.2')).toMatchObject({
      ejected: true,
    });
  });

  it('answers 503 problem+json in milliseconds once every replica is gone and the breaker is open', async () => {
    const { gateway, replicas } = await gatewayOver(2, { BREAKER_FAILURES: '3', BREAKER_HALF_OPEN_AFTER_MS: '60000' });
    replicas.set('127.0.0.1', 'refuse');
    replicas.set('127.0.0.2', 'refuse');
    for (let i = 0; i < 5; i++) await gateway.inject({ url: '/api/users' });
    expect((await topology(gateway)).breaker).toBe('open');
    const started = performance.now();
    const res = await gateway.inject({ url: '/api/users' });
    expect(performance.now() - started).toBeLessThan(50);
    expect(res.statusCode).toBe(503);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ upstream: 'users', detail: 'The users service is unavailable (circuit open)' });
  });

  it('serves again within 1 s of a crashed service coming back, without waiting out the breaker or the ejection', async () => {
    const { gateway, replicas } = await gatewayOver(1, {
      BREAKER_FAILURES: '3',
      BREAKER_HALF_OPEN_AFTER_MS: '60000',
      EJECT_AFTER_FAILURES: '1',
      EJECTION_BASE_MS: '60000',
    });
    await replicas.set('127.0.0.1', 'refuse');
    for (let i = 0; i < 5; i++) await gateway.inject({ url: '/api/users' });
    expect(await topology(gateway)).toMatchObject({ breaker: 'open', replicas: { healthy: 0, ejected: 1 } });

    await replicas.set('127.0.0.1', 'ok');
    const backAt = performance.now();
    let status = 0;
    while (status !== 200 && performance.now() - backAt < 5000) {
      status = (await gateway.inject({ url: '/api/users' })).statusCode;
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(status).toBe(200);
    expect(performance.now() - backAt).toBeLessThan(1000);
    expect((await topology(gateway)).breaker).toBe('closed');
  });

  it('exposes breaker state, retries and ejections as Prometheus metrics', async () => {
    const { gateway, replicas } = await gatewayOver(2, { EJECT_AFTER_FAILURES: '1' });
    replicas.set('127.0.0.1', 'fail503');
    for (let i = 0; i < 4; i++) await gateway.inject({ url: '/api/users' });
    const text = (await gateway.inject({ url: '/metrics' })).body;
    expect(text).toMatch(/gateway_circuit_state\{upstream="users"\} 0/);
    expect(text).toMatch(/gateway_upstream_ejections_total\{upstream="users"\} 1/);
    expect(text).toMatch(/gateway_upstream_retries_total\{upstream="users",reason="503"\} [1-9]/);
    expect(text).toMatch(/gateway_requests_total\{route="\/api\/users",method="GET",status="200",upstream="users"\} 4/);
    expect(text).toMatch(/gateway_upstream_replicas\{upstream="users",state="healthy"\} 1/);
  });
});
