import { LOAD_FIGURES, type LoadResult, type LoadSpec, runLoad } from './load.ts';
import type { BenchOptions } from './options.ts';
import type { Container } from './session.ts';
import { medianOf } from './stats.ts';

export type Target = Omit<LoadSpec, 'durationS' | 'connections'>;
export type Figures = Record<(typeof LOAD_FIGURES)[number], number> & {
  /** Non-2xx answers, errors and timeouts, summed over the measured rounds. */
  failed: number;
};

/**
 * Each target warmed up once, then measured `rounds` times, alternating which goes
 * first so a slow drift of the machine does not favour one side. Returns the
 * median of each figure per target, and the failures of all its rounds.
 * `duringWarmup` runs alongside a target's warm-up (memory is sampled there,
 * where it cannot disturb a measured round).
 */
export async function measureSideBySide(
  loadgen: Container,
  targets: Target[],
  options: BenchOptions,
  duringWarmup?: (index: number) => Promise<void>,
): Promise<Figures[]> {
  const connections = options.connections;
  // warmupS 0: the targets are already warm from an earlier phase.
  for (const [index, target] of options.warmupS > 0 ? targets.entries() : []) {
    await Promise.all([
      runLoad(loadgen, { ...target, connections, durationS: options.warmupS }),
      duringWarmup?.(index),
    ]);
  }
  const rounds: LoadResult[][] = targets.map(() => []);
  for (let round = 0; round < options.rounds; round++) {
    const order = [...targets.keys()];
    if (round % 2 === 1) order.reverse();
    for (const index of order) {
      const target = targets[index] as Target;
      rounds[index]?.push(await runLoad(loadgen, { ...target, connections, durationS: options.roundS }));
    }
  }
  return rounds.map((results) => ({
    ...medianOf(results, [...LOAD_FIGURES]),
    failed: results.reduce((sum, r) => sum + r.non2xx + r.errors + r.timeouts, 0),
  }));
}
