import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { docker } from '@lab/lab-kit/docker';
import { expectSentOnSchedule } from '@lab/lab-kit/load-assertions';
import { describe, expect, it } from 'vitest';
import type { DemoResult, PhaseFigures, RouteFigures } from './demo.ts';

const run = promisify(execFile);
const WORKSHOP_ROOT = fileURLToPath(new URL('../', import.meta.url));
const DEMO_TIMEOUT_MS = 240_000;

/** Everything on the engine whose name holds the project's, whoever created it. */
async function objectsNamed(project: string): Promise<string[]> {
  const names = async (...args: string[]) =>
    (await docker(...args, '--filter', `name=${project}`, '--format', '{{.Name}}')).split('\n').filter(Boolean);
  return [
    ...(await docker('ps', '--all', '--filter', `name=${project}`, '--format', '{{.Names}}'))
      .split('\n')
      .filter(Boolean),
    ...(await names('network', 'ls')),
    ...(await names('volume', 'ls')),
  ];
}

/** Runs a demo the way CI does and returns its `demo-result` line, parsed. */
async function runShortDemo(script: string, project: string): Promise<DemoResult> {
  expect(await objectsNamed(project), `left over from an earlier run: remove ${project}'s objects`).toEqual([]);
  const startedAt = Date.now();
  const { stdout } = await run(process.execPath, [`src/${script}`, '--short', '--port', '0'], {
    cwd: WORKSHOP_ROOT,
    timeout: DEMO_TIMEOUT_MS - 10_000,
    maxBuffer: 16 * 1024 * 1024,
  }).catch((error: Error & { stdout?: string }) => {
    // The demo's own output says which phase it reached and what it cleaned up.
    throw new Error(`${error.message}\n--- demo stdout ---\n${error.stdout ?? ''}`);
  });
  process.stdout.write(`${stdout}[figures] ${script} --short took ${Date.now() - startedAt} ms\n`);
  const line = stdout.split('\n').find((l) => l.startsWith('demo-result '));
  expect(line, 'the demo printed its demo-result line').toBeDefined();
  const result = JSON.parse(line?.slice('demo-result '.length) ?? '{}') as DemoResult;
  expect(result.cleanup.left).toEqual([]);
  expect(await objectsNamed(project), 'the engine is left as the demo found it').toEqual([]);
  return result;
}

function phase(result: DemoResult, name: string): PhaseFigures {
  const found = result.phases.find((p) => p.name === name);
  if (!found) throw new Error(`no phase "${name}" in ${result.phases.map((p) => p.name).join(', ')}`);
  return found;
}

const expectSteady = (figures: RouteFigures, what: string) =>
  expectSentOnSchedule(what, figures.count, figures.scheduled);

function expectHelloUntouched(result: DemoResult) {
  for (const { name, routes } of result.phases) {
    expectSteady(routes.hello, `hello in "${name}"`);
    expect(routes.hello.successRate, `hello in "${name}": ${JSON.stringify(routes.hello.statuses)}`).toBe(1);
  }
}

describe('npm run demo:fault-isolation -- --short', () => {
  it('keeps hello at 100% while users is killed, fails users fast, and brings it back', {
    timeout: DEMO_TIMEOUT_MS,
  }, async () => {
    const result = await runShortDemo('demo-fault-isolation.ts', 'mslab-demo-fault-isolation');
    expect(result.phases.map((p) => p.name)).toEqual([
      'all up',
      'killing users',
      'users down',
      'users restarting',
      'users back',
    ]);
    expectHelloUntouched(result);

    const allUp = phase(result, 'all up').routes.users;
    expectSteady(allUp, 'users in "all up"');
    expect(allUp.successRate).toBeGreaterThanOrEqual(0.99);

    // Measured at 100% failures once the kill has returned: the breaker opens after 5 failures.
    const down = phase(result, 'users down').routes.users;
    expectSteady(down, 'users in "users down"');
    expect(down.errors / down.count, JSON.stringify(down.statuses)).toBeGreaterThanOrEqual(0.95);
    // The failures are the gateway's own fast 502/503 answers, never client timeouts.
    expect(Object.keys(down.statuses).every((status) => ['200', '502', '503'].includes(status))).toBe(true);
    expect(down.p95LatencyMs).toBeLessThan(1_000);

    const back = phase(result, 'users back').routes.users;
    expectSteady(back, 'users in "users back"');
    expect(back.successRate).toBeGreaterThanOrEqual(0.95);
  });
});

describe('npm run demo:scaling -- --short', () => {
  it('under a fixed overload, 3 users replicas serve the rate 1 could not, faster, while hello keeps answering', {
    timeout: DEMO_TIMEOUT_MS,
  }, async () => {
    const result = await runShortDemo('demo-scaling.ts', 'mslab-demo-scaling');
    expectHelloUntouched(result);

    const offered = result.rates.users;
    const one = phase(result, '1 replica').routes.users;
    const three = phase(result, '3 replicas').routes.users;
    for (const [name, users] of [
      ['1 replica', one],
      ['3 replicas', three],
    ] as const) {
      expectSteady(users, `users in "${name}"`);
    }
    const figures = JSON.stringify({ offered, one, three });
    // One replica at its quota cannot keep up: it serves well under what is asked of it.
    expect(one.okPerSecond, figures).toBeLessThan(0.75 * offered);
    // Three serve more of the same load, refuse less of it, and a served request waits less.
    expect(three.okPerSecond, figures).toBeGreaterThanOrEqual(1.3 * one.okPerSecond);
    expect(1 - three.successRate, figures).toBeLessThan(1 - one.successRate);
    expect(three.okP50LatencyMs, figures).toBeLessThan(one.okP50LatencyMs);
    expect(Object.values(phase(result, '1 replica').replicas.users)).toHaveLength(1);
    const shares = Object.values(phase(result, '3 replicas').replicas.users);
    expect(shares).toHaveLength(3);
    for (const { share } of shares) expect(share).toBeGreaterThanOrEqual(0.2);
    expect(Object.values(phase(result, 'back to 1').replicas.users)).toHaveLength(1);
  });
});
