import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { composeUp } from '@lab/lab-kit/compose';
import { inspectContainer as inspect } from '@lab/lab-kit/docker';
import { fileFixture } from '@lab/lab-kit/fixture';
import { resolveNodeImage, SERVICE_PORTS } from '@lab/lab-kit/lab-env';
import { GenericContainer, type StartedTestContainer } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const stack = fileFixture(() => composeUp('mslab-hard', { readyPath: '/api/users' }));
let containers: Record<'hello' | 'users' | 'gateway', string>;
let outsider: StartedTestContainer | undefined;

/** A node script's output inside a container, and its exit code: the tests read both stdout and stderr. */
const execIn = async (id: string, script: string) => {
  try {
    return {
      code: 0,
      out: (await run('docker', ['exec', id, 'node', '-e', script], { timeout: 15_000 })).stdout.trim(),
    };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    return { code: failed.code ?? 1, out: `${failed.stdout ?? ''}${failed.stderr ?? ''}`.trim() };
  }
};
/** A TCP connect attempt from inside a container; prints `connected` or the error code. */
const connectScript = (host: string, port: number) =>
  `const s=require('net').connect({host:${JSON.stringify(host)},port:${port},timeout:2000});` +
  "s.on('connect',()=>{console.log('connected');s.destroy()});s.on('timeout',()=>{console.log('TIMEOUT');s.destroy()});s.on('error',e=>console.log(e.code))";

beforeAll(async () => {
  const id = async (service: string) => (await stack.ids(service))[0] ?? '';
  containers = { hello: await id('hello'), users: await id('users'), gateway: await id('gateway') };
});

// Registered after the fixture, so it runs first: the outsider sits on the project's edge network.
afterAll(async () => {
  await outsider?.stop();
});

describe('hardened containers in the real compose file', () => {
  it('runs nothing as root, on a read-only root filesystem, with no capabilities and with limits', async () => {
    for (const [service, id] of Object.entries(containers)) {
      const info = await inspect(id);
      expect(info.HostConfig.ReadonlyRootfs, service).toBe(true);
      expect(info.HostConfig.CapDrop, service).toEqual(['ALL']);
      expect(info.HostConfig.SecurityOpt, service).toContain('no-new-privileges:true');
      expect(info.HostConfig.PidsLimit, service).toBe(64);
      expect(info.HostConfig.Memory, service).toBeGreaterThan(0);
      const uid = await execIn(id, 'console.log(process.getuid())');
      expect(uid.out, service).toBe('1000');
      const write = await execIn(id, "require('fs').writeFileSync('/app/x','y')");
      expect(write.code, service).not.toBe(0);
      expect(write.out, service).toMatch(/EROFS/);
    }
  });

  it('lets users write only its data volume and /tmp', async () => {
    const ok = await execIn(containers.users, "require('fs').writeFileSync('/tmp/x','y');console.log('tmp ok')");
    expect(ok.out).toBe('tmp ok');
  });

  it('publishes no host port for hello and users', async () => {
    for (const service of ['hello', 'users'] as const) {
      const ports = (await inspect(containers[service])).NetworkSettings.Ports ?? {};
      expect(
        Object.values(ports).flatMap((b) => b ?? []),
        service,
      ).toEqual([]);
    }
  });

  it('keeps hello and users inside backend: no route to the edge network', async () => {
    const gatewayEdgeIp = (await inspect(containers.gateway)).NetworkSettings.Networks?.[`${stack.project}_edge`]
      ?.IPAddress;
    expect(gatewayEdgeIp).toBeTruthy();
    for (const service of ['hello', 'users'] as const) {
      const attempt = await execIn(containers[service], connectScript(gatewayEdgeIp as string, SERVICE_PORTS.gateway));
      expect(['ENETUNREACH', 'EHOSTUNREACH', 'TIMEOUT'], service).toContain(attempt.out);
    }
  });

  it('makes users unreachable except through the gateway', async () => {
    // A client on the edge network, where the outside world meets the gateway.
    outsider = await new GenericContainer(resolveNodeImage())
      .withNetworkMode(`${stack.project}_edge`)
      .withCommand(['sleep', '300'])
      .withEntrypoint([])
      .start();
    const usersBackendIp = (await inspect(containers.users)).NetworkSettings.Networks?.[`${stack.project}_backend`]
      ?.IPAddress;
    const byName = await outsider.exec([
      'node',
      '-e',
      "require('dns').lookup('users',e=>console.log(e?e.code:'resolved'))",
    ]);
    expect(byName.output.trim()).toMatch(/ENOTFOUND|EAI_AGAIN/);
    const byIp = await outsider.exec(['node', '-e', connectScript(usersBackendIp as string, SERVICE_PORTS.users)]);
    expect(['ENETUNREACH', 'EHOSTUNREACH', 'TIMEOUT', 'ECONNREFUSED']).toContain(byIp.output.trim());
    const viaGateway = await outsider.exec([
      'node',
      '-e',
      "fetch('http://gateway:8080/api/users').then(r=>console.log(r.status))",
    ]);
    expect(viaGateway.output.trim()).toBe('200');
  });
});
