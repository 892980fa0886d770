import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { uniqueProjectName } from '@lab/lab-kit/compose';
import { buildImage, docker, freeHostPort, inspectContainer } from '@lab/lab-kit/docker';
import { fileFixture } from '@lab/lab-kit/fixture';
import { imageFor, labImage, MEMORY_LIMIT_MIB } from '@lab/lab-kit/lab-env';
import { report, startLoad, summarize } from '@lab/lab-kit/load';
import { deployStack, enterSwarm, removeStack, SWARM_DEV_SECRETS_DIR, stackConverged } from '@lab/lab-kit/swarm';
import { healthyReplicas } from '@lab/lab-kit/topology';
import { postUser } from '@lab/lab-kit/users-api';
import { sleep, waitFor, waitForOk } from '@lab/lab-kit/wait';
import { describe, expect, it } from 'vitest';

/**
 * infra/swarm/stack.yml on a swarm of one node: the engine's own when it is a manager
 * already, else one made for this file and left again afterwards. Users on PostgreSQL,
 * scaled out, then given an image that never gets ready, which swarm must roll back
 * by itself while the gateway answers every request.
 */
const STACK = uniqueProjectName('mslab-swarm');
const USERS = `${STACK}_users`;
const DEV_IMAGE = imageFor('users');
const BROKEN_IMAGE = labImage('users', 'broken-health');

async function startSwarmStack() {
  const swarm = await enterSwarm();
  // In this order: the stack's services and tasks, its overlays and volume, then the swarm.
  const dispose = async () => {
    try {
      await removeStack(STACK);
    } finally {
      await docker('rmi', BROKEN_IMAGE).catch(() => '');
      await swarm[Symbol.asyncDispose]();
    }
  };
  try {
    const port = await freeHostPort();
    const startedAt = performance.now();
    await deployStack(STACK, { GATEWAY_PORT: String(port), USERS_REPLICAS: '1' });
    await waitFor(() => stackConverged(STACK), 150_000, `every service of stack ${STACK} running`, 1_000);
    const gatewayUrl = `http://127.0.0.1:${port}`;
    await waitForOk(`${gatewayUrl}/health/ready`, 60_000);
    return {
      gatewayUrl,
      wasSwarm: swarm.wasActive,
      deployMs: Math.round(performance.now() - startedAt),
      [Symbol.asyncDispose]: dispose,
    };
  } catch (error) {
    await dispose();
    throw error;
  }
}

const stack = fileFixture(startSwarmStack);

/**
 * Reads `path` through the gateway until `replicas` distinct users replicas answered it
 * (x-served-by) or `maxRequests` went out; what each answered, by replica.
 */
async function answersByReplica(path: string, replicas: number, maxRequests = 90) {
  const answers = new Map<string, { status: number; body: string }[]>();
  for (let i = 0; i < maxRequests && answers.size < replicas; i++) {
    const res = await fetch(`${stack.gatewayUrl}${path}`);
    const replica = res.headers.get('x-served-by') ?? 'none';
    answers.set(replica, [...(answers.get(replica) ?? []), { status: res.status, body: await res.text() }]);
  }
  return answers;
}

const threeReplicasSeen = () =>
  waitFor(
    async () => (await healthyReplicas(stack.gatewayUrl, 'users')) === 3,
    60_000,
    'the gateway seeing 3 ready users replicas',
    500,
  );

const updateState = (service: string) =>
  docker('service', 'inspect', '--format', '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}', service);

/** The images of the service's tasks that swarm wants running, one line each. */
const runningTaskImages = async (service: string) =>
  (await docker('service', 'ps', '--filter', 'desired-state=running', '--format', '{{.Image}}', service))
    .split('\n')
    .filter(Boolean);

let userId = '';
let userBody = '';

