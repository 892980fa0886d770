/** How long and how often to measure; `--quick` is the CI smoke test (under 2 minutes). */
export interface BenchOptions {
  quick: boolean;
  warmupS: number;
  rounds: number;
  roundS: number;
  /** autocannon connections for the saturation and fixed-rate runs. */
  connections: number;
  /** Seconds of hello availability watched after the SIGKILL. */
  blastWindowS: number;
  /** How many cold starts and blast-radius crashes per deployment. */
  samples: number;
}

const USAGE = 'usage: [--quick] [--rounds N] [--round-seconds S] [--warmup-seconds S] [--connections N] [--samples N]';

export function parseOptions(argv: string[]): BenchOptions {
  const quick = argv.includes('--quick');
  const options: BenchOptions = quick
    ? { quick, warmupS: 1, rounds: 2, roundS: 2, connections: 32, blastWindowS: 10, samples: 2 }
    : { quick, warmupS: 3, rounds: 5, roundS: 5, connections: 32, blastWindowS: 10, samples: 5 };
  const numeric: Record<string, keyof BenchOptions> = {
    '--rounds': 'rounds',
    '--round-seconds': 'roundS',
    '--warmup-seconds': 'warmupS',
    '--connections': 'connections',
    '--samples': 'samples',
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--quick') continue;
    const key = numeric[arg];
    const value = Number(argv[i + 1]);
    if (!key || !Number.isInteger(value) || value < 1) throw new Error(`bad argument ${arg}; ${USAGE}`);
    Object.assign(options, { [key]: value });
    i++;
  }
  return options;
}
