import { docker } from '@lab/lab-kit/docker';
import { NGINX_PROXY_IMAGE, OTLP_SINK_IMAGE, PROXY_IMAGE, REPLY_FROM_IMAGE } from '@lab/lab-kit/images';
import { imageFor, labSetting, MEMORY_LIMIT_MIB, SERVICE_PORTS, type ServiceName } from '@lab/lab-kit/lab-env';
import { CPU_LAYOUT, LOADGEN_IMAGE } from '@lab/lab-kit/loadgen';
import { seedUsers } from '@lab/lab-kit/users-api';
import { sleep, type WaitForOkOptions, waitForOk } from '@lab/lab-kit/wait';
import type { BenchSession, Container } from './session.ts';

/**
 * The CPU budget (CPU_LAYOUT): the load generator gets core 0 and each deployment gets
 * core 1 in total: the monolith's one process, or the gateway, hello and users sharing it
 * as the scheduler sees fit. Equal CPU for both. Only one deployment is under load at a time.
 */
export { CPU_LAYOUT };

/**
 * Request logs off: at `info` every process writes a line per request, and the
 * benchmark would measure Docker's log driver (twice per request for microservices).
 */
const SERVICE_ENV = { LOG_LEVEL: 'warn' };

export const PORTS = {
  ...SERVICE_PORTS,
  express: 8085,
  nginx: 8086,
  replyFrom: 8087,
} as const;

/** The gateway in front of this run's hello and users, as the benchmarks run it: no rate limit in the way of the load. */
const GATEWAY_ENV = {
  HELLO_URL: `http://hello:${PORTS.hello}`,
  USERS_URL: `http://users:${PORTS.users}`,
  RATE_LIMIT_ENABLED: 'false',
};

const OTLP_SINK = 'http://otlp-sink:4318';

/**
 * Tracing as a deployment can have it: off (the services' default without an endpoint, and
 * docker-compose.yml's), every request sampled, or the sampler .env sets for when it is
 * turned on (OTEL_TRACES_SAMPLER*). Spans go to the OTLP sink (startOtlpSink).
 */
export const TRACING = {
  full: { OTEL_EXPORTER_OTLP_ENDPOINT: OTLP_SINK, OTEL_TRACES_SAMPLER: 'parentbased_always_on' },
  ratio: {
    OTEL_EXPORTER_OTLP_ENDPOINT: OTLP_SINK,
    OTEL_TRACES_SAMPLER: labSetting('OTEL_TRACES_SAMPLER'),
    OTEL_TRACES_SAMPLER_ARG: labSetting('OTEL_TRACES_SAMPLER_ARG'),
  },
} as const;

/** "1%" for .env's ratio, as the reports name it. */
export const SAMPLING_RATIO = `${Number(labSetting('OTEL_TRACES_SAMPLER_ARG')) * 100}%`;

/** The collector traced deployments export to, on the load generator's core so its CPU is not the deployment's. */
export async function startOtlpSink(session: BenchSession): Promise<Container> {
  return session.run({ role: 'otlp-sink', image: OTLP_SINK_IMAGE, alias: 'otlp-sink', cpuset: CPU_LAYOUT.loadgen });
}

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
  service: ServiceName,
  role: string,
  extra: {
    env?: Record<string, string>;
    volume?: string;
    publish?: boolean;
    alias?: string;
    command?: string[];
    cpus?: number;
  } = {},
) {
  return session.run({
    role,
    image: imageFor(service),
    alias: extra.alias ?? service,
    cpuset: CPU_LAYOUT.deployment,
    memoryMiB: MEMORY_LIMIT_MIB[service],
    hardened: true,
    env: { ...SERVICE_ENV, PORT: String(PORTS[service]), ...extra.env },
    ...(extra.volume ? { volume: extra.volume } : {}),
    ...(extra.publish ? { publish: PORTS[service] } : {}),
    ...(extra.command ? { command: extra.command } : {}),
    ...(extra.cpus ? { cpus: extra.cpus } : {}),
  });
}

/** Polled often: the moment it first answers is the cold start being measured. */
const whenReady = (hostUrl: string, timeoutMs: number, options: WaitForOkOptions = {}) =>
  waitForOk(`${hostUrl}/health/ready`, timeoutMs, { intervalMs: 20, ...options });

/** The gateway's readiness, once it sees both upstreams with at least `expectedUsers` users replicas. */
const gatewayReady = (expectedUsers: number): WaitForOkOptions => ({
  accept(body) {
    const checks = (JSON.parse(body) as { checks?: Record<string, { ok?: boolean; healthy?: number }> }).checks ?? {};
    return checks.hello?.ok === true && checks.users?.ok === true && (checks.users.healthy ?? 0) >= expectedUsers;
  },
});

export interface Microservices extends Deployment {
  gateway: Container;
  hello: Container;
  users: Container[];
  /** Starts one more users replica on the same alias and volume (with a CPU quota, if given) and waits until the gateway uses it. */
  addUsersReplica(cpus?: number): Promise<Container>;
}

/**
 * gateway, hello and users started together (not in compose's order, which waits
 * for healthchecks on a 5 s interval): cold start is then the services' own time.
 */
