import { docker } from './docker.ts';
import { labImage } from './lab-env.ts';
import { medianOf } from './stats.ts';

/**
 * The load generator the benchmarks and the container tests share: autocannon (closed
 * loop, bench/loadgen/run-load.mjs) and an evenly paced open loop (open-loop.mjs) in a
 * container on the same Docker network as what it measures, driven with `docker exec`.
 */
export const LOADGEN_IMAGE = labImage('bench-loadgen');

/**
 * Where load and measured services run: the load generator on core 0, what it measures
 * on core 1, so the generator never competes with what it measures.
 */
export const CPU_LAYOUT = { loadgen: '0', deployment: '1' } as const;

/** One load run inside the load-generator container. */
export interface LoadSpec {
  /** As seen from the container's network, e.g. `http://gateway:8080`. */
  baseUrl: string;
  method: 'GET' | 'POST';
  /** `:id` is replaced by each of `ids` in turn. */
  path: string;
  ids?: string[];
  /** POST a new user with a unique email each time. */
  createUsers?: boolean;
  connections: number;
  durationS: number;
  /** Requests per second over all connections; absent means as fast as it answers (saturation). */
  rate?: number;
  /**
   * With `rate`: evenly paced sends over a pool of `connections`, each timed from when it
   * was due (open-loop.mjs), instead of autocannon's overallRate, which sends each
   * connection's quota in bursts and times from the actual send.
   */
  paced?: boolean;
}

export interface LoadResult {
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  durationS: number;
  /** 2xx responses per second: failures do not count as throughput. */
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  /** Paced runs only: how late the 99th-percentile send left its scheduled time (ms); the generator's own lag. */
  sendLagP99?: number;
  statuses: Record<string, number>;
}

export const LOAD_FIGURES = ['rps', 'p50', 'p90', 'p99', 'max', 'sendLagP99'] as const;

/** Non-2xx answers, errors and timeouts. */
export const failures = (result: LoadResult) => result.non2xx + result.errors + result.timeouts;

let runs = 0;

/**
 * Runs `specs` side by side in one process of the load generator (all closed loop, or all
 * paced) and returns their results in order: two routes loaded in the same window.
 */
export async function runLoads(loadgenId: string, specs: LoadSpec[]): Promise<LoadResult[]> {
  runs += 1;
  // The tag keeps emails unique across runs that share a database.
  const tagged = specs.map((spec, i) => ({ ...spec, tag: `${loadgenId.slice(0, 6)}-${runs}-${i}` }));
  const paced = specs.map((spec) => spec.paced === true);
  if (paced.some((p) => p !== paced[0])) throw new Error('runLoads: specs run side by side are all paced or none');
  const script = paced[0] ? 'open-loop.mjs' : 'run-load.mjs';
  const out = await docker('exec', loadgenId, 'node', script, JSON.stringify(tagged));
  const results = JSON.parse(out.split('\n').at(-1) ?? '[]') as LoadResult[];
  for (const [i, result] of results.entries()) {
    const spec = specs[i] as LoadSpec;
    if (failures(result) > 0) {
      process.stderr.write(
        `  note: ${spec.method} ${spec.baseUrl}${spec.path}: ${result.non2xx} non-2xx ${JSON.stringify(result.statuses)}, ${result.errors} errors, ${result.timeouts} timeouts\n`,
      );
    }
  }
  return results;
}

export const runLoad = async (loadgenId: string, spec: LoadSpec): Promise<LoadResult> =>
  (await runLoads(loadgenId, [spec]))[0] as LoadResult;

/** The median of each figure over rounds of one target, and its failures over all of them. */
export type Figures = Record<(typeof LOAD_FIGURES)[number], number> & {
  /** Non-2xx answers, errors and timeouts, summed over the rounds. */
  failed: number;
  /** `failed` as a share of every request the rounds sent (%). */
  errorPct: number;
};

export function summarise(results: LoadResult[]): Figures {
  const failed = results.reduce((sum, r) => sum + failures(r), 0);
  const sent = results.reduce((sum, r) => sum + r.ok + failures(r), 0);
  return { ...medianOf(results, [...LOAD_FIGURES]), failed, errorPct: sent === 0 ? Number.NaN : (100 * failed) / sent };
}

/**
 * Specs loaded side by side, in the same windows (one load-generator process): a
 * warm-up, then `rounds` rounds. Returns the median of each figure per spec.
 * `duringWarmup` runs beside the warm-up (memory is sampled there, where it cannot
 * disturb a measured round).
 */
export async function measureTogether(
  loadgenId: string,
  specs: LoadSpec[],
  { warmupS, rounds, roundS }: { warmupS: number; rounds: number; roundS: number },
  duringWarmup?: () => Promise<void>,
): Promise<Figures[]> {
  if (warmupS > 0) {
    await Promise.all([
      runLoads(
        loadgenId,
        specs.map((s) => ({ ...s, durationS: warmupS })),
      ),
      duringWarmup?.(),
    ]);
  }
  const results: LoadResult[][] = specs.map(() => []);
  for (let round = 0; round < rounds; round++) {
    const measured = await runLoads(
      loadgenId,
      specs.map((s) => ({ ...s, durationS: roundS })),
    );
    for (const [i, result] of measured.entries()) results[i]?.push(result);
  }
  return results.map(summarise);
}
