import { docker } from '@lab/lab-kit/docker';
import { fileFixture } from '@lab/lab-kit/fixture';
import { report, startLoad, summarize } from '@lab/lab-kit/load';
import { expectSteadyLoad } from '@lab/lab-kit/load-assertions';
import { healthyReplicas } from '@lab/lab-kit/topology';
import { createUser } from '@lab/lab-kit/users-api';
import { sleep, waitFor } from '@lab/lab-kit/wait';
import { describe, expect, it } from 'vitest';
import { FAST_FAILOVER, startStack } from './stack.ts';

const stack = fileFixture(() => startStack({ usersReplicas: 3, gatewayEnv: FAST_FAILOVER }));

describe('rolling restart of users under load', () => {
  it('replaces 3 replicas one at a time with zero failed requests', async () => {
    const id = await createUser(stack.gatewayUrl, { name: 'Rolling Rosa', email: 'rosa@example.org' });
    const load = startLoad({
      baseUrl: stack.gatewayUrl,
      routes: { list: '/api/users', read: `/api/users/${id}` },
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
        async () => (await healthyReplicas(stack.gatewayUrl, 'users')) === 3,
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
