import { fileFixture } from '@lab/lab-kit/fixture';
import { CPU_QUOTA, SERVICE_PORTS } from '@lab/lab-kit/lab-env';
import { report } from '@lab/lab-kit/load';
import { type Figures, type LoadSpec, measureTogether } from '@lab/lab-kit/loadgen';
import { healthyReplicas } from '@lab/lab-kit/topology';
import { seedUsers, USERS_PAGE } from '@lab/lab-kit/users-api';
import { waitFor } from '@lab/lab-kit/wait';
import { describe, expect, it } from 'vitest';
import { startStack } from './stack.ts';

const stack = fileFixture(() => startStack({ usersReplicas: 1, cpuQuotas: true }));

/** The gateway as the load generator sees it, on the stack's network. */
const GATEWAY = `http://gateway:${SERVICE_PORTS.gateway}`;
const load = (path: string, connections: number): LoadSpec => ({
  baseUrl: GATEWAY,
  method: 'GET',
  path,
  connections,
  durationS: 0,
});
/** Users reads at saturation, with hello saturated beside them in the same windows. */
// As many connections on hello as on users: hello is held back by its own quota, not by round trips.
const SPECS = [load(USERS_PAGE, 32), load('/api/hello', 32)];
// Under a tenth of a core, JIT and heap take about half a minute of load to settle (hello
// climbs from 150 to over 1,000 req/s meanwhile), and new replicas start cold: each count
// warms up that long. Then the median of 5 rounds, as a single round moves by a fifth.
const WINDOWS = { warmupS: 30, rounds: 5, roundS: 5 };

describe('independent scaling adds capacity', () => {
  // Two warm-ups of 30 s and fifteen rounds of 5 s, plus starting and stopping two replicas.
  it(`3 users replicas at ${CPU_QUOTA.users} of a core each serve at least 2x the reads of 1, and hello keeps its throughput`, {
    timeout: 300_000,
  }, async () => {
    await seedUsers(stack.gatewayUrl, 50);
    const loadgen = await stack.startLoadgen();
    const measure = async (warmupS = WINDOWS.warmupS) => {
      const [users, hello] = (await measureTogether(loadgen.getId(), SPECS, { ...WINDOWS, warmupS })) as [
        Figures,
        Figures,
      ];
      return { users, hello };
    };
    const healthy = (count: number) =>
      waitFor(async () => (await healthyReplicas(stack.gatewayUrl, 'users')) === count, 30_000, `${count} healthy`);

    const before = await measure();
    const [first] = stack.users;
    await Promise.all([stack.addUsersReplica(), stack.addUsersReplica()]);
    // Discovery runs every 2 s by default; a replica gets traffic once its first probe passes.
    await healthy(3);
    const three = await measure();
    // Back to the first replica alone, still warm: 1 replica is measured on both sides of 3,
    // so a drift of the machine over the test favours neither.
    await Promise.all(stack.users.filter((replica) => replica !== first).map((replica) => replica.stop()));
    await healthy(1);
    const after = await measure(0);
    const mean = (pick: (figures: typeof before) => Figures) => (pick(before).rps + pick(after).rps) / 2;
    const one = { users: mean((f) => f.users), hello: mean((f) => f.hello) };
    // users at 1 replica is saturated by design: under its quota a readiness probe can miss,
    // and the gateway then refuses at once (503) until it passes. Refusals are not throughput
    // (only 2xx count), so they are reported, not forbidden. hello's are: that is isolation.
    const failed = {
      users: [before, three, after].map((f) => f.users.failed),
      hello: [before, three, after].map((f) => f.hello.failed),
    };

    const usersRatio = three.users.rps / one.users;
    const helloRatio = three.hello.rps / one.hello;
    report('scale-capacity', {
      quotas: CPU_QUOTA,
      // 1 replica before, 3, 1 replica again.
      usersRps: [before, three, after].map((f) => Math.round(f.users.rps)),
      usersRatio: Number(usersRatio.toFixed(2)),
      helloRps: [before, three, after].map((f) => Math.round(f.hello.rps)),
      helloRatio: Number(helloRatio.toFixed(2)),
      usersP99Ms: [before, three, after].map((f) => Math.round(f.users.p99)),
      failed,
    });

    expect(failed.hello, 'failed hello requests: 1 replica, 3, 1 again').toEqual([0, 0, 0]);
    expect(usersRatio, 'users reads, 3 replicas / 1').toBeGreaterThanOrEqual(2);
    expect(helloRatio, 'hello, with 3 users replicas / with 1').toBeGreaterThanOrEqual(0.85);
  });
});
