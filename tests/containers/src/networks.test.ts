import { randomBytes } from 'node:crypto';
import { composeUp } from '@lab/lab-kit/compose';
import { docker, inspectContainer, publishedPorts, removeLabelled } from '@lab/lab-kit/docker';
import { fileFixture } from '@lab/lab-kit/fixture';
import { resolveNodeImage } from '@lab/lab-kit/lab-env';
import {
  type ExecResult,
  GenericContainer,
  getContainerRuntimeClient,
  Network,
  type StartedNetwork,
  type StartedTestContainer,
  Wait,
} from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const runId = randomBytes(3).toString('hex');
// Every probe carries it, so afterAll also finds one whose start() threw after the container was created.
const RUN_LABEL = 'lab.networks-test';
// The base the service images are built from.
const PROBE_IMAGE = resolveNodeImage();
const PONG_PORT = 8000;
const PONG_SERVER = `require('http').createServer((q,s)=>s.end('pong')).listen(${PONG_PORT},()=>console.log('listening'))`;

/** A throwaway node container; GenericContainer has no `--dns`, which the callers below need. */
class Probe extends GenericContainer {
  constructor(name: string) {
    super(PROBE_IMAGE);
    this.withName(`mslab-${name}-${runId}`).withLabels({ [RUN_LABEL]: runId });
  }

  withDns(...servers: string[]): this {
    this.hostConfig.Dns = servers;
    return this;
  }
}

const pongServer = (name: string) =>
  new Probe(name).withCommand(['node', '-e', PONG_SERVER]).withWaitStrategy(Wait.forLogMessage('listening'));

// On the default bridge a container asks the host's upstream resolver, which is off this machine, and test traffic
// stays on it. Every caller gets the same dead resolver on its own loopback instead, so what differs between the
// networks is only whether Docker's embedded DNS (127.0.0.11) answers first.
const caller = (name: string) =>
  new Probe(name)
    .withDns('127.0.0.1')
    .withCommand(['sleep', '300'])
    .withWaitStrategy(Wait.forSuccessfulCommand('true'));

/** Anything we can run a command in: a testcontainers container, or a compose one through the runtime client. */
interface Shell {
  exec(command: string[]): Promise<ExecResult>;
}

/** Runs a node script inside a container: what it prints is the answer, exit code 0 means it worked. */
async function nodeIn(shell: Shell, script: string) {
  const { exitCode, stdout } = await shell.exec(['node', '-e', script]);
  return { ok: exitCode === 0, out: stdout.trim() };
}

// process.exit, not exitCode: a connect the abort gave up on still holds the event loop for undici's 10 s.
const failWith = (what: string) => `e=>{console.log(${what});process.exit(1)}`;

const lookup = (shell: Shell, name: string) =>
  nodeIn(
    shell,
    `require('dns').promises.lookup(${JSON.stringify(name)}).then(a=>console.log(a.address),${failWith('e.code')})`,
  );

const fetchText = (shell: Shell, url: string) =>
  nodeIn(
    shell,
    `fetch(${JSON.stringify(url)},{signal:AbortSignal.timeout(2000)}).then(r=>r.text())` +
      `.then(t=>console.log(t),${failWith('e.cause?.code??e.name')})`,
  );

const networkNames = async (container: StartedTestContainer) =>
  Object.keys((await inspectContainer(container.getId())).NetworkSettings.Networks ?? {});

/** /proc/net/route writes IPv4 addresses as little-endian hex: 010011AC is 172.17.0.1. */
const hexToIp = (hex: string) =>
  (hex.match(/../g) ?? [])
    .reverse()
    .map((byte) => Number.parseInt(byte, 16))
    .join('.');

/** The kernel's IPv4 routing table; the default route is the one to destination 0.0.0.0. */
async function routes(shell: Shell) {
  const { stdout } = await shell.exec(['cat', '/proc/net/route']);
  return stdout
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => {
      const [, destination = '', gateway = ''] = line.trim().split(/\s+/);
      return { destination: hexToIp(destination), gateway: hexToIp(gateway) };
    });
}

