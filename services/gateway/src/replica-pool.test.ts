import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { gatewayOverLoopback, sharedLoopbackPort } from './loopback-port.test-support.ts';

/**
 * ok; slow-probe: answers requests at once but /health/ready only after PROBE_DELAY_MS, as a
 * saturated replica does when its probe waits in the queue behind the load; silent: takes
 * connections and answers nothing (a hung process); refuse: its port is closed.
 */
type Behaviour = 'ok' | 'slow-probe' | 'silent' | 'refuse';

const PROBE_INTERVAL_MS = 100;
// Longer than the stalls of a test process on 2 busy cores, which the replicas share with the gateway.
const PROBE_TIMEOUT_MS = 400;
const PROBE_DELAY_MS = 3 * PROBE_TIMEOUT_MS;
/** Timers run late while four clients keep the event loop busy (seen: 170 ms on 2 busy cores). */
const SLACK_MS = 300;

/** Replicas on 127.0.0.1, 127.0.0.2, ... sharing one port, as Docker replicas do on their own IPs. */
async function startReplicas(count: number) {
  const port = await sharedLoopbackPort();

  const addresses = Array.from({ length: count }, (_, i) => `127.0.0.${i + 1}`);
  const behaviour = new Map<string, Behaviour>(addresses.map((a) => [a, 'ok']));
  const served = new Map<string, number>(addresses.map((a) => [a, 0]));
  const probes = new Map<string, number>(addresses.map((a) => [a, 0]));
  const servers = new Map<string, Server>();
  await Promise.all(
    addresses.map(async (address) => {
      const server = createServer((req, res) => {
        const now = behaviour.get(address);
        if (now === 'silent') return;
        if (req.url === '/health/ready') {
          probes.set(address, (probes.get(address) ?? 0) + 1);
          const answer = () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
          if (now === 'slow-probe') setTimeout(answer, PROBE_DELAY_MS);
          else answer();
          return;
        }
        served.set(address, (served.get(address) ?? 0) + 1);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      });
      server.listen(port, address);
      await once(server, 'listening');
      servers.set(address, server);
    }),
  );
  return {
    port,
    addresses,
    served,
    probes,
    set(address: string, next: Behaviour) {
      behaviour.set(address, next);
      if (next === 'refuse') {
        servers.get(address)?.closeAllConnections();
        servers.get(address)?.close();
      }
    },
    stop() {
      for (const server of servers.values()) {
        server.closeAllConnections();
        server.close();
      }
    },
  };
}

let gateway: FastifyInstance | undefined;
let replicas: Awaited<ReturnType<typeof startReplicas>> | undefined;
let load: { stop(): Promise<void> } | undefined;

afterEach(async () => {
  await load?.stop();
  await gateway?.close();
  replicas?.stop();
  load = gateway = replicas = undefined;
});

async function gatewayOver(count: number) {
  replicas = await startReplicas(count);
  const addresses = replicas.addresses;
  gateway = gatewayOverLoopback(replicas.port, addresses, {
    PROBE_INTERVAL_MS: String(PROBE_INTERVAL_MS),
    PROBE_TIMEOUT_MS: String(PROBE_TIMEOUT_MS),
    // Only the probes take a replica out here, never a run of failed requests.
    EJECT_AFTER_FAILURES: '100',
    UPSTREAM_RESPONSE_TIMEOUT_MS: '1000',
  });
  await gateway.ready();
  return { gateway, replicas };
}

/** Four clients in a loop through the gateway until stopped: the load a saturated replica sees. */
function startLoad(app: FastifyInstance) {
  let running = true;
  const clients = Array.from({ length: 4 }, async () => {
    while (running) await app.inject({ url: '/api/users' });
  });
  return {
    async stop() {
      running = false;
      await Promise.all(clients);
    },
  };
}

const instance = async (app: FastifyInstance, address: string) =>
  (await app.inject({ url: '/api/_topology' }))
    .json()
    .upstreams.find((u: { name: string }) => u.name === 'users')
    .instances.find((r: { address: string }) => r.address === address);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How long after now the replica stops being healthy in the topology (5 s at most). */
async function msUntilOut(app: FastifyInstance, address: string): Promise<number> {
  const startedAt = performance.now();
  while ((await instance(app, address)).healthy && performance.now() - startedAt < 5000) await sleep(5);
  return performance.now() - startedAt;
}

describe('readiness probes and passive health', () => {
  it('#21 finding 16: keeps a replica in rotation while its probe times out but it answers requests', async () => {
    const { gateway, replicas } = await gatewayOver(3);
    load = startLoad(gateway);
    replicas.set('127.0.0.2', 'slow-probe');
    // Long enough for the first probes to time out, which used to take the replica out.
    await sleep(2 * (PROBE_INTERVAL_MS + PROBE_TIMEOUT_MS));
    const before = new Map(replicas.served);
    const probesBefore = replicas.probes.get('127.0.0.2') ?? 0;
    await sleep(1000);
    const meanwhile = await instance(gateway, '127.0.0.2');
    await load.stop();

    const window = replicas.addresses.map((a) => (replicas.served.get(a) ?? 0) - (before.get(a) ?? 0));
    const total = window.reduce((sum, n) => sum + n, 0);
    expect(total).toBeGreaterThan(30);
    // Three replicas: the slow-probed one still takes about a third of the requests.
    expect(window[1]).toBeGreaterThan(total * 0.2);
    // Its probes kept timing out meanwhile: every one of them waited PROBE_DELAY_MS.
    expect((replicas.probes.get('127.0.0.2') ?? 0) - probesBefore).toBeGreaterThanOrEqual(3);
    expect(meanwhile).toMatchObject({ healthy: true, ready: true, ejected: false });
  });

  it('#21 finding 16: still takes out a replica that stops answering anything within a probe interval and timeout', async () => {
    const { gateway, replicas } = await gatewayOver(3);
    load = startLoad(gateway);
    await sleep(2 * PROBE_INTERVAL_MS);
    replicas.set('127.0.0.2', 'silent');
    const elapsed = await msUntilOut(gateway, '127.0.0.2');
    // A probe under way when it went silent may have seen requests answered; the next one, at
    // most an interval later, times out with none.
    expect(elapsed).toBeLessThan(PROBE_INTERVAL_MS + PROBE_TIMEOUT_MS + SLACK_MS);
    expect(await instance(gateway, '127.0.0.2')).toMatchObject({ healthy: false, ready: false });
  });

  it('#21 finding 16: takes out a replica that refuses connections at its next probe, however recently it answered', async () => {
    const { gateway, replicas } = await gatewayOver(3);
    load = startLoad(gateway);
    await sleep(2 * PROBE_INTERVAL_MS);
    replicas.set('127.0.0.2', 'refuse');
    const elapsed = await msUntilOut(gateway, '127.0.0.2');
    expect(elapsed).toBeLessThan(PROBE_INTERVAL_MS + SLACK_MS);
    expect(await instance(gateway, '127.0.0.2')).toMatchObject({ healthy: false, ready: false });
  });
});