describe('infra/swarm/stack.yml on a single-node swarm', () => {
  it('serves the public API through the gateway, users on PostgreSQL', async () => {
    const email = `swarm-${Date.now()}@example.org`;
    const created = await postUser(stack.gatewayUrl, { name: 'Swarm Sam', email });
    userBody = await created.text();
    userId = (JSON.parse(userBody) as { id: string }).id;
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe(`/api/users/${userId}`);

    const read = await fetch(`${stack.gatewayUrl}/api/users/${userId}`);
    expect(read.status).toBe(200);
    expect(await read.text()).toBe(userBody);

    const duplicate = await postUser(stack.gatewayUrl, { name: 'Swarm Sam Again', email: email.toUpperCase() });
    expect(duplicate.status).toBe(409);

    const once = { name: 'Swarm Idem', email: `idem-${email}` };
    const withKey = { headers: { 'content-type': 'application/json', 'idempotency-key': `${STACK}-once` } };
    const first = await postUser(stack.gatewayUrl, once, withKey);
    const replay = await postUser(stack.gatewayUrl, once, withKey);
    expect([first.status, replay.status]).toEqual([201, 201]);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(((await replay.json()) as { id: string }).id).toBe(((await first.json()) as { id: string }).id);

    const page = (await (await fetch(`${stack.gatewayUrl}/api/users?limit=1`)).json()) as {
      items: { id: string }[];
      nextCursor: string | null;
    };
    expect(page.items).toHaveLength(1);
    expect(page.nextCursor).toEqual(expect.any(String));
    const next = await fetch(`${stack.gatewayUrl}/api/users?limit=1&cursor=${page.nextCursor}`);
    expect(next.status).toBe(200);
    const nextPage = (await next.json()) as { items: { id: string }[] };
    expect(nextPage.items.map((u) => u.id)).not.toContain(page.items[0]?.id);

    expect((await fetch(`${stack.gatewayUrl}/api/hello`)).status).toBe(200);
  });

  it('#21 finding 18: keeps the database passwords in docker secrets, out of every service spec and container', async () => {
    const secrets = readdirSync(SWARM_DEV_SECRETS_DIR).map((name) => ({
      name,
      value: readFileSync(join(SWARM_DEV_SECRETS_DIR, name), 'utf8').trim(),
    }));
    expect(secrets.map((secret) => secret.name).sort()).toEqual([
      'postgres-password',
      'users-database-url',
      'users-db-password',
    ]);
    const services = (await docker('stack', 'services', STACK, '--format', '{{.Name}}')).split('\n').filter(Boolean);
    const containers = (await docker('ps', '--quiet', '--filter', `label=com.docker.stack.namespace=${STACK}`))
      .split('\n')
      .filter(Boolean);
    expect(services).toHaveLength(4);
    expect(containers).toHaveLength(4);
    for (const [what, inspected] of [
      ...(await Promise.all(services.map(async (name) => [name, await docker('service', 'inspect', name)]))),
      ...(await Promise.all(containers.map(async (id) => [id, await docker('inspect', id)]))),
    ]) {
      for (const { name, value } of secrets) expect(inspected, `${name} in ${what}`).not.toContain(value);
    }

    const env = JSON.parse(
      await docker('service', 'inspect', '--format', '{{json .Spec.TaskTemplate.ContainerSpec.Env}}', USERS),
    ) as string[];
    expect(env).toContain('DATABASE_URL_FILE=/run/secrets/users-database-url');
    expect(env.filter((variable) => variable.startsWith('DATABASE_URL='))).toEqual([]);
    // users took its URL from the file: it is ready on PostgreSQL (a SQLite fallback would show here).
    const [task] = (await docker('ps', '--quiet', '--filter', `label=com.docker.swarm.service.name=${USERS}`)).split(
      '\n',
    );
    const readiness = await docker(
      'exec',
      task ?? '',
      'node',
      '-e',
      "fetch('http://127.0.0.1:'+process.env.PORT+'/health/ready').then(r => r.text()).then(console.log)",
    );
    expect(JSON.parse(readiness)).toMatchObject({ checks: { database: { ok: true, system: 'postgresql' } } });
  });

  it('runs each task as hardened as swarm allows: read-only, no capabilities, pids and memory limits', async () => {
    const ids = (await docker('ps', '--quiet', '--filter', `label=com.docker.stack.namespace=${STACK}`))
      .split('\n')
      .filter(Boolean);
    expect(ids).toHaveLength(4);
    for (const id of ids) {
      const info = await inspectContainer(id);
      expect(info.HostConfig, info.Config.Labels['com.docker.swarm.service.name']).toMatchObject({
        ReadonlyRootfs: true,
        CapDrop: ['ALL'],
      });
      expect(info.HostConfig.PidsLimit).toBeGreaterThan(0);
      expect(info.HostConfig.Memory).toBeGreaterThan(0);
      expect(info.Config.User).not.toMatch(/^(|root|0)$/);
    }
    const limits = await docker(
      'service',
      'inspect',
      '--format',
      '{{.Spec.TaskTemplate.Resources.Limits.MemoryBytes}}',
      USERS,
    );
    expect(Number(limits)).toBe(MEMORY_LIMIT_MIB.users * 2 ** 20);
  });

  it('scales users from 1 to 3 replicas, each serving the same database', async () => {
    const startedAt = performance.now();
    await docker('service', 'scale', '--detach', `${USERS}=3`);
    await waitFor(() => stackConverged(STACK), 90_000, `${USERS} running 3 replicas`, 1_000);
    await threeReplicasSeen();
    const scaleMs = Math.round(performance.now() - startedAt);

    // A user written through the one replica before the scale-out, read back through each.
    const answers = await answersByReplica(`/api/users/${userId}`, 3);
    report('swarm-scale', {
      scaleMs,
      requestsByReplica: Object.fromEntries([...answers].map(([r, a]) => [r, a.length])),
    });
    expect(answers.size).toBe(3);
    for (const [replica, replies] of answers)
      expect(replies, replica).toEqual(replies.map(() => ({ status: 200, body: userBody })));
  }, 180_000);

  it('rolls back an image that never gets ready by itself, with no failed request through the gateway', async () => {
    // The stack's healthcheck replaces the image's HEALTHCHECK, so a broken HEALTHCHECK line
    // would change nothing. This release really never gets ready: it listens on PORT + 1,
    // where neither swarm's probe nor the gateway looks.
    const context = mkdtempSync(join(tmpdir(), 'mslab-broken-health-'));
    try {
      writeFileSync(
        join(context, 'Dockerfile'),
        `FROM ${DEV_IMAGE}\nCMD ["node", "--import", "data:text/javascript,process.env.PORT=String(Number(process.env.PORT)+1)", "main.js"]\n`,
      );
      await buildImage(BROKEN_IMAGE, join(context, 'Dockerfile'), context);
    } finally {
      rmSync(context, { recursive: true, force: true });
    }

    const create = { name: 'Rollout Rae', email: `rollout-${Date.now()}@example.org` };
    const load = startLoad({
      baseUrl: stack.gatewayUrl,
      routes: [
        { name: 'read', path: `/api/users/${userId}` },
        { name: 'list', path: '/api/users?limit=5' },
        {
          name: 'create',
          path: '/api/users',
          method: 'POST',
          body: create,
          headers: { 'idempotency-key': `${STACK}-rollout` },
        },
      ],
      ratePerSecond: 10,
      maxDurationMs: 180_000,
    });
    await sleep(2_000);
    const updateStartedAt = performance.now();
    const since = () => Math.round(performance.now() - updateStartedAt);
    let rollbackStartedMs: number | undefined;
    await docker('service', 'update', '--detach', '--no-resolve-image', '--image', BROKEN_IMAGE, USERS);
    await waitFor(
      async () => {
        const state = await updateState(USERS);
        if (state.startsWith('rollback_')) rollbackStartedMs ??= since();
        return state === 'rollback_completed';
      },
      150_000,
      `${USERS} rolled back (UpdateStatus.State rollback_completed)`,
      500,
    );
    const rollbackMs = since();
    await threeReplicasSeen();
    await sleep(2_000);
    const outcomes = await load.stop();

    const image = await docker('service', 'inspect', '--format', '{{.Spec.TaskTemplate.ContainerSpec.Image}}', USERS);
    const running = await runningTaskImages(USERS);
    const triedBroken = (await docker('service', 'ps', '--format', '{{.Image}}', USERS))
      .split('\n')
      .filter((line) => line === BROKEN_IMAGE).length;
    const serving = await answersByReplica(`/api/users/${userId}`, 3);
    const failed = outcomes.filter((o) => o.status < 200 || o.status >= 300);
    report('swarm-rollback', {
      wasSwarm: stack.wasSwarm,
      deployMs: stack.deployMs,
      rollbackStartedMs,
      rollbackMs,
      brokenTasksTried: triedBroken,
      requests: outcomes.length,
      failed: failed.length,
      read: summarize(outcomes, 'read'),
      list: summarize(outcomes, 'list'),
      create: summarize(outcomes, 'create'),
    });

    expect(triedBroken).toBeGreaterThan(0);
    expect(image).toBe(DEV_IMAGE);
    expect(running).toEqual([DEV_IMAGE, DEV_IMAGE, DEV_IMAGE]);
    expect(serving.size).toBe(3);
    expect(outcomes.length).toBeGreaterThan(0);
    expect(failed).toEqual([]);
  }, 240_000);
});
