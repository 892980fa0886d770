import { getContainerRuntimeClient } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dockerHostname, inspect, type Stack, startStack } from './stack.ts';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack();
});

afterAll(async () => {
  await stack?.stop();
});

describe('the system in containers, through the gateway', () => {
  it('answers /api/hello in the Flask format with a running uptime', async () => {
    const res = await fetch(`${stack.gatewayUrl}/api/hello`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await res.text()).toMatch(/^Hello World \(TypeScript\)! \(up \d+:[0-5]\d:[0-5]\d\)\n$/);
    expect(res.headers.get('x-served-by')).toBe(dockerHostname(stack.hello));
  });

  it('creates a user and reads it back, served by the users container', async () => {
    const created = await fetch(`${stack.gatewayUrl}/api/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Container Carla', email: 'carla@example.org' }),
    });
    expect(created.status).toBe(201);
    const user = (await created.json()) as { id: string };
    const read = await fetch(`${stack.gatewayUrl}/api/users/${user.id}`);
    expect(read.status).toBe(200);
    expect(await read.json()).toEqual(user);
    expect(read.headers.get('x-served-by')).toBe(dockerHostname(stack.users[0] as Stack['hello']));
  });

  it('keeps the caller request id end to end', async () => {
    const res = await fetch(`${stack.gatewayUrl}/api/hello/uptime`, {
      headers: { 'x-request-id': 'container-test-1' },
    });
    expect(res.headers.get('x-request-id')).toBe('container-test-1');
    expect(await res.json()).toMatchObject({ service: 'hello', instance: dockerHostname(stack.hello) });
  });

  it('answers unknown routes with 404 problem+json', async () => {
    const res = await fetch(`${stack.gatewayUrl}/api/orders`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('publishes a host port for the gateway only', async () => {
    const published = async (container: Stack['hello']) => {
      const info = await inspect(container);
      return Object.values(info.NetworkSettings.Ports ?? {}).flatMap((bindings) => bindings ?? []).length;
    };
    expect(await published(stack.hello)).toBe(0);
    expect(await published(stack.users[0] as Stack['hello'])).toBe(0);
    expect(await published(stack.gateway)).toBeGreaterThan(0);
  });

  it('runs every service hardened: read-only root filesystem, no capabilities, memory and pids limits', async () => {
    for (const container of [stack.hello, ...stack.users, stack.gateway]) {
      const { HostConfig } = await inspect(container);
      expect(HostConfig.ReadonlyRootfs).toBe(true);
      expect(HostConfig.CapDrop).toEqual(['ALL']);
      expect(HostConfig.SecurityOpt).toContain('no-new-privileges:true');
      expect(HostConfig.PidsLimit).toBe(64);
      expect(HostConfig.Memory).toBeGreaterThan(0);
      const write = await container.exec(['sh', '-c', 'touch /app/probe']);
      expect(write.exitCode).not.toBe(0);
      expect(write.output).toMatch(/Read-only file system/);
    }
  });

  it('runs every service as the non-root node user', async () => {
    for (const container of [stack.hello, ...stack.users, stack.gateway]) {
      const { output, exitCode } = await container.exec(['id', '-u']);
      expect(exitCode).toBe(0);
      expect(output.trim()).toBe('1000');
    }
  });

  it('stops hello gracefully on SIGTERM: exit 0 well inside Docker’s 10 s, while users keeps serving', async () => {
    const client = await getContainerRuntimeClient();
    const hello = client.container.getById(stack.hello.getId());
    const startedAt = Date.now();
    await hello.stop({ t: 10 });
    const stopMs = Date.now() - startedAt;
    const info = await hello.inspect();
    expect(info.State.ExitCode).toBe(0);
    expect(stopMs).toBeLessThan(5_000);
    expect((await fetch(`${stack.gatewayUrl}/api/users`)).status).toBe(200);
    const helloDown = await fetch(`${stack.gatewayUrl}/api/hello`);
    expect(helloDown.status).toBeGreaterThanOrEqual(502);
    expect(helloDown.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
});
