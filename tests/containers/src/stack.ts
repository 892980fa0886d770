import { randomBytes } from 'node:crypto';
import { docker, removeLabelled } from '@lab/lab-kit/docker';
import {
  CPU_QUOTA,
  imageFor,
  MEMORY_LIMIT_MIB,
  postgresUrl,
  SERVICE_PORTS,
  type ServiceName,
} from '@lab/lab-kit/lab-env';
import { CPU_LAYOUT, LOADGEN_IMAGE } from '@lab/lab-kit/loadgen';
import { GenericContainer, Network, type StartedNetwork, type StartedTestContainer, Wait } from 'testcontainers';
import { startPostgres } from './postgres.ts';

/**
 * Gateway figures for the fault tests: the documented defaults (README) scaled
 * down so each scenario takes seconds, not minutes. The behaviour is the same.
 */
export const FAST_FAILOVER: Record<string, string> = {
  UPSTREAM_RESPONSE_TIMEOUT_MS: '1000',
  DISCOVERY_INTERVAL_MS: '1000',
  PROBE_INTERVAL_MS: '500',
  PROBE_TIMEOUT_MS: '500',
  EJECTION_BASE_MS: '1000',
  BREAKER_HALF_OPEN_AFTER_MS: '1000',
};

/** On every container a stack starts, so teardown also finds one whose start() threw after it was created. */
const RUN_LABEL = 'mslab.container-tests.run';

/**
 * The same least-privilege settings as docker-compose.yml (read_only, tmpfs,
 * cap_drop, no-new-privileges, pids and memory limits), so the tests prove the
 * services work hardened. testcontainers has no setter for a read-only root
 * filesystem or a pids limit, hence the subclass.
 */
class LabContainer extends GenericContainer {
  /** Pins the container to these cores (`--cpuset-cpus`); testcontainers has no setter for it. */
  onCores(cpuset: string): this {
    this.hostConfig.CpusetCpus = cpuset;
    return this;
  }
}

class HardenedContainer extends LabContainer {
  harden(service: ServiceName, cpuQuota: boolean): this {
    this.hostConfig.ReadonlyRootfs = true;
    this.hostConfig.PidsLimit = 64;
    if (cpuQuota) this.onCores(CPU_LAYOUT.deployment);
    return this.withTmpFs({ '/tmp': 'rw,noexec,nosuid' })
      .withDroppedCapabilities('ALL')
      .withSecurityOpt('no-new-privileges:true')
      .withResourcesQuota({
        memory: MEMORY_LIMIT_MIB[service] / 1024,
        ...(cpuQuota ? { cpu: CPU_QUOTA[service] } : {}),
      });
  }
}

export interface ServiceOptions {
  env?: Record<string, string>;
  publish?: boolean;
  tag?: string;
  /** A named volume mounted at /data (users keeps its SQLite file there); the stack removes it. */
  volume?: string;
  /** The scaling layout: the service's CPU quota (.env: *_CPUS), on the deployment core. */
  cpuQuota?: boolean;
}

/** One started service container, reachable on the network by its service name. */
async function startService(
  service: ServiceName,
  network: StartedNetwork,
  runId: string,
  { env = {}, publish = false, tag = 'dev', volume, cpuQuota = false }: ServiceOptions = {},
): Promise<StartedTestContainer> {
  let container = new HardenedContainer(imageFor(service, tag))
    .harden(service, cpuQuota)
    .withLabels({ [RUN_LABEL]: runId })
    .withNetwork(network)
    .withNetworkAliases(service)
    .withEnvironment({ LOG_LEVEL: 'info', ...env })
    // The service logs this once it listens (the gateway: after its first discovery).
    // Docker's HEALTHCHECK would say the same, but only after its 5 s interval.
    .withWaitStrategy(Wait.forLogMessage(`"msg":"${service} listening"`))
    .withStartupTimeout(60_000);
  if (publish) container = container.withExposedPorts(SERVICE_PORTS[service]);
  // A bare name as the source makes Docker mount a named volume, not a host path.
  if (volume) container = container.withBindMounts([{ source: volume, target: '/data' }]);
  return container.start();
}

/** A started container's address on the host, through its mapped port. */
export const hostUrl = (container: StartedTestContainer, service: ServiceName) =>
  `http://${container.getHost()}:${container.getMappedPort(SERVICE_PORTS[service])}`;

