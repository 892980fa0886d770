import { findChapter } from './chapters.ts';
import { type Check, EXERCISES } from './exercises.ts';

export interface CheckReport {
  passed: boolean;
  lines: string[];
}

/** Runs a chapter's exercise checks against the engine, one plain-words line each. */
export async function checkExercise(chapterName: string): Promise<CheckReport> {
  const chapter = findChapter(chapterName);
  const checks: Check[] | undefined = EXERCISES[chapter.number];
  const lines = [`Chapter ${chapter.number}: ${chapter.title.replace(/^\d\d · /, '')}`];
  if (!checks) return { passed: true, lines: [...lines, '  This chapter has no exercise to check.'] };
  let right = 0;
  for (const check of checks) {
    try {
      await check.verify();
      right += 1;
      lines.push(`  ✔ ${check.what}`);
    } catch (error) {
      lines.push(`  ✘ ${check.what}: ${(error as Error).message}`);
    }
  }
  const passed = right === checks.length;
  lines.push(
    passed
      ? `All ${checks.length} right. Well done.`
      : `${right} of ${checks.length} right; fix the ✘ lines and check again.`,
  );
  return { passed, lines };
}

// npm run workshop:check -- <chapter>
const [name] = process.argv.slice(2);
if (!name) {
  process.stderr.write('usage: npm run workshop:check -- <chapter>   (e.g. 05 or tags-and-ports)\n');
  process.exit(2);
}
try {
  const report = await checkExercise(name);
  process.stdout.write(`${report.lines.join('\n')}\n`);
  process.exitCode = report.passed ? 0 : 1;
} catch (error) {
  process.stderr.write(`workshop:check: ${(error as Error).message}\n`);
  process.exitCode = 2;
}
