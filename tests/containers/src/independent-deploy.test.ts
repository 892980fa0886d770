import { buildServiceImage, docker, dockerHostname, inspectContainer } from '@lab/lab-kit/docker';
import { fileFixture } from '@lab/lab-kit/fixture';
import { report, startLoad, summarize } from '@lab/lab-kit/load';
import { expectSteadyLoad } from '@lab/lab-kit/load-assertions';
import { sleep } from '@lab/lab-kit/wait';
import { beforeAll, describe, expect, it } from 'vitest';
import { FAST_FAILOVER, startStack } from './stack.ts';

const NEW_VERSION = '2.0.0';

beforeAll(async () => {
  // "A new release": the same Dockerfile built with another version baked in, under a new tag.
  await buildServiceImage('hello', { tag: NEW_VERSION, buildArgs: { SERVICE_VERSION: NEW_VERSION } });
});

const stack = fileFixture(() => startStack({ usersReplicas: 2, gatewayEnv: FAST_FAILOVER }));

describe('independent deploy', () => {
  it('replaces hello with a new version while users serves on, untouched', async () => {
    const usersBefore = await Promise.all(stack.users.map((c) => inspectContainer(c.getId())));
    const versionBefore = (await (await fetch(`${stack.gatewayUrl}/api/hello/uptime`)).json()) as { version: string };
    const load = startLoad({
      baseUrl: stack.gatewayUrl,
      routes: { users: '/api/users', hello: '/api/hello/uptime' },
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
    const usersAfter = await Promise.all(stack.users.map((c) => inspectContainer(c.getId())));
    const users = summarize(outcomes, 'users');
    report('independent-deploy', {
      users,
      hello: summarize(outcomes, 'hello'),
      helloVersion: { before: versionBefore.version, after: versionAfter.version },
    });

    expect(versionBefore.version).toBe('1.0.0');
    expect(versionAfter).toMatchObject({ version: NEW_VERSION, instance: dockerHostname(next.getId()) });
    expectSteadyLoad(outcomes, 'users', 20, 0, outcomes.at(-1)?.sentAt ?? 0);
    expect(users.successRate).toBe(1);
    expect(usersAfter.map((u) => u.Id)).toEqual(usersBefore.map((u) => u.Id));
    expect(usersAfter.map((u) => u.State.StartedAt)).toEqual(usersBefore.map((u) => u.State.StartedAt));
    expect(usersAfter.every((u) => u.State.Running && u.RestartCount === 0)).toBe(true);
  });
});
