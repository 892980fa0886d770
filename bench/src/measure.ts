import { type Figures, type LoadResult, type LoadSpec, runLoad, summarise } from '@lab/lab-kit/loadgen';
import type { BenchOptions } from './options.ts';
import type { Container } from './session.ts';

/** The open loop's connection pool: room for the queue a stall builds, so sends never wait for one. */
export const OPEN_LOOP_CONNECTIONS = 64;

export type { Figures };
export type Target = Omit<LoadSpec, 'durationS' | 'connections'>;
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
      runLoad(loadgen.id, { ...target, connections, durationS: options.warmupS }),
      duringWarmup?.(index),
    ]);
  }
  const rounds: LoadResult[][] = targets.map(() => []);
  for (let round = 0; round < options.rounds; round++) {
    const order = [...targets.keys()];
    if (round % 2 === 1) order.reverse();
    for (const index of order) {
      const target = targets[index] as Target;
      rounds[index]?.push(await runLoad(loadgen.id, { ...target, connections, durationS: options.roundS }));
    }
  }
  return rounds.map(summarise);
}
