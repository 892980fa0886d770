import { imageBytes, memoryMiB } from '@lab/lab-kit/docker';
import { CPU_QUOTA, imageFor, resolveNodeImage } from '@lab/lab-kit/lab-env';
import { CPU_LAYOUT, type Figures, type LoadSpec, measureTogether } from '@lab/lab-kit/loadgen';
import { USERS_PAGE } from '@lab/lab-kit/users-api';
import { sleep } from '@lab/lab-kit/wait';
import { frontMonolith, type Microservices, type Monolith } from './deployments.ts';
import type { BenchOptions } from './options.ts';
import type { Row, Table } from './report.ts';
import { type BenchSession, type Container, setCpus } from './session.ts';

const REPLICA_COUNTS = [1, 2, 3] as const;
/** Closed-loop connections: users at saturation, and hello beside it. */
const USERS_CONNECTIONS = 32;
/** As many as users: hello must be held back by its own quota, not by round trips through a busy gateway. */
const HELLO_CONNECTIONS = 32;
/** The fixed overload: this multiple of what 1 users replica delivers at saturation. */
const OVERLOAD = 1.5;
/**
 * Under a tenth of a core, JIT and heap take about half a minute of load to settle:
 * measured from a cold start, hello's throughput climbed from 150 to over 1,000 req/s
 * over 40 s. New replicas start cold, so every step warms up this long first.
 */
const QUOTA_WARMUP_S = 30;
/** hello's fixed rate beside the overload, as a share of its own 1-replica saturation figure. */
const HELLO_SHARE = 0.25;
/** Open-loop connection pools: room for the queue an overload builds. */
const PACED_CONNECTIONS = { users: 64, hello: 16 };

/** One side of the comparison, scaled replica by replica. */
interface Side {
  name: 'microservices' | 'monolith';
  /** The gateway, on the benchmark network. */
  baseUrl: string;
  containers(): Container[];
  /** The replicas of the scaled service: users, or the whole monolith. */
  replicas(): Container[];
  /** The sum of every container's CPU quota (cores). */
  cpus(): number;
  addReplica(): Promise<void>;
}

interface Pair {
  users: Figures;
  hello: Figures;
}

interface Step {
  reads: Pair;
  writes: Pair;
  paced: Pair;
  memoryMiB: number;
  /** Memory of the replicas beyond the first, sampled with `memoryMiB`: what scaling out added. */
  addedMiB: number;
  cpus: number;
  containers: number;
}

export interface Scaling {
  tables: Table[];
  /** One line for the report's setup section: the CPU layout of this part. */
  setup: string;
}

/**
 * Independent scaling, measured: every container gets the CPU quota of a small machine
 * (.env: *_CPUS), the users service goes from 1 to 3 replicas, and beside it the monolith
 * goes from 1 to 3 whole copies behind a gateway of its own. Both are loaded the same way,
 * one at a time: users reads, then writes, at saturation with hello saturated beside them,
 * then a fixed rate 1 users replica cannot sustain, with hello at a fixed rate beside it.
 */
