import { mkdirSync, writeFileSync } from 'node:fs';
import { docker, memoryMiB, processMemory } from '@lab/lab-kit/docker';
import {
  ensureImages,
  NGINX_PROXY_IMAGE,
  OTLP_SINK_IMAGE,
  PROXY_IMAGE,
  REPLY_FROM_IMAGE,
  resolveNginxImage,
} from '@lab/lab-kit/images';
import { imageFor, labSetting } from '@lab/lab-kit/lab-env';
import { LOADGEN_IMAGE, runLoad } from '@lab/lab-kit/loadgen';
import { type BenchContext, RESULTS_DIR, runBench } from './bench-run.ts';
import { sourceMapResolver, summariseCpuProfile } from './cpu-profile.ts';
import {
  CPU_LAYOUT,
  type HelloProxy,
  PORTS,
  SAMPLING_RATIO,
  startGatewayDefaults,
  startLoadgen,
  startMicroservices,
  startOtlpSink,
  startProfiledGateway,
  startProxy,
  startTracedGateway,
  TRACING,
} from './deployments.ts';
import { type Figures, measureSideBySide, OPEN_LOOP_CONNECTIONS, type Target } from './measure.ts';
import type { RatioColumn, Report, Row } from './report.ts';

/** Built before anything starts: every column's image and the traced columns' OTLP sink. */
const GATEWAY_BENCH_IMAGES = [
  ...(['hello', 'users', 'gateway'] as const).map((service) => imageFor(service)),
  LOADGEN_IMAGE,
  PROXY_IMAGE,
  REPLY_FROM_IMAGE,
  NGINX_PROXY_IMAGE,
  OTLP_SINK_IMAGE,
];

/** The paths to hello, in column order; every proxy strips /api/hello as the gateway does. */
const COLUMNS = [
  'direct',
  'nginx',
  'reply-from',
  'express',
  'gateway',
  'gateway traced 100%',
  `gateway traced ${SAMPLING_RATIO}`,
  'gateway defaults',
] as const;
const column = (name: (typeof COLUMNS)[number]) => COLUMNS.indexOf(name);
const DIRECT = column('direct');
const GATEWAY = column('gateway');

const GATEWAY_RATIOS: RatioColumn[] = [
  { label: 'gateway / reply-from', numerator: GATEWAY, denominator: column('reply-from') },
  { label: 'gateway / express', numerator: GATEWAY, denominator: column('express') },
  { label: 'gateway / nginx', numerator: GATEWAY, denominator: column('nginx') },
  { label: 'traced 100% / gateway', numerator: column('gateway traced 100%'), denominator: GATEWAY },
  {
    label: `traced ${SAMPLING_RATIO} / gateway`,
    numerator: column(`gateway traced ${SAMPLING_RATIO}`),
    denominator: GATEWAY,
  },
  { label: 'defaults / gateway', numerator: column('gateway defaults'), denominator: GATEWAY },
];
const VERSUS_DIRECT: RatioColumn[] = COLUMNS.slice(1).map((name) => ({
  label: `${name} / direct`,
  numerator: column(name),
  denominator: DIRECT,
}));

/** A pool this large never runs out at half of saturation, so a slow answer does not hold up the next send. */
const PROFILE_S = 5;

const row = (label: string, unit: Row['unit'], figures: Figures[], pick: (f: Figures) => number): Row => ({
  label,
  unit,
  values: figures.map(pick),
});

/**
 * The same hello, asked six ways in the same run: directly; through nginx, a bare
 * Fastify + reply-from proxy and an Express + http-proxy-middleware proxy (the
 * baselines); through the gateway as the benchmarks run it, and as docker-compose.yml does.
 */
