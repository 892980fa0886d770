import {
  GenericContainer,
  getContainerRuntimeClient,
  Network,
  type StartedNetwork,
  type StartedTestContainer,
  Wait,
} from 'testcontainers';
import { imageFor, SERVICE_PORTS, type ServiceName } from './images.ts';

/** One started service container, reachable on the test network by its service name. */
export async function startService(
  service: ServiceName,
  network: StartedNetwork,
  { env = {}, publish = false, tag = 'dev' }: { env?: Record<string, string>; publish?: boolean; tag?: string } = {},
): Promise<StartedTestContainer> {
  let container = new GenericContainer(imageFor(service, tag))
    .withNetwork(network)
    .withNetworkAliases(service)
    .withEnvironment({ LOG_LEVEL: 'warn', ...env })
    .withWaitStrategy(Wait.forHealthCheck())
    .withStartupTimeout(60_000);
  if (publish) container = container.withExposedPorts(SERVICE_PORTS[service]);
  return container.start();
}

export interface Stack {
  network: StartedNetwork;
  hello: StartedTestContainer;
  users: StartedTestContainer;
  gateway: StartedTestContainer;
  /** The gateway as the host sees it, through its mapped port. */
  gatewayUrl: string;
  stop(): Promise<void>;
}

/** hello, users and gateway on a fresh user-defined network; only the gateway publishes a port. */
export async function startStack(): Promise<Stack> {
  const network = await new Network().start();
  const [hello, users] = await Promise.all([startService('hello', network), startService('users', network)]);
  const gateway = await startService('gateway', network, { publish: true });
  const gatewayUrl = `http://${gateway.getHost()}:${gateway.getMappedPort(SERVICE_PORTS.gateway)}`;
  return {
    network,
    hello,
    users,
    gateway,
    gatewayUrl,
    async stop() {
      await Promise.allSettled([gateway, hello, users].map((c) => c.stop({ timeout: 10_000 })));
      await network.stop();
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
