import {
  type BenchSession,
  type Container,
  LOADGEN_IMAGE,
  PROXY_IMAGE,
  type ServiceImage,
  serviceImage,
} from './docker.ts';
import { waitFor200 } from './load.ts';

/**
 * The CPU budget. On this 2-core machine the load generator gets core 0 and each
 * deployment gets core 1 in total: the monolith's one process, or the gateway,
 * hello and users sharing it as the scheduler sees fit. Equal CPU for both, and
 * the load generator never competes with what it measures. Only one deployment
 * is under load at any time.
 */
export const CPU_LAYOUT = { loadgen: '0', deployment: '1' } as const;

/** The same memory limits as docker-compose.yml. */
const MEMORY_MIB: Record<ServiceImage, number> = { hello: 160, users: 192, gateway: 256, monolith: 256 };

/**
 * Request logs off: at `info` every process writes a line per request, and the
 * benchmark would measure Docker's log driver (twice per request for microservices).
 */
const SERVICE_ENV = { LOG_LEVEL: 'warn' };

export const PORTS = { hello: 8070, users: 8090, gateway: 8080, monolith: 8060, proxy: 8085 } as const;

export interface Deployment {
  name: string;
  containers: Container[];
  /** On the benchmark network, for the load generator. */
  baseUrl: string;
  /** Published on 127.0.0.1, for host probes. */
  hostUrl: string;
  /** From the first `docker run` to the first 200 on /health/ready (every upstream ready, for the gateway). */
  coldStartMs: number;
}

export async function startLoadgen(session: BenchSession): Promise<Container> {
  return session.run({ role: 'loadgen', image: LOADGEN_IMAGE, cpuset: CPU_LAYOUT.loadgen });
}

function startService(
  session: BenchSession,
  service: ServiceImage,
  role: string,
  extra: { env?: Record<string, string>; volume?: string; publish?: boolean } = {},
) {
  return session.run({
    role,
    image: serviceImage(service),
    alias: service,
    cpuset: CPU_LAYOUT.deployment,
    memoryMiB: MEMORY_MIB[service],
    hardened: true,
    env: { ...SERVICE_ENV, PORT: String(PORTS[service]), ...extra.env },
    ...(extra.volume ? { volume: extra.volume } : {}),
    ...(extra.publish ? { publish: PORTS[service] } : {}),
  });
}

const gatewayReady = (expectedUsers: number) => (body: string) => {
  const checks = (JSON.parse(body) as { checks?: Record<string, { ok?: boolean; healthy?: number }> }).checks ?? {};
  return checks.hello?.ok === true && checks.users?.ok === true && (checks.users.healthy ?? 0) >= expectedUsers;
};

export interface Microservices extends Deployment {
  gateway: Container;
  hello: Container;
  users: Container[];
  /** Starts one more users replica on the same alias and volume and waits until the gateway uses it. */
  addUsersReplica(): Promise<Container>;
}

/**
 * gateway, hello and users started together (not in compose's order, which waits
 * for healthchecks on a 5 s interval): cold start is then the services' own time.
 */
export async function startMicroservices(session: BenchSession): Promise<Microservices> {
  const volume = await session.createVolume('users');
  const startedAt = performance.now();
  const [hello, firstUsers, gateway] = await Promise.all([
    startService(session, 'hello', 'hello'),
    startService(session, 'users', 'users-1', { volume }),
    startService(session, 'gateway', 'gateway', {
      publish: true,
      env: {
        HELLO_URL: `http://hello:${PORTS.hello}`,
        USERS_URL: `http://users:${PORTS.users}`,
        RATE_LIMIT_ENABLED: 'false',
      },
    }),
  ]);
  const hostUrl = gateway.hostUrl ?? '';
  const readyAt = await waitFor200(`${hostUrl}/health/ready`, 60_000, gatewayReady(1));
  const users = [firstUsers];
  const deployment: Microservices = {
    name: 'microservices',
    containers: [gateway, hello, firstUsers],
    baseUrl: `http://gateway:${PORTS.gateway}`,
    hostUrl,
    coldStartMs: readyAt - startedAt,
    gateway,
    hello,
    users,
    async addUsersReplica() {
      const replica = await startService(session, 'users', `users-${users.length + 1}`, { volume });
      users.push(replica);
      deployment.containers.push(replica);
      await waitFor200(`${hostUrl}/health/ready`, 30_000, gatewayReady(users.length));
      return replica;
    },
  };
  return deployment;
}

export async function startMonolith(session: BenchSession): Promise<Deployment> {
  const volume = await session.createVolume('monolith');
  const startedAt = performance.now();
  const monolith = await startService(session, 'monolith', 'monolith', { volume, publish: true });
  const hostUrl = monolith.hostUrl ?? '';
  const readyAt = await waitFor200(`${hostUrl}/health/ready`, 60_000);
  return {
    name: 'monolith',
    containers: [monolith],
    baseUrl: `http://monolith:${PORTS.monolith}`,
    hostUrl,
    coldStartMs: readyAt - startedAt,
  };
}

/** The Express + http-proxy-middleware reference proxy in front of hello. */
export async function startExpressProxy(session: BenchSession): Promise<Container> {
  const proxy = await session.run({
    role: 'express-proxy',
    image: PROXY_IMAGE,
    alias: 'express-proxy',
    cpuset: CPU_LAYOUT.deployment,
    memoryMiB: MEMORY_MIB.gateway,
    hardened: true,
    publish: PORTS.proxy,
    env: { HELLO_URL: `http://hello:${PORTS.hello}` },
  });
  await waitFor200(`${proxy.hostUrl}/health/ready`, 30_000);
  return proxy;
}

/** Creates users through the deployment's public API; GET runs read these back. */
export async function seedUsers(deployment: Deployment, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const res = await fetch(`${deployment.hostUrl}/api/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: `Seed ${i}`, email: `seed-${i}@example.org` }),
    });
    const body = (await res.json()) as { id?: string };
    if (res.status !== 201 || !body.id)
      throw new Error(`seeding ${deployment.name}: POST /api/users answered ${res.status}`);
    ids.push(body.id);
  }
  return ids;
}
