import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { GenericContainer, type StartedTestContainer } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeProject, waitForOk } from './compose.ts';
import { resolveNodeImage } from './images.ts';

const run = promisify(execFile);
const project = `mslab-hard-${randomBytes(3).toString('hex')}`;
let stack: Awaited<ReturnType<typeof composeProject>>;
let gatewayUrl: string;
let containers: Record<'hello' | 'users' | 'gateway', string>;
let outsider: StartedTestContainer | undefined;

interface Inspected {
  Config: { User: string };
  HostConfig: {
    ReadonlyRootfs: boolean;
    CapDrop: string[] | null;
    SecurityOpt: string[] | null;
    PidsLimit: number | null;
    Memory: number;
  };
  NetworkSettings: { Ports: Record<string, unknown[] | null>; Networks: Record<string, { IPAddress: string }> };
}

const inspect = async (id: string) => JSON.parse((await run('docker', ['inspect', id])).stdout)[0] as Inspected;
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
  stack = await composeProject(project, { GATEWAY_PORT: '0' });
  await stack.compose('up', '--detach');
  gatewayUrl = await stack.url('gateway', 8080);
  await waitForOk(`${gatewayUrl}/api/users`, 90_000);
  const id = async (service: string) => (await stack.compose('ps', '-q', service)).trim();
  containers = { hello: await id('hello'), users: await id('users'), gateway: await id('gateway') };
});

afterAll(async () => {
  await outsider?.stop();
  await stack?.down();
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
      const ports = (await inspect(containers[service])).NetworkSettings.Ports;
      expect(
        Object.values(ports).flatMap((b) => b ?? []),
        service,
      ).toEqual([]);
    }
  });

  it('keeps hello and users inside backend: no route to the edge network', async () => {
    const gatewayEdgeIp = (await inspect(containers.gateway)).NetworkSettings.Networks[`${project}_edge`]?.IPAddress;
    expect(gatewayEdgeIp).toBeTruthy();
    for (const service of ['hello', 'users'] as const) {
      const attempt = await execIn(containers[service], connectScript(gatewayEdgeIp as string, 8080));
      expect(['ENETUNREACH', 'EHOSTUNREACH', 'TIMEOUT'], service).toContain(attempt.out);
    }
  });

  it('makes users unreachable except through the gateway', async () => {
    // A client on the edge network, where the outside world meets the gateway.
    outsider = await new GenericContainer(resolveNodeImage() ?? 'node:24.21-alpine')
      .withNetworkMode(`${project}_edge`)
      .withCommand(['sleep', '300'])
      .withEntrypoint([])
      .start();
    const usersBackendIp = (await inspect(containers.users)).NetworkSettings.Networks[`${project}_backend`]?.IPAddress;
    const byName = await outsider.exec([
      'node',
      '-e',
      "require('dns').lookup('users',e=>console.log(e?e.code:'resolved'))",
    ]);
    expect(byName.output.trim()).toMatch(/ENOTFOUND|EAI_AGAIN/);
    const byIp = await outsider.exec(['node', '-e', connectScript(usersBackendIp as string, 8090)]);
    expect(['ENETUNREACH', 'EHOSTUNREACH', 'TIMEOUT', 'ECONNREFUSED']).toContain(byIp.output.trim());
    const viaGateway = await outsider.exec([
      'node',
      '-e',
      "fetch('http://gateway:8080/api/users').then(r=>console.log(r.status))",
    ]);
    expect(viaGateway.output.trim()).toBe('200');
  });
});
