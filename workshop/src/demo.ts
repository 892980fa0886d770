import { clearScreenDown, moveCursor } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { parseArgs, stripVTControlCharacters, styleText } from 'node:util';
import { type ComposeProject, composeProject } from '@lab/lab-kit/compose';
import { docker } from '@lab/lab-kit/docker';
import { SERVICE_PORTS } from '@lab/lab-kit/lab-env';
import {
  type Load,
  type Outcome,
  type RouteSummary,
  sentOnSchedule,
  shareByReplica,
  startLoad,
  summarize,
} from '@lab/lab-kit/load';
import { seedUsers } from '@lab/lab-kit/users-api';
import { waitFor } from '@lab/lab-kit/wait';

export interface DemoOptions {
  /** Non-interactive short phases, for tests and CI. */
  short: boolean;
  /** Host port of the gateway; 0 lets Docker pick a free one. */
  port: number;
  /** Redraw the table in place; only on a TTY and never with --short. */
  live: boolean;
}

const USAGE = 'usage: [--short] [--port N]  (N: host port for the gateway, 0 for any free one; default 8080)';

export function parseDemoOptions(argv: string[] = process.argv.slice(2)): DemoOptions {
  const { values } = parseArgs({
    args: argv,
    options: { short: { type: 'boolean', default: false }, port: { type: 'string', default: '8080' } },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`bad --port ${values.port}; ${USAGE}`);
  return { short: values.short, port, live: !values.short && process.stdout.isTTY === true };
}

export type Stack = ComposeProject;

export interface DemoContext {
  stack: Stack;
  gatewayUrl: string;
  /** Aborted on SIGINT/SIGTERM: waits end early, compose commands run to the end. */
  signal: AbortSignal;
}

export interface Phase {
  name: string;
  /** One line for the room: what to watch for. */
  watch: string;
  /**
   * Runs under load when the phase starts (kill, restart, scale); its time is part of the phase.
   * It must end its waits once `context.signal` aborts, so cleanup never races a compose command.
   */
  action?: (context: DemoContext) => Promise<unknown>;
  /** How long to keep measuring once the action is done. */
  holdMs: { live: number; short: number };
}

export interface DemoSpec {
  /** Names the compose project: mslab-demo-<name>. */
  name: string;
  title: string;
  usersReplicas: number;
  /** Requests per second on each route. */
  ratePerSecond: number;
  /** A route's own rate, where it differs (a fixed overload on users). */
  routeRates?: Partial<Record<RouteName, number>>;
  /** Compose files layered over docker-compose.yml, e.g. docker-compose.quotas.yml. */
  composeOverrides?: string[];
  /** Users created before the load starts, so a page of users is a real page. */
  seedUsers?: number;
  phases: Phase[];
}

const ROUTES = [
  { name: 'hello', path: '/api/hello' },
  { name: 'users', path: '/api/users' },
] as const;
type RouteName = (typeof ROUTES)[number]['name'];
const REDRAW_MS = 500;
const ROLLING_MS = 2_000;
const STARTUP_TIMEOUT_MS = 120_000;

export interface RouteFigures extends RouteSummary {
  scheduled: number;
  errors: number;
  /** 2xx answers per second of the phase, by when they were sent: throughput. */
  okPerSecond: number;
}

export interface PhaseFigures {
  name: string;
  durationMs: number;
  routes: Record<RouteName, RouteFigures>;
  /** Per route: 2xx answers and share of them, by x-served-by. */
  replicas: Record<RouteName, Record<string, { count: number; share: number }>>;
}

export interface Cleanup {
  containers: string[];
  networks: string[];
  volumes: string[];
  /** Anything of the project still on the engine after `down`; empty when all went. */
  left: string[];
}

export interface DemoResult {
  demo: string;
  project: string;
  /** Requests per second offered on each route. */
  rates: Record<RouteName, number>;
  phases: PhaseFigures[];
  cleanup: Cleanup;
}

interface Window {
  phase: Phase;
  fromMs: number;
  toMs: number;
}

const write = (text: string) => process.stdout.write(text);

/** Polls until `condition` holds, or returns at once when the demo is interrupted. */
export function waitUnlessAborted(
  condition: () => Promise<boolean>,
  timeoutMs: number,
  what: string,
  signal: AbortSignal,
) {
  return waitFor(async () => signal.aborted || (await condition()), timeoutMs, what);
}

/** As waitForOk, interruptible. */
export function waitForOkUnlessAborted(url: string, timeoutMs: number, signal: AbortSignal) {
  const answersOk = async () => (await fetch(url, { signal: AbortSignal.timeout(2_000) })).ok;
  return waitUnlessAborted(answersOk, timeoutMs, `${url} answering 200`, signal);
}

/**
 * Brings the stack up under `mslab-demo-<name>`, loads hello and users through the
 * gateway, runs the phases, shows the table, and always removes what it started.
 */
export async function runDemo(spec: DemoSpec, options: DemoOptions): Promise<DemoResult | undefined> {
  const project = `mslab-demo-${spec.name}`;
  const stack = await composeProject(project, { GATEWAY_PORT: String(options.port) }, spec.composeOverrides);
  const rates = Object.fromEntries(
    ROUTES.map(({ name }) => [name, spec.routeRates?.[name] ?? spec.ratePerSecond]),
  ) as Record<RouteName, number>;
  const aborter = new AbortController();
  // Silent the first time: a line written now would break the live table's redraw; the catch below says it.
  // Nothing is abandoned on abort: a compose command still running would race `down` and leave replicas behind.
  const onSignal = (signal: NodeJS.Signals) => {
    if (aborter.signal.aborted) return write(`${signal}: already cleaning up, one moment\n`);
    aborter.abort(new Error(`interrupted by ${signal}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let cleanup: Cleanup;
  let load: Load | undefined;
  let phases: PhaseFigures[] | undefined;
  try {
    write(`${styleText('bold', spec.title)}\n`);
    write(`Starting ${project} (${stack.variant}): hello, users x${spec.usersReplicas}, gateway\n`);
    // --build: the demo runs the code of this checkout, not whatever image an earlier run left (cached: seconds).
    await stack.compose('up', '--detach', '--build', '--scale', `users=${spec.usersReplicas}`);
    aborter.signal.throwIfAborted();
    const gatewayUrl = await stack.url('gateway', SERVICE_PORTS.gateway);
    for (const route of ROUTES) {
      await waitForOkUnlessAborted(`${gatewayUrl}${route.path}`, STARTUP_TIMEOUT_MS, aborter.signal);
    }
    aborter.signal.throwIfAborted();
    if (spec.seedUsers) await seedUsers(gatewayUrl, spec.seedUsers, 'Demo');
    const offered = ROUTES.map((r) => `${rates[r.name]} req/s on ${r.path}`).join(', ');
    write(`Gateway ready at ${gatewayUrl}; load: ${offered}\n\n`);

    load = startLoad({
      baseUrl: gatewayUrl,
      routes: ROUTES.map((route) => ({ ...route, ratePerSecond: rates[route.name] })),
      ratePerSecond: spec.ratePerSecond,
      maxDurationMs: 60 * 60_000,
      clientTimeoutMs: 5_000,
    });
    const windows = await runPhases(spec, options, { stack, gatewayUrl, signal: aborter.signal }, load);
    const outcomes = await load.stop();
    phases = windows.map((window) => phaseFigures(outcomes, window, rates));
  } catch (error) {
    const reason = aborter.signal.aborted ? (aborter.signal.reason as Error) : (error as Error);
    process.exitCode = aborter.signal.aborted ? 130 : 1;
    process.stderr.write(`demo stopped: ${reason.message}\n`);
  } finally {
    await load?.stop();
    cleanup = await cleanUp(stack, project);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (!phases) return undefined;
  const result: DemoResult = { demo: spec.name, project, rates, phases, cleanup };
  write(`demo-result ${JSON.stringify(result)}\n`);
  return result;
}

async function runPhases(spec: DemoSpec, options: DemoOptions, context: DemoContext, load: Load): Promise<Window[]> {
  const windows: Window[] = [];
  for (const [index, phase] of spec.phases.entries()) {
    const heading = `Phase ${index + 1}/${spec.phases.length}: ${phase.name}`;
    const holdMs = options.short ? phase.holdMs.short : phase.holdMs.live;
    const window: Window = { phase, fromMs: load.now(), toMs: Number.POSITIVE_INFINITY };
    const live = options.live ? startLiveTable(() => renderPhase(heading, load, window, true)) : undefined;
    if (!options.live) write(`${heading} ...\n`);
    try {
      await phase.action?.(context);
      context.signal.throwIfAborted();
      await delay(holdMs, undefined, { signal: context.signal });
    } finally {
      window.toMs = load.now();
      live?.stop();
    }
    if (!options.live) write(renderPhase(heading, load, window, false));
    write('\n');
    windows.push(window);
  }
  return windows;
}

function phaseFigures(outcomes: Outcome[], window: Window, rates: Record<RouteName, number>): PhaseFigures {
  const routes = {} as PhaseFigures['routes'];
  const replicas = {} as PhaseFigures['replicas'];
  for (const { name } of ROUTES) {
    const summary = summarize(outcomes, name, window.fromMs, window.toMs);
    const { scheduled } = sentOnSchedule(outcomes, name, rates[name], window.fromMs, window.toMs);
    const okPerSecond = okRate(summary.ok, window.fromMs, window.toMs);
    routes[name] = { ...summary, scheduled, errors: summary.count - summary.ok, okPerSecond };
    replicas[name] = replicaShares(outcomes, name, window.fromMs, window.toMs);
  }
  return { name: window.phase.name, durationMs: Math.round(window.toMs - window.fromMs), routes, replicas };
}

/** Over 2xx answers only: a failure's x-served-by names the gateway that refused it, not a replica. */
function replicaShares(outcomes: Outcome[], route: string, fromMs: number, toMs: number) {
  const selected = outcomes.filter(
    (o) => o.route === route && o.sentAt >= fromMs && o.sentAt < toMs && o.status >= 200 && o.status < 300,
  );
  const counts = shareByReplica(selected);
  const total = [...counts.values()].reduce((sum, count) => sum + count, 0);
  const shares: Record<string, { count: number; share: number }> = {};
  for (const [replica, count] of [...counts].sort(([a], [b]) => a.localeCompare(b))) {
    shares[replica] = { count, share: count / total };
  }
  return shares;
}

const percent = (fraction: number) => `${(fraction * 100).toFixed(1)}%`;

/** 2xx answers per second over a window. */
const okRate = (ok: number, fromMs: number, toMs: number) => (toMs > fromMs ? (1000 * ok) / (toMs - fromMs) : 0);

/** Green at zero errors, red when at least one request in ten fails, yellow between. */
function colourByErrors(text: string, errors: number, count: number): string {
  if (count === 0) return text;
  const colour = errors === 0 ? 'green' : errors / count >= 0.1 ? 'red' : 'yellow';
  return styleText(colour, text);
}

function renderPhase(heading: string, load: Load, window: Window, live: boolean): string {
  const toMs = Math.min(window.toMs, load.now());
  const elapsed = `${((toMs - window.fromMs) / 1000).toFixed(1)} s`;
  const header = ['route', 'sent', 'ok', 'ok/s', 'errors', 'error %', 'p50 ms', 'p95 ms', 'max ms', 'ok p50 ms'];
  if (live) header.push('last 2 s');
  const rows = [header];
  const answers: string[] = [];
  const served: string[][] = [['served by (2xx)', 'route', 'count', 'share']];
  for (const { name } of ROUTES) {
    const s = summarize(load.outcomes, name, window.fromMs, toMs);
    const errors = s.count - s.ok;
    const row = [name, s.count, s.ok, Math.round(okRate(s.ok, window.fromMs, toMs)), errors].map(String);
    row.push(percent(s.count === 0 ? 0 : errors / s.count));
    row.push(...[s.p50LatencyMs, s.p95LatencyMs, s.maxLatencyMs, s.okP50LatencyMs].map(String));
    row[0] = colourByErrors(name, errors, s.count);
    if (live) {
      const recent = summarize(load.outcomes, name, Math.max(window.fromMs, toMs - ROLLING_MS), toMs);
      const recentErrors = recent.count - recent.ok;
      row.push(colourByErrors(`${recent.ok} ok, ${recentErrors} err`, recentErrors, recent.count));
    }
    rows.push(row);
    const statuses = Object.entries(s.statuses).map(([status, n]) => `${status === '0' ? 'no answer' : status} x${n}`);
    answers.push(`${name}: ${statuses.join(', ') || 'none yet'}`);
    for (const [replica, { count, share }] of Object.entries(replicaShares(load.outcomes, name, window.fromMs, toMs))) {
      served.push([replica, name, String(count), percent(share)]);
    }
  }
  return [
    `${styleText('bold', heading)}  ${elapsed}`,
    `  watch: ${window.phase.watch}`,
    ...formatColumns(rows),
    `  answers: ${answers.join('; ')}`,
    ...formatColumns(served),
    '',
  ].join('\n');
}

/** Left-aligns the first column, right-aligns the rest; widths ignore ANSI colour codes. */
function formatColumns(rows: string[][]): string[] {
  const width = (cell: string) => stripVTControlCharacters(cell).length;
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => width(row[column] ?? '')))) ?? [];
  return rows.map(
    (row) =>
      `  ${row
        .map((cell, column) => {
          const pad = ' '.repeat((widths[column] ?? 0) - width(cell));
          return column === 0 ? cell + pad : pad + cell;
        })
        .join('  ')}`,
  );
}

/** Redraws `render()` in place every REDRAW_MS; `stop` leaves the last frame on screen. */
function startLiveTable(render: () => string): { stop(): void } {
  let drawnRows = 0;
  const draw = () => {
    const text = render();
    if (drawnRows > 0) {
      moveCursor(process.stdout, 0, -drawnRows);
      clearScreenDown(process.stdout);
    }
    write(text);
    drawnRows = screenRows(text);
  };
  draw();
  const timer = setInterval(draw, REDRAW_MS);
  return {
    stop() {
      clearInterval(timer);
      draw();
    },
  };
}

/** Rows `text` takes on the terminal, counting lines the terminal wraps. */
function screenRows(text: string): number {
  const columns = process.stdout.columns || 80;
  const lines = text.split('\n');
  lines.pop();
  return lines.reduce(
    (rows, line) => rows + Math.max(1, Math.ceil(stripVTControlCharacters(line).length / columns)),
    0,
  );
}

/** `compose down --volumes`, then says what went and checks that nothing of the project is left. */
async function cleanUp(stack: Stack, project: string): Promise<Cleanup> {
  write(`Cleaning up ${project} (compose down --volumes --remove-orphans) ...\n`);
  const before = await projectObjects(project);
  let after = before;
  // A second try for a container that was still stopping and held a network endpoint.
  for (let attempt = 1; attempt <= 2 && namesOf(after).length > 0; attempt++) {
    await stack.down().catch((error: Error) => {
      process.stderr.write(`compose down: ${error.message.trim().split('\n').at(-1)}\n`);
    });
    after = await projectObjects(project);
  }
  const gone = (names: string[], left: string[]) => names.filter((name) => !left.includes(name));
  const removed = {
    containers: gone(before.containers, after.containers),
    networks: gone(before.networks, after.networks),
    volumes: gone(before.volumes, after.volumes),
  };
  const list = (names: string[]) => (names.length === 0 ? 'none' : names.join(', '));
  write(`Removed containers: ${list(removed.containers)}\n`);
  write(`Removed networks: ${list(removed.networks)}\n`);
  write(`Removed volumes: ${list(removed.volumes)}\n`);
  const left = namesOf(after);
  if (left.length > 0) write(`STILL THERE, remove with: docker-compose -p ${project} down --volumes: ${list(left)}\n`);
  return { ...removed, left };
}

const namesOf = (objects: { containers: string[]; networks: string[]; volumes: string[] }) => [
  ...objects.containers,
  ...objects.networks,
  ...objects.volumes,
];

async function projectObjects(project: string) {
  const filter = `label=com.docker.compose.project=${project}`;
  const names = async (format: string, ...args: string[]) =>
    (await docker(...args, '--filter', filter, '--format', format).catch(() => '')).split('\n').filter(Boolean).sort();
  return {
    containers: await names('{{.Names}}', 'ps', '--all'),
    networks: await names('{{.Name}}', 'network', 'ls'),
    volumes: await names('{{.Name}}', 'volume', 'ls'),
  };
}