export async function measureScaling(
  session: BenchSession,
  loadgen: Container,
  micro: Microservices,
  mono: Monolith,
  options: BenchOptions,
  log: (message: string) => void,
): Promise<Scaling> {
  await setCpus([micro.gateway], CPU_QUOTA.gateway);
  await setCpus([micro.hello], CPU_QUOTA.hello);
  await setCpus(micro.users, CPU_QUOTA.users);
  await setCpus(mono.containers, CPU_QUOTA.monolith);
  const monoReplicas = await frontMonolith(session, mono, CPU_QUOTA.gateway);
  const sides: Side[] = [
    {
      name: 'microservices',
      baseUrl: micro.baseUrl,
      containers: () => [micro.gateway, micro.hello, ...micro.users],
      replicas: () => micro.users,
      cpus: () => CPU_QUOTA.gateway + CPU_QUOTA.hello + micro.users.length * CPU_QUOTA.users,
      addReplica: () => micro.addUsersReplica(CPU_QUOTA.users).then(() => {}),
    },
    {
      name: 'monolith',
      baseUrl: monoReplicas.baseUrl,
      containers: () => [monoReplicas.gateway, ...monoReplicas.replicas],
      replicas: () => monoReplicas.replicas,
      cpus: () => CPU_QUOTA.gateway + monoReplicas.replicas.length * CPU_QUOTA.monolith,
      addReplica: () => monoReplicas.addReplica(CPU_QUOTA.monolith).then(() => {}),
    },
  ];
  const warmupS = options.quick ? 2 * options.warmupS : QUOTA_WARMUP_S;
  const windows = { warmupS: 0, rounds: options.rounds, roundS: options.roundS };
  const spec = (side: Side, path: string, connections: number, extra: Partial<LoadSpec> = {}): LoadSpec => ({
    baseUrl: side.baseUrl,
    method: 'GET',
    path,
    connections,
    durationS: 0,
    ...extra,
  });
  const pair = ([users, hello]: Figures[]): Pair => ({ users: users as Figures, hello: hello as Figures });

  const steps: Record<Side['name'], Step[]> = { microservices: [], monolith: [] };
  let rates = { users: 0, hello: 0 };
  for (const replicas of REPLICA_COUNTS) {
    if (replicas > 1) await Promise.all(sides.map((side) => side.addReplica()));
    // Alternating which side goes first, so a drift of the machine favours neither.
    for (const side of replicas % 2 === 1 ? sides : [...sides].reverse()) {
      log(`scaling: ${side.name}, ${replicas} replica(s)`);
      let memory = 0;
      let added = 0;
      const sampleMemory = async () => {
        await sleep((warmupS * 1000) / 2);
        memory = await memoryMiB(side.containers().map((c) => c.id));
        // The added replicas on their own: the gateway's heap alone moves by tens of MiB under load.
        const extra = side.replicas().slice(1);
        added = extra.length > 0 ? await memoryMiB(extra.map((c) => c.id)) : 0;
      };
      const hello = spec(side, '/api/hello', HELLO_CONNECTIONS);
      const reads = pair(
        await measureTogether(
          loadgen.id,
          [spec(side, USERS_PAGE, USERS_CONNECTIONS), hello],
          { ...windows, warmupS },
          sampleMemory,
        ),
      );
      const writes = pair(
        await measureTogether(
          loadgen.id,
          [spec(side, '/api/users', USERS_CONNECTIONS, { method: 'POST', createUsers: true }), hello],
          windows,
        ),
      );
      // The fixed rates come from the first measurement: 1 users replica, at saturation.
      if (rates.users === 0) {
        rates = {
          users: Math.max(1, Math.round(OVERLOAD * reads.users.rps)),
          // A quarter: under a tenth of a core, a paced hello is already throttled at half its closed-loop figure.
          hello: Math.max(1, Math.round(HELLO_SHARE * reads.hello.rps)),
        };
      }
      const paced = pair(
        await measureTogether(
          loadgen.id,
          [
            spec(side, USERS_PAGE, PACED_CONNECTIONS.users, { rate: rates.users, paced: true }),
            spec(side, '/api/hello', PACED_CONNECTIONS.hello, { rate: rates.hello, paced: true }),
          ],
          windows,
        ),
      );
      steps[side.name].push({
        reads,
        writes,
        paced,
        memoryMiB: memory,
        addedMiB: added,
        cpus: side.cpus(),
        containers: side.containers().length,
      });
    }
  }
  return {
    tables: [scalingTable(steps, rates), await doublingTable(steps)],
    setup: `Scaling: every container gets a CPU quota (\`--cpus\`, from .env) on core ${CPU_LAYOUT.deployment}, as a replica on its own small machine would: users ${CPU_QUOTA.users} of a core per replica, hello ${CPU_QUOTA.hello}, the gateway ${CPU_QUOTA.gateway} (it is never the ceiling), a monolith replica ${CPU_QUOTA.monolith} (users' and hello's together). 3 users replicas + hello + gateway add up to ${(CPU_QUOTA.gateway + CPU_QUOTA.hello + 3 * CPU_QUOTA.users).toFixed(1)} of that core; 3 monolith replicas + their gateway to ${(CPU_QUOTA.gateway + 3 * CPU_QUOTA.monolith).toFixed(1)} (quotas are ceilings: the monolith side's load never uses all of them). The load generator keeps core ${CPU_LAYOUT.loadgen}. Each side's windows: ${warmupS} s warm-up, then the median of ${windows.rounds} rounds of ${windows.roundS} s.`,
  };
}