/** `tag` makes the container names unique when a run starts the same deployment again (cold-start samples). */
export async function startMicroservices(
  session: BenchSession,
  tag = '',
  env: Record<string, string> = {},
): Promise<Microservices> {
  const volume = await session.createVolume(`users${tag}`);
  const startedAt = performance.now();
  const [hello, firstUsers, gateway] = await Promise.all([
    startService(session, 'hello', `hello${tag}`, { env }),
    // Published so the blast-radius test can see the moment users itself is ready again.
    startService(session, 'users', `users${tag}-1`, { volume, publish: true, env }),
    startService(session, 'gateway', `gateway${tag}`, { publish: true, env: { ...GATEWAY_ENV, ...env } }),
  ]);
  const hostUrl = gateway.hostUrl ?? '';
  const readyAt = await whenReady(hostUrl, 60_000, gatewayReady(1));
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
    async addUsersReplica(cpus) {
      const replica = await startService(session, 'users', `users${tag}-${users.length + 1}`, {
        volume,
        env,
        ...(cpus ? { cpus } : {}),
      });
      users.push(replica);
      deployment.containers.push(replica);
      await whenReady(hostUrl, 30_000, gatewayReady(users.length));
      return replica;
    },
  };
  return deployment;
}

export interface Monolith extends Deployment {
  /** Where its SQLite file lives; replicas share it. */
  volume: string;
}

export async function startMonolith(
  session: BenchSession,
  tag = '',
  env: Record<string, string> = {},
): Promise<Monolith> {
  const volume = await session.createVolume(`monolith${tag}`);
  const startedAt = performance.now();
  const monolith = await startService(session, 'monolith', `monolith${tag}`, { volume, publish: true, env });
  const hostUrl = monolith.hostUrl ?? '';
  const readyAt = await whenReady(hostUrl, 60_000);
  return {
    name: 'monolith',
    containers: [monolith],
    baseUrl: `http://monolith:${PORTS.monolith}`,
    hostUrl,
    coldStartMs: readyAt - startedAt,
    volume,
  };
}

/** The monolith scaled the only way it can be: whole copies behind a gateway. */
export interface MonolithReplicas {
  gateway: Container;
  /** On the benchmark network, for the load generator. */
  baseUrl: string;
  /** Every monolith replica, the first being the monolith `startMonolith` started. */
  replicas: Container[];
  /** Starts one more monolith on the same alias and volume, with this CPU quota, and waits until the gateway uses it. */
  addReplica(cpus: number): Promise<Container>;
}

/**
 * A gateway in front of the monolith: both upstreams are the monolith, at the public
 * paths it serves itself (an upstream URL with a base path), so the gateway balances
 * every request over the monolith's replicas as it balances users over users'.
 */
export async function frontMonolith(
  session: BenchSession,
  monolith: Monolith,
  gatewayCpus: number,
): Promise<MonolithReplicas> {
  const origin = `http://monolith:${PORTS.monolith}`;
  const gateway = await startService(session, 'gateway', 'gateway-monolith', {
    alias: 'gateway-monolith',
    publish: true,
    cpus: gatewayCpus,
    env: { ...GATEWAY_ENV, HELLO_URL: `${origin}/api/hello`, USERS_URL: `${origin}/api/users` },
  });
  const hostUrl = gateway.hostUrl ?? '';
  await whenReady(hostUrl, 60_000, gatewayReady(1));
  const replicas = [...monolith.containers];
  return {
    gateway,
    baseUrl: `http://gateway-monolith:${PORTS.gateway}`,
    replicas,
    async addReplica(cpus) {
      const replica = await startService(session, 'monolith', `monolith-${replicas.length + 1}`, {
        volume: monolith.volume,
        cpus,
      });
      replicas.push(replica);
      await whenReady(hostUrl, 60_000, gatewayReady(replicas.length));
      return replica;
    },
  };
}

/** A proxy in front of hello: the gateway or a reference proxy. */
export interface HelloProxy {
  container: Container;
  /** On the benchmark network, for the load generator. */
  baseUrl: string;
}

/** One more gateway in front of the same hello and users as the first, under its own alias. */
async function startSecondGateway(
  session: BenchSession,
  alias: string,
  env: Record<string, string>,
): Promise<HelloProxy> {
  const gateway = await startService(session, 'gateway', alias, { alias, publish: true, env });
  await whenReady(gateway.hostUrl ?? '', 60_000, gatewayReady(1));
  return { container: gateway, baseUrl: `http://${alias}:${PORTS.gateway}` };
}

/**
 * A gateway with docker-compose.yml's settings: request logs at info, rate limiting on at
 * its default, and tracing as .env sets it. The default limit (10,000 req/s per
 * client address) is above what the load reaches: the cost of counting is measured, not
 * rejections.
 */
