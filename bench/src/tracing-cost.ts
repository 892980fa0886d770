import type { BenchContext } from './bench-run.ts';
import {
  SAMPLING_RATIO,
  seedDeployment,
  startLoadgen,
  startMicroservices,
  startMonolith,
  startOtlpSink,
  TRACING,
} from './deployments.ts';
import { type Figures, measureSideBySide, type Target } from './measure.ts';
import type { Row, Table } from './report.ts';
import { BenchSession } from './session.ts';

const ROUTES = [
  { name: 'GET /api/hello', target: (): Omit<Target, 'baseUrl'> => ({ method: 'GET', path: '/api/hello' }) },
  {
    name: 'GET /api/users/:id',
    target: (ids: string[]): Omit<Target, 'baseUrl'> => ({ method: 'GET', path: '/api/users/:id', ids }),
  },
] as const;

const LEVELS = [
  { tracing: 'full', label: 'traced 100%' },
  { tracing: 'ratio', label: `traced ${SAMPLING_RATIO}` },
] as const;

const SEEDED_USERS = 50;

/**
 * Throughput at saturation with every service traced, at 100% and at docker-compose.yml's
 * sampling, against the run's untraced figures. The traced deployments get a network of
 * their own (the same aliases as the untraced ones, which keep running idle), its own
 * load generator on the same core, and an OTLP sink there too.
 */
export async function measureTracingCost(
  { session: main, options, log }: BenchContext,
  untraced: Readonly<Record<string, Figures[]>>,
): Promise<Table> {
  // The main session's builds: an image this run built once is not built again.
  const session = new BenchSession(`${main.name}-traced`, { images: main.images });
  const rows: Row[] = [];
  const traced = new Map<string, Figures[][]>(ROUTES.map((route) => [route.name, []]));
  try {
    await session.createNetwork();
    const loadgen = await startLoadgen(session);
    await startOtlpSink(session);
    for (const { tracing, label } of LEVELS) {
      log(`tracing cost: ${label}`);
      const micro = await startMicroservices(session, `-${tracing}`, TRACING[tracing]);
      const mono = await startMonolith(session, `-${tracing}`, TRACING[tracing]);
      const deployments = [micro, mono];
      const ids = await Promise.all(deployments.map((d) => seedDeployment(d, SEEDED_USERS)));
      for (const route of ROUTES) {
        const targets = deployments.map((d, i) => ({ baseUrl: d.baseUrl, ...route.target(ids[i] ?? []) }));
        traced.get(route.name)?.push(await measureSideBySide(loadgen, targets, options));
      }
      await session.remove(deployments.flatMap((d) => d.containers));
    }
  } finally {
    await session.teardown();
  }
  for (const route of ROUTES) {
    const base = untraced[route.name] ?? [];
    const rps = (figures: Figures[]) => figures.map((f) => f.rps);
    rows.push({ label: `${route.name} untraced`, unit: 'req/s', values: rps(base) });
    for (const [index, { label }] of LEVELS.entries()) {
      const figures = traced.get(route.name)?.[index] ?? [];
      rows.push({ label: `${route.name} ${label}`, unit: 'req/s', values: rps(figures) });
      rows.push({
        label: `${route.name} ${label}: throughput lost`,
        unit: '%',
        values: figures.map((f, side) => 100 * (1 - f.rps / (base[side]?.rps ?? Number.NaN))),
      });
    }
  }
  return {
    title: 'Tracing cost: throughput at saturation, untraced and traced',
    columns: ['microservices', 'monolith'],
    ratios: [],
    rows,
    notes: [
      `Every service traced (OpenTelemetry, OTLP/HTTP protobuf to a sink on the load generator's core that only reads the bytes), at 100% sampling (parentbased_always_on) and at the ratio .env sets for when tracing is turned on (${TRACING.ratio.OTEL_TRACES_SAMPLER}, ratio ${TRACING.ratio.OTEL_TRACES_SAMPLER_ARG}; docker-compose.yml's default is tracing off, OTEL_SDK_DISABLED=true, so untraced). The untraced figures are the Saturation table's, from the same run; the traced ones come from fresh deployments measured the same way afterwards.`,
      "Spans per traced request through the microservices: 8 for a user (the gateway's HTTP server, Fastify request and handler spans and its attempt; users' server, request and handler spans and the database statement), 6 for hello; the monolith makes 4 for a user. A request that is not sampled still pays for context propagation and the instrumentation hooks.",
    ],
  };
}
