#!/usr/bin/env node
// Adds up the vitest JSON reports (.reports/vitest.json) of every workspace that
// has a test script, and the reports CI's own checks leave in the root .reports/
// (same shape, e.g. engine-guard.json), and prints one closing line: `N passed, N failed`.
// A workspace that left no report (its run crashed or never started) counts as one
// failure, and so does a test file that could not run: silence is not a pass.
// Exit code: 0 only when nothing failed.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const readJson = (file) => JSON.parse(readFileSync(file, 'utf8'));

// Workspace entries are either `dir/*` (every folder in dir) or a plain folder.
const workspaces = readJson(join(root, 'package.json')).workspaces.flatMap((pattern) => {
  if (!pattern.endsWith('/*')) return [join(root, pattern)];
  const parent = join(root, pattern.slice(0, -2));
  return existsSync(parent) ? readdirSync(parent).map((name) => join(parent, name)) : [];
});

const reports = [];
for (const dir of workspaces) {
  const manifest = join(dir, 'package.json');
  if (!existsSync(manifest) || !readJson(manifest).scripts?.test) continue;
  reports.push({ name: readJson(manifest).name, file: join(dir, '.reports', 'vitest.json') });
}
const ciReports = join(root, '.reports');
const ciFiles = existsSync(ciReports) ? readdirSync(ciReports).filter((f) => f.endsWith('.json')) : [];
for (const file of ciFiles.sort())
  reports.push({ name: `ci ${file.slice(0, -'.json'.length)}`, file: join(ciReports, file) });

let passed = 0;
let failed = 0;
let skipped = 0;
for (const { name, file } of reports) {
  if (!existsSync(file)) {
    console.log(`${name}: no test report (its test run did not complete)`);
    failed += 1;
    continue;
  }
  const report = readJson(file);
  // A file that failed outside its tests (a hook, an import) leaves its tests skipped or absent.
  const brokenFiles = report.testResults.filter(
    (result) => result.status === 'failed' && !result.assertionResults.some((test) => test.status === 'failed'),
  );
  passed += report.numPassedTests;
  failed += report.numFailedTests + brokenFiles.length;
  skipped += report.numPendingTests + report.numTodoTests;
  console.log(
    `${name}: ${report.numPassedTests} passed, ${report.numFailedTests + brokenFiles.length} failed` +
      (brokenFiles.length ? ` (${brokenFiles.length} file(s) could not run)` : ''),
  );
}

console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exitCode = failed === 0 && passed > 0 ? 0 : 1;