const COLUMNS = REPLICA_COUNTS.flatMap((n) => [`micro ×${n}`]).concat(REPLICA_COUNTS.map((n) => `mono ×${n}`));

function scalingTable(steps: Record<Side['name'], Step[]>, rates: { users: number; hello: number }): Table {
  const all = [...steps.microservices, ...steps.monolith];
  const row = (label: string, unit: Row['unit'], pick: (step: Step) => number): Row => ({
    label,
    unit,
    values: all.map(pick),
  });
  return {
    title: 'Scaling users: microservices add users replicas, the monolith adds whole copies',
    columns: COLUMNS,
    ratios: [
      { label: 'micro ×2/×1', numerator: 1, denominator: 0 },
      { label: 'micro ×3/×1', numerator: 2, denominator: 0 },
      { label: 'mono ×2/×1', numerator: 4, denominator: 3 },
      { label: 'mono ×3/×1', numerator: 5, denominator: 3 },
    ],
    // Throughput and p99 against replicas, memory beside them.
    plot: {
      x: [...REPLICA_COUNTS],
      xLabel: 'replicas',
      series: ['microservices', 'monolith'],
      // users reads, hello beside them, writes; the fixed rate's p99; memory and CPU quota.
      rows: [0, 2, 4, 8, 14, 15],
    },
    rows: [
      row(`GET ${USERS_PAGE} throughput`, 'req/s', (s) => s.reads.users.rps),
      row(`GET ${USERS_PAGE} p99`, 'ms', (s) => s.reads.users.p99),
      row('hello throughput, same windows', 'req/s', (s) => s.reads.hello.rps),
      row('hello p99, same windows', 'ms', (s) => s.reads.hello.p99),
      row('POST /api/users throughput', 'req/s', (s) => s.writes.users.rps),
      row('POST /api/users p99', 'ms', (s) => s.writes.users.p99),
      row('hello throughput, beside the writes', 'req/s', (s) => s.writes.hello.rps),
      row(`GET users page at ${rates.users} req/s: p50`, 'ms', (s) => s.paced.users.p50),
      row(`GET users page at ${rates.users} req/s: p99`, 'ms', (s) => s.paced.users.p99),
      row(`GET users page at ${rates.users} req/s: errors`, '%', (s) => s.paced.users.errorPct),
      row(`GET users page at ${rates.users} req/s: achieved`, 'req/s', (s) => s.paced.users.rps),
      row(`hello at ${rates.hello} req/s beside it: achieved`, 'req/s', (s) => s.paced.hello.rps),
      row(`hello at ${rates.hello} req/s beside it: p50`, 'ms', (s) => s.paced.hello.p50),
      row(`hello at ${rates.hello} req/s beside it: p99`, 'ms', (s) => s.paced.hello.p99),
      row('memory under load, all containers', 'MiB', (s) => s.memoryMiB),
      row('CPU quota, all containers', 'cores', (s) => s.cpus),
      row('containers', 'replicas', (s) => s.containers),
    ],
    notes: [
      `Saturation: ${USERS_CONNECTIONS} connections on users and ${HELLO_CONNECTIONS} on hello at the same time, both through the gateway; throughput counts 2xx answers. The fixed rate is ${OVERLOAD}× what 1 users replica delivered at saturation (open loop, latency from each request's scheduled send time; errors include 504s from the gateway's 5 s deadline), with hello at ${HELLO_SHARE * 100}% of its own 1-replica saturation figure beside it. p99s under a CPU quota include the kernel's throttling: a container that has used its share of a 100 ms period waits for the next one.`,
      'Reads scale because each replica reads the shared SQLite file on its own (WAL mode: readers never wait for each other). Writes scale far less: SQLite lets one process write at a time, so every replica queues for the same file lock (busy timeout 5 s). What more replicas add is the work around the write (HTTP, validation, JSON), which runs in parallel; the commits stay one at a time, and their p99 grows with the queue. Scaling writes needs a database that takes concurrent writers.',
      `The monolith's replicas serve hello too, out of the same quota: its hello figures share the users load's CPU, where the microservices' hello has a quota of its own.`,
    ],
  };
}

