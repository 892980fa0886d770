import { docker } from '@lab/lab-kit/docker';
import type { Container } from './session.ts';

/** One load run inside the load-generator container (see bench/loadgen/run-load.mjs and open-loop.mjs). */
export interface LoadSpec {
  /** As seen from the benchmark network, e.g. `http://gateway:8080`. */
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

let runs = 0;

export async function runLoad(loadgen: Container, spec: LoadSpec): Promise<LoadResult> {
  runs += 1;
  // The tag keeps emails unique across runs that share a database.
  const tag = `${loadgen.id.slice(0, 6)}-${runs}`;
  const script = spec.paced ? 'open-loop.mjs' : 'run-load.mjs';
  const out = await docker('exec', loadgen.id, 'node', script, JSON.stringify({ ...spec, tag }));
  const result = JSON.parse(out.split('\n').at(-1) ?? '{}') as LoadResult;
  if (result.non2xx + result.errors + result.timeouts > 0) {
    process.stderr.write(
      `  note: ${spec.method} ${spec.baseUrl}${spec.path}: ${result.non2xx} non-2xx ${JSON.stringify(result.statuses)}, ${result.errors} errors, ${result.timeouts} timeouts\n`,
    );
  }
  return result;
}
