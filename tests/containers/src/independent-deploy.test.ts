import { GenericContainer } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageFor, REPO_ROOT, resolveNodeImage } from './images.ts';
import { report, sleep, startLoad, summarize } from './load.ts';
import { expectSteadyLoad } from './load-assertions.ts';
import { docker, FAST_FAILOVER, inspect, type Stack, startStack } from './stack.ts';

const NEW_VERSION = '2.0.0';
let stack: Stack;

beforeAll(async () => {
  // "A new release": the same Dockerfile built with another version baked in, under a new tag.
  const nodeImage = resolveNodeImage();
  await GenericContainer.fromDockerfile(REPO_ROOT, 'services/hello/Dockerfile')
    .withBuildArgs({ ...(nodeImage ? { NODE_IMAGE: nodeImage } : {}), SERVICE_VERSION: NEW_VERSION })
    .withCache(true)
    .build(imageFor('hello', NEW_VERSION), { deleteOnExit: false });
  stack = await startStack({ usersReplicas: 2, gatewayEnv: FAST_FAILOVER });
});

afterAll(async () => {
  await stack?.stop();
});

describe('independent deploy', () => {
  it('replaces hello with a new version while users serves on, untouched', async () => {
    const usersBefore = await Promise.all(stack.users.map((c) => inspect(c)));
    const versionBefore = (await (await fetch(`${stack.gatewayUrl}/api/hello/uptime`)).json()) as { version: string };
    const load = startLoad({
      baseUrl: stack.gatewayUrl,
      routes: [
        { name: 'users', path: '/api/users' },
        { name: 'hello', path: '/api/hello/uptime' },
      ],
      ratePerSecond: 20,
      maxDurationMs: 40_000,
    });
    await sleep(2_000);
    // Blue-green for one service: start the new hello beside the old, then retire the old.
    const next = await stack.startExtra('hello', { tag: NEW_VERSION });
    await sleep(Number(FAST_FAILOVER.DISCOVERY_INTERVAL_MS) + 1_000);
    await docker('stop', '--time', '10', stack.hello.getId());
    await sleep(3_000);
    const outcomes = await load.stop();

    const versionAfter = (await (await fetch(`${stack.gatewayUrl}/api/hello/uptime`)).json()) as {
      version: string;
      instance: string;
    };
    const usersAfter = await Promise.all(stack.users.map((c) => inspect(c)));
    const users = summarize(outcomes, 'users');
    report('independent-deploy', {
      users,
      hello: summarize(outcomes, 'hello'),
      helloVersion: { before: versionBefore.version, after: versionAfter.version },
    });

    expect(versionBefore.version).toBe('1.0.0');
    expect(versionAfter).toMatchObject({ version: NEW_VERSION, instance: next.getId().slice(0, 12) });
    expectSteadyLoad(outcomes, 'users', 20, 0, outcomes.at(-1)?.sentAt ?? 0);
    expect(users.successRate).toBe(1);
    expect(usersAfter.map((u) => u.Id)).toEqual(usersBefore.map((u) => u.Id));
    expect(usersAfter.map((u) => u.State.StartedAt)).toEqual(usersBefore.map((u) => u.State.StartedAt));
    expect(usersAfter.every((u) => u.State.Running && u.RestartCount === 0)).toBe(true);
  });
});