/**
 * What it takes each deployment to double users capacity: the users GET throughput
 * 2 users replicas delivered is the target; the monolith needs as many whole copies as
 * reach it (within 5%, the rounds' own spread).
 */
async function doublingTable(steps: Record<Side['name'], Step[]>): Promise<Table> {
  const target = steps.microservices[1]?.reads.users.rps ?? Number.NaN;
  const microIndex = 1;
  const monoIndex = steps.monolith.findIndex((s) => s.reads.users.rps >= 0.95 * target);
  const base = await imageBytes(resolveNodeImage());
  const images = {
    microservices: await imageBytes(imageFor('users')),
    monolith: await imageBytes(imageFor('monolith')),
  };
  const mb = (bytes: number) => bytes / 1e6;
  const at = (name: Side['name'], index: number) => steps[name][index];
  const value = (name: Side['name'], index: number, pick: (s: Step) => number) => {
    const step = at(name, index);
    return index >= 0 && step ? pick(step) : Number.NaN;
  };
  const added = (name: Side['name'], index: number, pick: (s: Step) => number) =>
    value(name, index, pick) - value(name, 0, pick);
  const both = (pick: (name: Side['name'], index: number) => number) => [
    pick('microservices', microIndex),
    pick('monolith', monoIndex),
  ];
  const replicasAdded = both((_, index) => (index >= 0 ? index : Number.NaN));
  return {
    title: `Doubling users capacity: what reaching ${Math.round(target)} req/s of users reads takes`,
    columns: ['microservices', 'monolith'],
    ratios: [{ label: 'mono / micro', numerator: 1, denominator: 0 }],
    rows: [
      {
        label: 'users GET throughput reached',
        unit: 'req/s',
        values: both((n, i) => value(n, i, (s) => s.reads.users.rps)),
      },
      {
        label: 'hello throughput in the same windows',
        unit: 'req/s',
        values: both((n, i) => value(n, i, (s) => s.reads.hello.rps)),
      },
      {
        label: 'replicas of the scaled service',
        unit: 'replicas',
        values: both((_, i) => (i >= 0 ? i + 1 : Number.NaN)),
      },
      { label: 'containers in all', unit: 'replicas', values: both((n, i) => value(n, i, (s) => s.containers)) },
      { label: 'CPU quota in all', unit: 'cores', values: both((n, i) => value(n, i, (s) => s.cpus)) },
      { label: 'memory under load in all', unit: 'MiB', values: both((n, i) => value(n, i, (s) => s.memoryMiB)) },
      { label: 'CPU quota added', unit: 'cores', values: both((n, i) => added(n, i, (s) => s.cpus)) },
      { label: 'memory of the added replicas', unit: 'MiB', values: both((n, i) => value(n, i, (s) => s.addedMiB)) },
      { label: 'image pulls added (one per new machine)', unit: 'replicas', values: replicasAdded },
      {
        label: 'pulled per new machine, whole image',
        unit: 'MB',
        values: [mb(images.microservices), mb(images.monolith)],
      },
      {
        label: 'pulled per new machine that has the base image',
        unit: 'MB',
        values: [mb(images.microservices - base), mb(images.monolith - base)],
      },
    ],
    notes: [
      'The target is what 2 users replicas delivered in the scaling table; the monolith column is the fewest replicas whose figure comes within 5% of it (n/a: 3 did not). Every replica is counted as a machine of its own, so each added replica is one image pull; both images are the same Node base plus a bundle, so what sets them apart per machine is the quota and the memory, not the bytes.',
    ],
  };
}
