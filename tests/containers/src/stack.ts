import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import {
  GenericContainer,
  getContainerRuntimeClient,
  Network,
  type StartedNetwork,
  type StartedTestContainer,
  Wait,
} from 'testcontainers';
import { imageFor, SERVICE_PORTS, type ServiceName } from './images.ts';

const run = promisify(execFile);

/** The docker CLI, as a workshop attendee would type it: kill, pause, network disconnect... */
export async function docker(...args: string[]): Promise<string> {
  return (await run('docker', args)).stdout.trim();
}

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

/**
 * The same least-privilege settings as docker-compose.yml (read_only, tmpfs,
 * cap_drop, no-new-privileges, pids and memory limits), so the tests prove the
 * services work hardened. testcontainers has no setter for a read-only root
 * filesystem or a pids limit, hence the subclass.
 */
export const MEMORY_LIMIT_MIB: Record<ServiceName, number> = { hello: 160, users: 192, gateway: 256, monolith: 256 };

class HardenedContainer extends GenericContainer {
  harden(service: ServiceName): this {
    this.hostConfig.ReadonlyRootfs = true;
    this.hostConfig.PidsLimit = 64;
    return this.withTmpFs({ '/tmp': 'rw,noexec,nosuid' })
      .withDroppedCapabilities('ALL')
      .withSecurityOpt('no-new-privileges:true')
      .withResourcesQuota({ memory: MEMORY_LIMIT_MIB[service] / 1024 });
  }
}

interface ServiceOptions {
  env?: Record<string, string>;
  publish?: boolean;
  tag?: string;
  /** A named volume mounted at /data (users keeps its SQLite file there). */
  volume?: string;
}

/** One started service container, reachable on the test network by its service name. */
export async function startService(
  service: ServiceName,
  network: StartedNetwork,
  { env = {}, publish = false, tag = 'dev', volume }: ServiceOptions = {},
): Promise<StartedTestContainer> {
  let container = new HardenedContainer(imageFor(service, tag))
    .harden(service)
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

export interface Stack {
  network: StartedNetwork;
  hello: StartedTestContainer;
  /** Every users replica started so far, in order. */
  users: StartedTestContainer[];
  gateway: StartedTestContainer;
  /** The gateway as the host sees it, through its mapped port. */
  gatewayUrl: string;
  /** Starts one more users replica on the same alias and volume. */
  addUsersReplica(): Promise<StartedTestContainer>;
  /** Starts another container of a service on this network (e.g. a new version), removed by stop(). */
  startExtra(service: ServiceName, options?: ServiceOptions): Promise<StartedTestContainer>;
  /** Removes every container, the network and the users volume, whatever state they are in. */
  stop(): Promise<void>;
}

export interface StackOptions {
  usersReplicas?: number;
  gatewayEnv?: Record<string, string>;
}

/** hello, users and gateway on a fresh user-defined network; only the gateway publishes a port. */
export async function startStack({ usersReplicas = 1, gatewayEnv = {} }: StackOptions = {}): Promise<Stack> {
  const network = await new Network().start();
  const volume = `mslab-users-${randomBytes(4).toString('hex')}`;
  const users: StartedTestContainer[] = [];
  const extra: StartedTestContainer[] = [];
  const addUsersReplica = async () => {
    const replica = await startService('users', network, { volume });
    users.push(replica);
    return replica;
  };
  const [hello] = await Promise.all([
    startService('hello', network),
    ...Array.from({ length: usersReplicas }, () => addUsersReplica()),
  ]);
  const gateway = await startService('gateway', network, { publish: true, env: gatewayEnv });
  const gatewayUrl = `http://${gateway.getHost()}:${gateway.getMappedPort(SERVICE_PORTS.gateway)}`;
  return {
    network,
    hello,
    users,
    gateway,
    gatewayUrl,
    addUsersReplica,
    async startExtra(service, options) {
      const container = await startService(service, network, options);
      extra.push(container);
      return container;
    },
    async stop() {
      // `docker rm -f` works on running, paused, stopped and disconnected containers alike.
      const ids = [gateway, hello, ...users, ...extra].map((c) => c.getId());
      await docker('rm', '-f', '-v', ...ids).catch(() => '');
      await network.stop().catch(() => {});
      await docker('volume', 'rm', '-f', volume).catch(() => '');
    },
  };
}

/** `docker inspect` of a container, through the same client testcontainers uses. */
export async function inspect(container: StartedTestContainer) {
  const client = await getContainerRuntimeClient();
  return client.container.inspect(client.container.getById(container.getId()));
}

/** Docker names a container's host after the first 12 characters of its id. */
export const dockerHostname = (container: StartedTestContainer) => container.getId().slice(0, 12);
