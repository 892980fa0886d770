import { readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { type Chapter, findChapter, listChapters, type ShellBlock } from './chapters.ts';
import { engineState, restoreEngine } from './engine-state.ts';
import { startLocalRegistry } from './registry.ts';
import { type BlockResult, blockEnvironment, blockProblem, runBlock } from './run-block.ts';

export interface BlockOutcome {
  block: ShellBlock;
  result?: BlockResult;
  problem?: string;
}

export interface ChapterRun {
  chapter: Chapter;
  outcomes: BlockOutcome[];
  cleanedUp: string[];
}

const MAX_RECORDED_LINES = 30;

function recorded(output: string): string {
  const lines = output.trimEnd().split('\n');
  if (lines.length <= MAX_RECORDED_LINES) return lines.join('\n');
  return [...lines.slice(0, MAX_RECORDED_LINES), `… (${lines.length - MAX_RECORDED_LINES} more lines)`].join('\n');
}

/** Writes each run block's real output into the output block that follows it. */
function recordOutputs(chapter: Chapter, outcomes: BlockOutcome[]): void {
  const lines = readFileSync(chapter.file, 'utf8').split('\n');
  for (const { block, result } of [...outcomes].reverse()) {
    if (!block.output || !result) continue;
    lines.splice(block.output.start, block.output.end - block.output.start, recorded(result.output));
  }
  writeFileSync(chapter.file, lines.join('\n'));
}

/**
 * Runs a chapter's `run` blocks in order, stopping at the first that does not do
 * what the chapter says, then removes whatever the chapter left in the engine.
 */
export async function runChapter(
  chapter: Chapter,
  options: { record?: boolean; log?: (line: string) => void } = {},
): Promise<ChapterRun> {
  const log = options.log ?? (() => undefined);
  const env = blockEnvironment();
  const before = await engineState();
  const needsRegistry = readFileSync(chapter.file, 'utf8').includes('<!-- needs: local-registry -->');
  const registry = needsRegistry ? await startLocalRegistry() : undefined;
  if (registry) log(`  registry on localhost:5000: ${registry.origin}`);
  const outcomes: BlockOutcome[] = [];
  try {
    for (const block of chapter.blocks) {
      if (block.kind === 'answer') continue;
      if (block.kind === 'skip') {
        log(`  skipped (line ${block.line}): ${block.skipReason}`);
        outcomes.push({ block });
        continue;
      }
      const result = await runBlock(block, env);
      const problem = options.record ? undefined : blockProblem(block, result);
      outcomes.push({ block, result, ...(problem ? { problem } : {}) });
      log(
        `  ${problem ? 'FAIL' : 'ok  '} line ${block.line} in ${(result.durationMs / 1000).toFixed(1)} s: ${firstLine(block.code)}`,
      );
      if (problem) {
        log(`       ${problem}\n${indent(result.output)}`);
        break;
      }
    }
  } finally {
    await registry?.stop();
  }
  if (options.record) recordOutputs(chapter, outcomes);
  const cleanedUp = await restoreEngine(before);
  return { chapter, outcomes, cleanedUp };
}

const firstLine = (code: string) => code.split('\n').find((l) => l.trim() && !l.startsWith('#')) ?? '';
const indent = (text: string) =>
  text
    .trimEnd()
    .split('\n')
    .slice(-20)
    .map((l) => `       | ${l}`)
    .join('\n');

// `npm run workshop:docs -- [chapter ...] [--record]`: what the docs test runs, by hand;
// --record writes each block's real output into its chapter.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const args = process.argv.slice(2);
  const record = args.includes('--record');
  const names = args.filter((a) => !a.startsWith('--'));
  const chapters = names.length > 0 ? names.map(findChapter) : listChapters();
  let failed = 0;
  for (const chapter of chapters) {
    process.stdout.write(`${chapter.number}-${chapter.slug}: ${chapter.title}\n`);
    const run = await runChapter(chapter, { record, log: (line) => process.stdout.write(`${line}\n`) });
    if (run.outcomes.some((o) => o.problem)) failed += 1;
    if (run.cleanedUp.length > 0) process.stdout.write(`  cleaned up: ${run.cleanedUp.join('; ')}\n`);
  }
  process.exitCode = failed > 0 ? 1 : 0;
}
