import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeProject, waitForOk } from './compose.ts';

const run = promisify(execFile);
const project = `mslab-compose-${randomBytes(3).toString('hex')}`;
let stack: Awaited<ReturnType<typeof composeProject>>;
let gatewayUrl: string;

beforeAll(async () => {
  // GATEWAY_PORT=0 lets Docker pick a free host port: tests never claim fixed ones.
  stack = await composeProject(project, { GATEWAY_PORT: '0' });
  await stack.compose('up', '--detach', '--build');
  gatewayUrl = await stack.url('gateway', 8080);
  await waitForOk(`${gatewayUrl}/api/hello`, 90_000);
});

afterAll(async () => {
  await stack?.down();
});

describe('docker-compose.yml, as a user runs it', () => {
  it('serves /api/hello through localhost', async () => {
    const res = await fetch(`${gatewayUrl}/api/hello`);
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/^Hello World \(TypeScript\)! \(up \d+:[0-5]\d:[0-5]\d\)\n$/);
  });

  it('serves /api/users as JSON, and keeps what was created', async () => {
    const created = await fetch(`${gatewayUrl}/api/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Compose Cleo', email: 'cleo@example.org' }),
    });
    expect(created.status).toBe(201);
    const list = await fetch(`${gatewayUrl}/api/users`);
    expect(list.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await list.json()) as { items: { email: string }[] };
    expect(body.items.map((u) => u.email)).toContain('cleo@example.org');
  });

  it('reports every upstream ready from the gateway', async () => {
    const res = await fetch(`${gatewayUrl}/health/ready`);
    expect(await res.json()).toMatchObject({ status: 'ready', checks: { hello: { ok: true }, users: { ok: true } } });
  });

  it('publishes a host port for the gateway only', async () => {
    const ids = (await stack.compose('ps', '-q')).trim().split('\n');
    const published: Record<string, number> = {};
    for (const id of ids) {
      const { stdout } = await run('docker', [
        'inspect',
        '--format',
        '{{index .Config.Labels "com.docker.compose.service"}}|{{json .NetworkSettings.Ports}}',
        id,
      ]);
      const [service = '', ports = '{}'] = stdout.trim().split('|');
      const bindings = Object.values(JSON.parse(ports) as Record<string, unknown[] | null>).flatMap((b) => b ?? []);
      published[service] = bindings.length;
    }
    expect(Object.keys(published).sort()).toEqual(['gateway', 'hello', 'users']);
    expect(published.hello).toBe(0);
    expect(published.users).toBe(0);
    expect(published.gateway).toBeGreaterThan(0);
  });
});
