import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { cpuModel, requireDocker } from '@lab/lab-kit/docker';
import { createImageBuilds } from '@lab/lab-kit/images';
import { type BenchOptions, parseOptions } from './options.ts';
import { type Report, renderMarkdown, renderTerminal } from './report.ts';
import { BENCH_ROOT, BenchSession } from './session.ts';
import { renderSvg } from './svg.ts';

export interface BenchContext {
  session: BenchSession;
  options: BenchOptions;
  /** Lines for the report's setup section that every benchmark shares. */
  machine: string[];
  log(message: string): void;
}

/** Where each benchmark writes its report (gitignored). */
export const RESULTS_DIR = `${BENCH_ROOT}results`;

const started = performance.now();
const log = (name: string) => (message: string) =>
  process.stderr.write(`${name} +${((performance.now() - started) / 1000).toFixed(0)}s: ${message}\n`);

/**
 * The frame around a benchmark: one clear line and exit 1 without Docker; a
 * labelled session torn down on success, failure, Ctrl-C or SIGTERM; the report
 * written to bench/results/<name>.{md,svg,json} and its tables printed.
 */
export async function runBench(name: string, body: (context: BenchContext) => Promise<Report>): Promise<void> {
  const wallStart = performance.now();
  let options: BenchOptions;
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${name}: ${(error as Error).message}\n`);
    process.exit(2);
  }
  let engine: string;
  try {
    engine = await requireDocker();
  } catch (error) {
    process.stderr.write(`${name}: ${(error as Error).message}\n`);
    process.exit(1);
  }
  // Each image this run starts is built by this run, whatever an earlier one left behind.
  const session = new BenchSession(name, { images: createImageBuilds({ log: log(name) }) });
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`${name}: ${signal}, removing this run's containers\n`);
    void session.teardown().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const context: BenchContext = {
    session,
    options,
    log: log(name),
    machine: [
      `${new Date().toISOString()}, ${cpus().length} cores (${cpuModel()}), Docker ${engine}, Node ${process.version}`,
      options.quick
        ? `--quick: ${options.warmupS} s warm-up, median of ${options.rounds} rounds of ${options.roundS} s (a smoke test, not a measurement to quote)`
        : `${options.warmupS} s warm-up per target, then the median of ${options.rounds} rounds of ${options.roundS} s, targets alternating`,
    ],
  };
  let report: Report;
  try {
    report = await body(context);
  } catch (error) {
    process.stderr.write(`${name}: failed: ${(error as Error).message}\n`);
    process.exitCode = 1;
    return;
  } finally {
    await session.teardown();
  }
  const wallS = (performance.now() - wallStart) / 1000;
  report.setup.push(`wall time ${wallS.toFixed(0)} s, image builds included`);
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(`${RESULTS_DIR}/${name}.md`, renderMarkdown(report, `${name}.svg`));
  writeFileSync(`${RESULTS_DIR}/${name}.svg`, renderSvg(report));
  writeFileSync(`${RESULTS_DIR}/${name}.json`, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(renderTerminal(report));
  process.stdout.write(`\n${name}: ${wallS.toFixed(0)} s; report in bench/results/${name}.md and ${name}.svg\n`);
}