export const startGatewayDefaults = (session: BenchSession): Promise<HelloProxy> =>
  startSecondGateway(session, 'gateway-defaults', {
    HELLO_URL: GATEWAY_ENV.HELLO_URL,
    USERS_URL: GATEWAY_ENV.USERS_URL,
    LOG_LEVEL: 'info',
    // Tracing as compose has it: .env's OTEL_SDK_DISABLED decides.
    ...TRACING.ratio,
    OTEL_SDK_DISABLED: labSetting('OTEL_SDK_DISABLED'),
  });

/** The benchmark's gateway (logs at warn, no rate limit) with tracing on: what tracing alone costs. */
export const startTracedGateway = (session: BenchSession, tracing: keyof typeof TRACING): Promise<HelloProxy> =>
  startSecondGateway(session, `gateway-traced-${tracing}`, {
    ...SERVICE_ENV,
    ...GATEWAY_ENV,
    ...TRACING[tracing],
  });

/** In the container's /tmp, its only writable place. */
const CPU_PROFILE_NAME = 'gateway.cpuprofile';

export interface ProfiledGateway extends HelloProxy {
  /** SIGTERM, as `docker stop` would send; resolves once node has exited and written its profile. */
  stop(): Promise<{ exitCode: number; profile: string; sourceMap?: string }>;
}

/**
 * The gateway as startMicroservices runs it (the image's own CMD), under `node --cpu-prof`.
 * Node writes the profile as it exits, into the container's /tmp, a tmpfs that goes when
 * the container stops; so a shell runs node, keeps its exit code and keeps the container
 * up to be read.
 */
export async function startProfiledGateway(session: BenchSession): Promise<ProfiledGateway> {
  const image = imageFor('gateway');
  const [node, ...args] = JSON.parse(
    await docker('image', 'inspect', '--format', '{{json .Config.Cmd}}', image),
  ) as string[];
  if (node !== 'node') throw new Error(`${image}: CMD does not start with node`);
  const gateway = await startService(session, 'gateway', 'gateway-profile', {
    alias: 'gateway-profile',
    publish: true,
    env: GATEWAY_ENV,
    command: [
      'sh',
      '-c',
      `node --cpu-prof --cpu-prof-dir=/tmp --cpu-prof-name=${CPU_PROFILE_NAME} ${args.map((a) => `'${a}'`).join(' ')} & echo $! >/tmp/node.pid; wait $!; echo $? >/tmp/node.exit; exec sleep 3600`,
    ],
  });
  await whenReady(gateway.hostUrl ?? '', 60_000, gatewayReady(1));
  const exec = (command: string) => docker('exec', gateway.id, 'sh', '-c', command);
  return {
    container: gateway,
    baseUrl: `http://gateway-profile:${PORTS.gateway}`,
    async stop() {
      await exec('kill -TERM $(cat /tmp/node.pid)');
      // The gateway drains for SHUTDOWN_DRAIN_DELAY_MS (1.5 s) and must exit within its 8 s grace period.
      const deadline = performance.now() + 15_000;
      let exitCode = Number.NaN;
      while (Number.isNaN(exitCode) && performance.now() < deadline) {
        exitCode = await exec('cat /tmp/node.exit').then(Number, () => Number.NaN);
        if (Number.isNaN(exitCode)) await sleep(200);
      }
      if (Number.isNaN(exitCode)) throw new Error('the profiled gateway did not exit within 15 s of SIGTERM');
      // docker cp cannot see into a tmpfs; cat can.
      const profile = await exec(`cat /tmp/${CPU_PROFILE_NAME}`).catch(() => '');
      if (!profile) throw new Error(`the profiled gateway exited ${exitCode} without writing a CPU profile`);
      // The bundle's source map, when the image ships one, turns main.js positions back into files.
      const sourceMap = await exec('cat main.js.map').catch(() => undefined);
      return { exitCode, profile, ...(sourceMap ? { sourceMap } : {}) };
    },
  };
}

/** The proxies measured next to the gateway, each in front of the same hello. */
const PROXIES = {
  express: { image: PROXY_IMAGE, port: PORTS.express },
  nginx: { image: NGINX_PROXY_IMAGE, port: PORTS.nginx },
  'reply-from': { image: REPLY_FROM_IMAGE, port: PORTS.replyFrom },
} as const;

/** A reference proxy with the gateway's memory limit and hardening, ready when its /health/ready answers 200. */
export async function startProxy(session: BenchSession, name: keyof typeof PROXIES): Promise<HelloProxy> {
  const { image, port } = PROXIES[name];
  const container = await session.run({
    role: `${name}-proxy`,
    image,
    alias: `${name}-proxy`,
    cpuset: CPU_LAYOUT.deployment,
    memoryMiB: MEMORY_LIMIT_MIB.gateway,
    hardened: true,
    publish: port,
    env: { HELLO_URL: `http://hello:${PORTS.hello}` },
  });
  await whenReady(container.hostUrl ?? '', 30_000);
  return { container, baseUrl: `http://${name}-proxy:${port}` };
}

/** Creates users through the deployment's public API; GET runs read these back. */
export const seedDeployment = (deployment: Deployment, count: number): Promise<string[]> =>
  seedUsers(deployment.hostUrl, count).catch((error: Error) => {
    throw new Error(`seeding ${deployment.name}: ${error.message}`);
  });