describe('networks between containers', () => {
  let network: StartedNetwork | undefined;
  let bridgePong: StartedTestContainer;
  let bridgeCaller: StartedTestContainer;
  let userPong: StartedTestContainer;
  let userCaller: StartedTestContainer;
  let isolated: StartedTestContainer;

  beforeAll(async () => {
    network = await new Network().start();
    const userNetwork = network;
    [bridgePong, bridgeCaller, userPong, userCaller, isolated] = await Promise.all([
      pongServer('bridge-pong').start(),
      caller('bridge-caller').start(),
      pongServer('user-pong').withNetwork(userNetwork).withNetworkAliases('pong').start(),
      caller('user-caller').withNetwork(userNetwork).withNetworkAliases('caller').start(),
      caller('isolated').withNetworkMode('none').start(),
    ]);
  });

  afterAll(async () => {
    await removeLabelled(`${RUN_LABEL}=${runId}`);
    await network?.stop();
  });

  describe("Docker's default bridge", () => {
    it('is where testcontainers puts a container that names no network', async () => {
      expect(await networkNames(bridgePong)).toEqual(['bridge']);
      expect(await networkNames(bridgeCaller)).toEqual(['bridge']);
    });

    it('gives no name resolution: the caller cannot look up the server by its container name', async () => {
      const resolvConf = (await bridgeCaller.exec(['cat', '/etc/resolv.conf'])).stdout;
      expect(resolvConf).not.toContain('127.0.0.11');
      const result = await lookup(bridgeCaller, `mslab-bridge-pong-${runId}`);
      expect(result.ok).toBe(false);
      expect(result.out).toMatch(/^(ENOTFOUND|EAI_AGAIN)$/);
    });

    it("still connects: the caller gets 'pong' from the server's IP", async () => {
      const result = await fetchText(bridgeCaller, `http://${bridgePong.getIpAddress('bridge')}:${PONG_PORT}`);
      expect(result).toMatchObject({ ok: true, out: 'pong' });
    });
  });

  describe('a user-defined bridge', () => {
    it("answers names from Docker's embedded DNS, in both directions", async () => {
      const name = network?.getName() ?? '';
      expect((await userCaller.exec(['cat', '/etc/resolv.conf'])).stdout).toMatch(/^nameserver 127\.0\.0\.11$/m);
      expect(await lookup(userCaller, 'pong')).toMatchObject({ ok: true, out: userPong.getIpAddress(name) });
      expect(await lookup(userCaller, `mslab-user-pong-${runId}`)).toMatchObject({
        ok: true,
        out: userPong.getIpAddress(name),
      });
      expect(await lookup(userPong, 'caller')).toMatchObject({ ok: true, out: userCaller.getIpAddress(name) });
    });

    it("lets the caller fetch 'pong' by name", async () => {
      expect(await fetchText(userCaller, `http://pong:${PONG_PORT}`)).toMatchObject({ ok: true, out: 'pong' });
    });
  });

  describe('--network none', () => {
    it('leaves only the loopback interface and no route at all', async () => {
      expect(await networkNames(isolated)).toEqual(['none']);
      expect((await isolated.exec(['ls', '/sys/class/net'])).stdout.trim().split(/\s+/)).toEqual(['lo']);
      expect(await routes(isolated)).toEqual([]);
    });

    it('reaches nothing, not even a server on the default bridge', async () => {
      const result = await fetchText(isolated, `http://${bridgePong.getIpAddress('bridge')}:${PONG_PORT}`);
      expect(result.ok).toBe(false);
      expect(result.out).toBe('ENETUNREACH');
    });
  });
});

describe('docker-compose.yml: backend is internal, only the gateway faces the host', () => {
  // Random host ports; the images exist already, so no --build.
  const stack = fileFixture(() => composeUp('mslab-networks'));
  interface ComposeContainer extends Shell {
    /** Network (without the project prefix) -> this container's address on it. */
    addresses: Record<string, string>;
    publishedPorts: number;
  }
  const services: Record<string, ComposeContainer> = {};
  const service = (name: string) => {
    const found = services[name];
    if (!found) throw new Error(`compose started no ${name} container`);
    return found;
  };
  const networkField = (network: string, template: string) =>
    docker('network', 'inspect', '--format', template, `${stack.project}_${network}`);

  beforeAll(async () => {
    const client = await getContainerRuntimeClient();
    for (const id of await stack.ids()) {
      const info = await inspectContainer(id);
      services[info.Config.Labels['com.docker.compose.service'] ?? id] = {
        exec: (command) => client.container.exec(client.container.getById(id), command),
        addresses: Object.fromEntries(
          Object.entries(info.NetworkSettings.Networks ?? {}).map(([name, { IPAddress }]) => [
            name.replace(`${stack.project}_`, ''),
            IPAddress,
          ]),
        ),
        publishedPorts: publishedPorts(info),
      };
    }
  });

  it('declares backend internal and edge not', async () => {
    expect(await networkField('backend', '{{.Internal}}')).toBe('true');
    expect(await networkField('edge', '{{.Internal}}')).toBe('false');
  });

  it('attaches hello and users to backend only, the gateway to both', () => {
    expect(Object.keys(service('hello').addresses)).toEqual(['backend']);
    expect(Object.keys(service('users').addresses)).toEqual(['backend']);
    expect(Object.keys(service('gateway').addresses).sort()).toEqual(['backend', 'edge']);
  });

  it('routes the gateway out through edge', async () => {
    const defaultRoute = (await routes(service('gateway'))).find((route) => route.destination === '0.0.0.0');
    expect(defaultRoute?.gateway).toBe(await networkField('edge', '{{range .IPAM.Config}}{{.Gateway}}{{end}}'));
  });

  // Engines before 25 still give a container on an internal network a default route to its bridge and drop what
  // leaves the subnet in iptables (moby/moby#46603 removed the route), so the proof is what gets through.
  it('keeps hello inside backend: it reaches the gateway on backend, not on edge', async () => {
    const gateway = service('gateway');
    const inside = await fetchText(service('hello'), `http://${gateway.addresses.backend}:8080/health/live`);
    expect(inside.ok).toBe(true);
    const outside = await fetchText(service('hello'), `http://${gateway.addresses.edge}:8080/health/live`);
    expect(outside).toMatchObject({ ok: false, out: expect.stringMatching(/^(TimeoutError|ENETUNREACH)$/) });
  });

  it('publishes a host port for the gateway only', () => {
    expect(service('hello').publishedPorts).toBe(0);
    expect(service('users').publishedPorts).toBe(0);
    expect(service('gateway').publishedPorts).toBeGreaterThan(0);
  });

  it('lets the host reach hello through the gateway', async () => {
    const res = await fetch(`${stack.gatewayUrl}/api/hello`);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/^Hello World \(TypeScript\)!/);
  });
});
