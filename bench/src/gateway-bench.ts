import { type BenchContext, buildImages, runBench } from './bench-run.ts';
import { CPU_LAYOUT, PORTS, startExpressProxy, startLoadgen, startMicroservices } from './deployments.ts';
import { BENCH_ROOT, LOADGEN_IMAGE, PROXY_IMAGE, REPO_ROOT, serviceImage } from './docker.ts';
import { type Figures, measureSideBySide, type Target } from './measure.ts';
import type { Report, Table } from './report.ts';

const COLUMNS = ['hello directly', 'through the gateway', 'through Express + http-proxy-middleware'];
const RATIOS = [
  { label: 'gateway / direct', numerator: 1, denominator: 0 },
  { label: 'express / direct', numerator: 2, denominator: 0 },
  { label: 'gateway / express', numerator: 1, denominator: 2 },
];

const rows = (figures: Figures[], withRps: boolean): Table['rows'] => [
  ...(withRps ? [{ label: 'throughput', unit: 'req/s' as const, values: figures.map((f) => f.rps) }] : []),
  ...(['p50', 'p90', 'p99'] as const).map((p) => ({ label: p, unit: 'ms' as const, values: figures.map((f) => f[p]) })),
];

/** The same hello, asked three ways in the same run: directly, through the gateway, through a plain Express proxy. */
async function gatewayBench(context: BenchContext): Promise<Report> {
  const { session, options, log } = context;
  await buildImages(context, [
    ...(['hello', 'users', 'gateway'] as const).map((s): [string, string, string] => [
      serviceImage(s),
      `services/${s}/Dockerfile`,
      REPO_ROOT,
    ]),
    [LOADGEN_IMAGE, `${BENCH_ROOT}loadgen/Dockerfile`, `${BENCH_ROOT}loadgen`],
    [PROXY_IMAGE, `${BENCH_ROOT}proxy/Dockerfile`, `${BENCH_ROOT}proxy`],
  ]);
  await session.createNetwork();
  const loadgen = await startLoadgen(session);
  // users is there only because the gateway's readiness wants both upstreams; no request goes to it.
  const micro = await startMicroservices(session);
  await startExpressProxy(session);
  const targets: Target[] = [
    { baseUrl: `http://hello:${PORTS.hello}`, method: 'GET', path: '/' },
    { baseUrl: micro.baseUrl, method: 'GET', path: '/api/hello' },
    { baseUrl: `http://express-proxy:${PORTS.proxy}`, method: 'GET', path: '/api/hello' },
  ];
  log('saturation');
  const saturated = await measureSideBySide(loadgen, targets, options);
  // Half the slowest path's ceiling: every path keeps up, so latency shows the hop, not a queue.
  const rate = Math.max(1, Math.round(0.5 * Math.min(...saturated.map((f) => f.rps))));
  log(`fixed rate ${rate} req/s`);
  const fixed = await measureSideBySide(
    loadgen,
    targets.map((t) => ({ ...t, rate })),
    { ...options, warmupS: 1 },
  );
  return {
    title: 'The gateway against a plain proxy, measured',
    setup: [
      ...context.machine,
      `CPU: the load generator (autocannon 9, ${options.connections} connections, in a container on the same Docker network) on core ${CPU_LAYOUT.loadgen}; hello, the gateway and the Express proxy share core ${CPU_LAYOUT.deployment}. Only one path is under load at a time.`,
      'The gateway runs with its defaults and RATE_LIMIT_ENABLED=false; the Express proxy keeps upstream sockets alive, as the gateway does. LOG_LEVEL=warn everywhere.',
      'Throughput counts 2xx responses only; latency percentiles are computed from every response.',
    ],
    tables: [
      { title: 'GET hello at saturation', columns: COLUMNS, ratios: RATIOS, rows: rows(saturated, true) },
      {
        title: `GET hello at a fixed ${rate} req/s (50% of the slowest path's saturation)`,
        columns: COLUMNS,
        ratios: RATIOS,
        rows: [...rows(fixed, false), { label: 'achieved', unit: 'req/s', values: fixed.map((f) => f.rps) }],
      },
    ],
  };
}

await runBench('gateway', gatewayBench);