async function gatewayBench(context: BenchContext): Promise<Report> {
  const { session, options, log } = context;
  const nginxBase = await resolveNginxImage();
  await ensureImages(GATEWAY_BENCH_IMAGES, session.images);
  await session.createNetwork();
  const loadgen = await startLoadgen(session);
  // users is there only because the gateway's readiness wants both upstreams; no request goes to it.
  const micro = await startMicroservices(session);
  const sink = await startOtlpSink(session);
  const tracedFull = await startTracedGateway(session, 'full');
  const tracedDefault = await startTracedGateway(session, 'ratio');
  const defaults = await startGatewayDefaults(session);
  const nginx = await startProxy(session, 'nginx');
  const replyFrom = await startProxy(session, 'reply-from');
  const express = await startProxy(session, 'express');
  const nginxVersion = await docker('exec', nginx.container.id, 'sh', '-c', 'nginx -v 2>&1');
  log(`all paths ready; ${nginxVersion} from ${nginxBase}`);

  // In COLUMNS order, after direct.
  const proxies: HelloProxy[] = [
    nginx,
    replyFrom,
    express,
    { container: micro.gateway, baseUrl: micro.baseUrl },
    tracedFull,
    tracedDefault,
    defaults,
  ];
  const targets: Target[] = [
    { baseUrl: `http://hello:${PORTS.hello}`, method: 'GET', path: '/' },
    ...proxies.map((proxy): Target => ({ baseUrl: proxy.baseUrl, method: 'GET', path: '/api/hello' })),
  ];
  const memory = () => Promise.all(proxies.map((proxy) => processMemory(proxy.container.id)));

  const idle = await memory();
  const idleContainers = await Promise.all(proxies.map((proxy) => memoryMiB([proxy.container.id])));
  log('saturation');
  const saturated = await measureSideBySide(loadgen, targets, options);
  const peak = await memory();

  const rate = Math.max(1, Math.round(0.5 * (saturated[GATEWAY]?.rps ?? 0)));
  log(`open loop at ${rate} req/s`);
  const paced = await measureSideBySide(
    loadgen,
    targets.map((t) => ({ ...t, rate, paced: true })),
    { ...options, warmupS: 1, connections: OPEN_LOOP_CONNECTIONS },
  );
  const direct = paced[DIRECT] as Figures;

  log(`CPU profile of the gateway under ${PROFILE_S} s of saturation`);
  const profiled = await startProfiledGateway(session);
  await runLoad(loadgen.id, {
    ...(targets[GATEWAY] as Target),
    baseUrl: profiled.baseUrl,
    connections: options.connections,
    durationS: PROFILE_S,
  });
  const { exitCode, profile, sourceMap } = await profiled.stop();
  const exported = JSON.parse(
    await docker(
      'exec',
      sink.id,
      'node',
      '-e',
      "fetch('http://127.0.0.1:4318/stats').then(r=>r.text()).then(console.log)",
    ),
  ) as { exports: number; bytes: number };
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(`${RESULTS_DIR}/gateway.cpuprofile`, profile);
  const summary = summariseCpuProfile(
    JSON.parse(profile),
    sourceMap ? { resolve: sourceMapResolver(JSON.parse(sourceMap), 'main.js') } : {},
  );

  return {
    title: 'The gateway against nginx and plain Node proxies, measured',
    setup: [
      ...context.machine,
      `CPU: the load generator (in a container on the same Docker network) on core ${CPU_LAYOUT.loadgen}; hello and the proxy under test share core ${CPU_LAYOUT.deployment} (the other proxies sit idle there). Only one path is under load at a time.`,
      `Paths to the same hello: direct; nginx (${nginxVersion.replace('nginx version: ', '')}, image ${nginxBase}, 1 worker, 64 kept-alive upstream connections, access log off); Fastify 5 + @fastify/reply-from (undici pool); Express 5 + http-proxy-middleware (kept-alive agent); the gateway with LOG_LEVEL=warn and RATE_LIMIT_ENABLED=false; the gateway with docker-compose.yml's defaults (LOG_LEVEL=info, rate limiting on at its default 600000 a minute per client, which the load stays below). Every proxy strips /api/hello and has the gateway's 256 MiB limit and hardening.`,
      `Tracing: the two traced gateways are the benchmark's gateway with OpenTelemetry on, exporting OTLP/HTTP protobuf to a sink that only reads the bytes (bench/otlp-sink, on the load generator's core): one at 100% sampling (parentbased_always_on), one at the ratio .env sets for when tracing is turned on (${TRACING.ratio.OTEL_TRACES_SAMPLER}, ratio ${TRACING.ratio.OTEL_TRACES_SAMPLER_ARG}). Spans per request through the gateway: the HTTP server span, @fastify/otel's request and handler spans and one undici client span per attempt; hello is shared and untraced, so this is the gateway's own cost. The sink received ${exported.exports} exports, ${(exported.bytes / 1024 / 1024).toFixed(1)} MB, in the run. "gateway defaults" traces as .env says (OTEL_SDK_DISABLED=${labSetting('OTEL_SDK_DISABLED')}).`,
      `Saturation: autocannon 9, ${options.connections} connections, closed loop; throughput counts 2xx only, percentiles from every response.`,
      `Open loop: ${rate} req/s (50% of the gateway's saturation) sent evenly paced by bench/loadgen/open-loop.mjs over ${OPEN_LOOP_CONNECTIONS} kept-alive connections (undici Pool); each latency runs from the request's scheduled send time, not its actual one, so queueing is counted (coordinated omission corrected, as wrk2 does). The first 0.5 s of each run is sent but not recorded.`,
    ],
    tables: [
      {
        title: 'GET hello at saturation',
        columns: [...COLUMNS],
        ratios: [...GATEWAY_RATIOS, ...VERSUS_DIRECT],
        rows: [
          row('throughput', 'req/s', saturated, (f) => f.rps),
          row('p50', 'ms', saturated, (f) => f.p50),
          row('p99', 'ms', saturated, (f) => f.p99),
          row('failed requests, all rounds', 'requests', saturated, (f) => f.failed),
        ],
      },
      {
        title: `GET hello, open loop at ${rate} req/s (50% of the gateway's saturation)`,
        columns: [...COLUMNS],
        ratios: VERSUS_DIRECT,
        rows: [
          ...(['p50', 'p90', 'p99', 'max'] as const).map((p) => row(p, 'ms', paced, (f) => f[p])),
          row('p50 added vs direct', 'ms', paced, (f) => f.p50 - direct.p50),
          row('achieved', 'req/s', paced, (f) => f.rps),
          row('failed requests, all rounds', 'requests', paced, (f) => f.failed),
          row("generator's send lag p99", 'ms', paced, (f) => f.sendLagP99),
        ],
        notes: [
          'Each figure is the median over the rounds (max too). The ratio columns read "p99 / direct p99" on the p99 row.',
          "Send lag is how late the generator itself sent (after the scheduled time); near zero means one core of Node kept the pace, and the latencies are the paths', not the generator's.",
        ],
      },
      {
        title: 'Memory of the proxy process (RSS)',
        columns: [...COLUMNS],
        ratios: GATEWAY_RATIOS,
        // No proxy on the direct path: n/a.
        rows: [
          { label: 'idle, before any load', unit: 'MiB', values: [Number.NaN, ...idle.map((m) => m.rssMiB)] },
          {
            label: 'idle, private to the process',
            unit: 'MiB',
            values: [Number.NaN, ...idle.map((m) => m.privateMiB)],
          },
          {
            label: 'idle, the container (docker stats)',
            unit: 'MiB',
            values: [Number.NaN, ...idleContainers],
          },
          {
            label: 'peak, after the saturation rounds',
            unit: 'MiB',
            values: [Number.NaN, ...peak.map((m) => m.peakMiB)],
          },
        ],
        notes: [
          'Read from /proc inside each container: VmRSS before the load, VmHWM (the most the process has held since it started) after the saturation rounds; "private" is RssAnon, without the pages of the node (or nginx) binary that every such process shares. nginx is master + worker summed, shared pages counted twice. The container figure is `docker stats`, what a memory limit is held against. The gateway and the Node proxies run under a 256 MiB limit.',
        ],
      },
      {
        title: `Gateway CPU profile: top ${summary.top.length} functions by self time`,
        columns: ['share of busy CPU time'],
        ratios: [],
        rows: summary.top.map((f) => ({
          label: f.location ? `${f.functionName} ${f.location}` : f.functionName,
          unit: '%',
          values: [f.selfPercent],
        })),
        notes: [
          `\`node --cpu-prof\` on a third gateway with the benchmark settings, from start to a SIGTERM (exit code ${exitCode}) after ${PROFILE_S} s of saturation (autocannon, ${options.connections} connections); ${summary.samples} samples, ${(summary.totalMs / 1000).toFixed(1)} s of which ${(summary.idleMs / 1000).toFixed(1)} s idle. Shares are of the busy time. ${sourceMap ? 'Bundle positions are mapped back through main.js.map.' : 'The image has no main.js.map, so locations are bundle positions.'}`,
          'Raw profile: bench/results/gateway.cpuprofile (open it in Chrome DevTools > Performance, or VS Code).',
        ],
      },
    ],
  };
}

await runBench('gateway', gatewayBench);
