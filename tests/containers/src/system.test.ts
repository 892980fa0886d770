import { docker, dockerHostname, inspectContainer, publishedPorts } from '@lab/lab-kit/docker';
import { fileFixture } from '@lab/lab-kit/fixture';
import { postUser } from '@lab/lab-kit/users-api';
import type { StartedTestContainer } from 'testcontainers';
import { describe, expect, it } from 'vitest';
import { startStack } from './stack.ts';

const stack = fileFixture(() => startStack());

describe('the system in containers, through the gateway', () => {
  it('answers /api/hello in the Flask format with a running uptime', async () => {
    const res = await fetch(`${stack.gatewayUrl}/api/hello`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await res.text()).toMatch(/^Hello World \(TypeScript\)! \(up \d+:[0-5]\d:[0-5]\d\)\n$/);
    expect(res.headers.get('x-served-by')).toBe(dockerHostname(stack.hello.getId()));
  });

  it('creates a user and reads it back, served by the users container', async () => {
    const created = await postUser(stack.gatewayUrl, { name: 'Container Carla', email: 'carla@example.org' });
    expect(created.status).toBe(201);
    const user = (await created.json()) as { id: string };
    const read = await fetch(`${stack.gatewayUrl}/api/users/${user.id}`);
    expect(read.status).toBe(200);
    expect(await read.json()).toEqual(user);
    expect(read.headers.get('x-served-by')).toBe(dockerHostname(stack.users[0]?.getId() ?? ''));
  });

  it('keeps the caller request id end to end', async () => {
    const res = await fetch(`${stack.gatewayUrl}/api/hello/uptime`, {
      headers: { 'x-request-id': 'container-test-1' },
    });
    expect(res.headers.get('x-request-id')).toBe('container-test-1');
    expect(await res.json()).toMatchObject({ service: 'hello', instance: dockerHostname(stack.hello.getId()) });
  });

  it('answers unknown routes with 404 problem+json', async () => {
    const res = await fetch(`${stack.gatewayUrl}/api/orders`);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });

  it('publishes a host port for the gateway only', async () => {
    const published = async (container: StartedTestContainer) =>
      publishedPorts(await inspectContainer(container.getId()));
    expect(await published(stack.hello)).toBe(0);
    expect(await published(stack.users[0] as StartedTestContainer)).toBe(0);
    expect(await published(stack.gateway)).toBeGreaterThan(0);
  });

  it('runs every service hardened: read-only root filesystem, no capabilities, memory and pids limits', async () => {
    for (const container of [stack.hello, ...stack.users, stack.gateway]) {
      const { HostConfig } = await inspectContainer(container.getId());
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
    const startedAt = Date.now();
    await docker('stop', '--time', '10', stack.hello.getId());
    const stopMs = Date.now() - startedAt;
    const info = await inspectContainer(stack.hello.getId());
    expect(info.State.ExitCode).toBe(0);
    expect(stopMs).toBeLessThan(5_000);
    expect((await fetch(`${stack.gatewayUrl}/api/users`)).status).toBe(200);
    const helloDown = await fetch(`${stack.gatewayUrl}/api/hello`);
    expect(helloDown.status).toBeGreaterThanOrEqual(502);
    expect(helloDown.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  });
});