/** Disposing it removes every container, the network and the volumes, whatever state they are in. */
export interface Stack extends AsyncDisposable {
  network: StartedNetwork;
  hello: StartedTestContainer;
  /** Every users replica started so far, in order. */
  users: StartedTestContainer[];
  gateway: StartedTestContainer;
  /** The gateway as the host sees it, through its mapped port. */
  gatewayUrl: string;
  /** Starts one more users replica on the same alias and volume. */
  addUsersReplica(): Promise<StartedTestContainer>;
  /** Starts another container of a service on this network (e.g. a new version). */
  startExtra(service: ServiceName, options?: ServiceOptions): Promise<StartedTestContainer>;
  /** The load generator (bench/loadgen) on this network, on its own core; the stack removes it. */
  startLoadgen(): Promise<StartedTestContainer>;
  /** With `database: 'postgres'`: the server users keeps its data on (its data on a volume the stack removes). */
  postgres?: StartedTestContainer;
}

export interface StackOptions {
  usersReplicas?: number;
  gatewayEnv?: Record<string, string>;
  /** Every service with its CPU quota on the deployment core, each replica as a small machine (the scaling layout). */
  cpuQuotas?: boolean;
  /** Where users keeps its data: SQLite on a shared volume (the default), or a PostgreSQL container. */
  database?: 'sqlite' | 'postgres';
}

/**
 * hello, users and gateway on a fresh user-defined network; only the gateway publishes
 * a port. If any of it fails to start, what did start is removed before the error.
 */
export async function startStack({
  usersReplicas = 1,
  gatewayEnv = {},
  cpuQuotas = false,
  database = 'sqlite',
}: StackOptions = {}): Promise<Stack> {
  await using cleanup = new AsyncDisposableStack();
  const runId = randomBytes(4).toString('hex');
  const volumes = [`mslab-users-${runId}`];
  // Disposed last in, first out: containers, then the network, then the volumes they used.
  cleanup.defer(async () => {
    for (const volume of volumes) await docker('volume', 'rm', '-f', volume).catch(() => '');
  });
  const network = await new Network().start();
  /** Every container this stack started, removed or not: see the network's removal below. */
  const startedNames: string[] = [];
  const track = async (starting: Promise<StartedTestContainer>) => {
    const container = await starting;
    startedNames.push(container.getName().replace(/^\//, ''));
    return container;
  };
  cleanup.defer(async () => {
    await network.stop().catch(async () => {
      // A container removed while the engine was still handling its exit (a SIGKILL, then
      // rm -f) can leave a stale endpoint, and the network then "has active endpoints".
      // A forced disconnect by the container's name clears it.
      for (const name of startedNames) {
        await docker('network', 'disconnect', '--force', network.getName(), name).catch(() => '');
      }
      await docker('network', 'rm', network.getName()).catch(() => '');
    });
  });
  // `docker rm -f` works on running, paused, stopped and disconnected containers alike.
  cleanup.defer(() => removeLabelled(`${RUN_LABEL}=${runId}`));

  let postgres: StartedTestContainer | undefined;
  if (database === 'postgres') {
    const volume = `mslab-postgres-${runId}`;
    volumes.push(volume);
    postgres = await track(startPostgres({ network, volume, labels: { [RUN_LABEL]: runId } }));
  }
  const usersStore: ServiceOptions = postgres
    ? { env: { DATABASE_URL: postgresUrl('postgres') } }
    : { volume: volumes[0] as string };
  const users: StartedTestContainer[] = [];
  const addUsersReplica = async () => {
    const replica = await track(startService('users', network, runId, { ...usersStore, cpuQuota: cpuQuotas }));
    users.push(replica);
    return replica;
  };
  // The first replica alone: Docker fills a new named volume from the image's /data (owner
  // included) on its first mount, and a replica mounting it meanwhile can find it root-owned.
  const [hello] = await Promise.all([
    track(startService('hello', network, runId, { cpuQuota: cpuQuotas })),
    addUsersReplica(),
  ]);
  await Promise.all(Array.from({ length: usersReplicas - 1 }, () => addUsersReplica()));
  const gateway = await track(
    startService('gateway', network, runId, {
      publish: true,
      env: gatewayEnv,
      cpuQuota: cpuQuotas,
    }),
  );
  const owned = cleanup.move();
  return {
    network,
    hello,
    users,
    gateway,
    gatewayUrl: hostUrl(gateway, 'gateway'),
    addUsersReplica,
    ...(postgres ? { postgres } : {}),
    startExtra(service, options = {}) {
      if (options.volume) volumes.push(options.volume);
      return track(startService(service, network, runId, options));
    },
    startLoadgen() {
      // Its own core: the generator must not compete with what it measures.
      return track(
        new LabContainer(LOADGEN_IMAGE)
          .onCores(CPU_LAYOUT.loadgen)
          .withLabels({ [RUN_LABEL]: runId })
          .withNetwork(network)
          .withStartupTimeout(30_000)
          .start(),
      );
    },
    [Symbol.asyncDispose]: () => owned.disposeAsync(),
  };
}
