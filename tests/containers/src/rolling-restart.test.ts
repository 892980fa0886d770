import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { report, sleep, startLoad, summarize } from './load.ts';
import { expectSteadyLoad } from './load-assertions.ts';
import { docker, FAST_FAILOVER, type Stack, startStack } from './stack.ts';
import { upstreamTopology, waitFor } from './topology.ts';

let stack: Stack;

beforeAll(async () => {
  stack = await startStack({ usersReplicas: 3, gatewayEnv: FAST_FAILOVER });
});

afterAll(async () => {
  await stack?.stop();
});

describe('rolling restart of users under load', () => {
  it('replaces 3 replicas one at a time with zero failed requests', async () => {
    const created = await fetch(`${stack.gatewayUrl}/api/users`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Rolling Rosa', email: 'rosa@example.org' }),
    });
    const { id } = (await created.json()) as { id: string };
    const load = startLoad({
      baseUrl: stack.gatewayUrl,
      routes: [
        { name: 'list', path: '/api/users' },
        { name: 'read', path: `/api/users/${id}` },
      ],
      ratePerSecond: 20,
      maxDurationMs: 120_000,
    });
    await sleep(2_000);
    const original = [...stack.users];
    for (const old of original) {
      // Graceful: SIGTERM, the replica reports unready, drains, closes SQLite and exits 0.
      await docker('stop', '--time', '10', old.getId());
      await stack.addUsersReplica();
      await waitFor(
        async () => (await upstreamTopology(stack.gatewayUrl, 'users')).replicas.healthy === 3,
        15_000,
        'three healthy users replicas again',
      );
    }
    await sleep(2_000);
    const outcomes = await load.stop();
    const exitCodes = await Promise.all(
      original.map((c) => docker('inspect', '--format', '{{.State.ExitCode}}', c.getId())),
    );
    report('rolling-restart', { list: summarize(outcomes, 'list'), read: summarize(outcomes, 'read'), exitCodes });

    expectSteadyLoad(outcomes, 'read', 20, 0, outcomes.at(-1)?.sentAt ?? 0);
    expect(outcomes.filter((o) => o.status !== 200)).toEqual([]);
    expect(exitCodes).toEqual(['0', '0', '0']);
  });
});
