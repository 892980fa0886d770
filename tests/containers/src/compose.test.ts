import { composeUp } from '@lab/lab-kit/compose';
import { inspectContainer, publishedPorts } from '@lab/lab-kit/docker';
import { fileFixture } from '@lab/lab-kit/fixture';
import { postUser } from '@lab/lab-kit/users-api';
import { describe, expect, it } from 'vitest';

const stack = fileFixture(() => composeUp('mslab-compose', { upArgs: ['--build'], readyPath: '/api/hello' }));

describe('docker-compose.yml, as a user runs it', () => {
  it('serves /api/hello through localhost', async () => {
    const res = await fetch(`${stack.gatewayUrl}/api/hello`);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/^Hello World \(TypeScript\)! \(up \d+:[0-5]\d:[0-5]\d\)\n$/);
  });

  it('serves /api/users as JSON, and keeps what was created', async () => {
    const created = await postUser(stack.gatewayUrl, { name: 'Compose Cleo', email: 'cleo@example.org' });
    expect(created.status).toBe(201);
    const list = await fetch(`${stack.gatewayUrl}/api/users`);
    expect(list.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await list.json()) as { items: { email: string }[] };
    expect(body.items.map((u) => u.email)).toContain('cleo@example.org');
  });

  it('reports every upstream ready from the gateway', async () => {
    const res = await fetch(`${stack.gatewayUrl}/health/ready`);
    expect(await res.json()).toMatchObject({ status: 'ready', checks: { hello: { ok: true }, users: { ok: true } } });
  });

  it('publishes a host port for the gateway only', async () => {
    const published: Record<string, number> = {};
    for (const id of await stack.ids()) {
      const info = await inspectContainer(id);
      published[info.Config.Labels['com.docker.compose.service'] ?? ''] = publishedPorts(info);
    }
    expect(Object.keys(published).sort()).toEqual(['gateway', 'hello', 'users']);
    expect(published.hello).toBe(0);
    expect(published.users).toBe(0);
    expect(published.gateway).toBeGreaterThan(0);
  });
});
