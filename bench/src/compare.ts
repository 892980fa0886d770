import { imageBytes, memoryMiB } from '@lab/lab-kit/docker';
import { ensureImages, OTLP_SINK_IMAGE } from '@lab/lab-kit/images';
import { imageFor, resolveNodeImage, SERVICES } from '@lab/lab-kit/lab-env';
import { LOADGEN_IMAGE } from '@lab/lab-kit/loadgen';
import { spread } from '@lab/lab-kit/stats';
import { sleep } from '@lab/lab-kit/wait';
import { type BenchContext, runBench } from './bench-run.ts';
import { type BlastRadius, blastRadiusNote, measureBlastRadius } from './blast-radius.ts';
import {
  CPU_LAYOUT,
  type Deployment,
  PORTS,
  seedDeployment,
  startLoadgen,
  startMicroservices,
  startMonolith,
} from './deployments.ts';
import { type Figures, measureSideBySide, OPEN_LOOP_CONNECTIONS, type Target } from './measure.ts';
import type { Report, Row, Table } from './report.ts';
import { measureScaling } from './scaling.ts';
import { type Container, setCpuset } from './session.ts';
import { measureTracingCost } from './tracing-cost.ts';

interface Route {
  name: string;
  target: (ids: string[]) => Omit<Target, 'baseUrl'>;
}

const ROUTES: Route[] = [
  { name: 'GET /api/hello', target: () => ({ method: 'GET', path: '/api/hello' }) },
  { name: 'GET /api/users/:id', target: (ids) => ({ method: 'GET', path: '/api/users/:id', ids }) },
  { name: 'POST /api/users', target: () => ({ method: 'POST', path: '/api/users', createUsers: true }) },
];

/** Built before anything starts; the tracing section runs the OTLP sink. */
const COMPARE_IMAGES = [...SERVICES.map((service) => imageFor(service)), LOADGEN_IMAGE, OTLP_SINK_IMAGE];

/** Enough distinct users that GETs do not all hit one row. */
const SEEDED_USERS = 50;

const SIDES = ['microservices', 'monolith'];
const SIDE_RATIO = [{ label: 'micro / mono', numerator: 0, denominator: 1 }];

const loadRows = (route: string, [micro, mono]: Figures[], withRps = true): Row[] => {
  const m = micro as Figures;
  const o = mono as Figures;
  return [
    ...(withRps ? [{ label: `${route} throughput`, unit: 'req/s' as const, values: [m.rps, o.rps] }] : []),
    { label: `${route} p50`, unit: 'ms', values: [m.p50, o.p50] },
    { label: `${route} p90`, unit: 'ms', values: [m.p90, o.p90] },
    { label: `${route} p99`, unit: 'ms', values: [m.p99, o.p99] },
  ];
};

async function compare(context: BenchContext): Promise<Report> {
  const { session, options, log } = context;
  await ensureImages(COMPARE_IMAGES, session.images);
  await session.createNetwork();
  const loadgen = await startLoadgen(session);

  // One after the other, so neither cold start competes with the other for the core. The
  // first samples are started and removed again; the last pair is the one measured below.
  const coldStarts: Record<'microservices' | 'monolith', number[]> = { microservices: [], monolith: [] };
  for (let sample = 1; sample < options.samples; sample++) {
    for (const start of [startMicroservices, startMonolith]) {
      const deployment = await start(session, `-cold${sample}`);
      coldStarts[deployment.name as keyof typeof coldStarts].push(deployment.coldStartMs);
      await session.remove(deployment.containers);
    }
  }
  const micro = await startMicroservices(session);
  const mono = await startMonolith(session);
  coldStarts.microservices.push(micro.coldStartMs);
  coldStarts.monolith.push(mono.coldStartMs);
  log(
    `cold starts: microservices ${coldStarts.microservices.map(Math.round).join(', ')} ms; monolith ${coldStarts.monolith.map(Math.round).join(', ')} ms`,
  );
  const deployments: Deployment[] = [micro, mono];
  const ids = await Promise.all(deployments.map((d) => seedDeployment(d, SEEDED_USERS)));

  await sleep(1000);
  const containersMiB = (containers: Container[]) => memoryMiB(containers.map((c) => c.id));
  const idle = await Promise.all(deployments.map((d) => containersMiB(d.containers)));
  const underLoad = [0, 0];
  const sampleMemory = async (index: number) => {
    await sleep(300);
    const mib = await containersMiB((deployments[index] as Deployment).containers);
    underLoad[index] = Math.max(underLoad[index] ?? 0, mib);
  };

  const saturation: Table = { title: 'Saturation', columns: SIDES, ratios: SIDE_RATIO, rows: [] };
  const fixedRate: Table = {
    title: 'Fixed rate: 50% of the monolith saturation',
    columns: SIDES,
    ratios: SIDE_RATIO,
    rows: [],
  };
  const saturated: Record<string, Figures[]> = {};
  for (const route of ROUTES) {
    log(`saturation: ${route.name}`);
    const targets = deployments.map((d, i) => ({ baseUrl: d.baseUrl, ...route.target(ids[i] ?? []) }));
    const figures = await measureSideBySide(loadgen, targets, options, sampleMemory);
    saturated[route.name] = figures;
    saturation.rows.push(...loadRows(route.name, figures));
  }
  const pacedOptions = { ...options, warmupS: 0, connections: OPEN_LOOP_CONNECTIONS };
  for (const route of ROUTES) {
    const rate = Math.max(1, Math.round(0.5 * (saturated[route.name]?.[1]?.rps ?? 0)));
    log(`fixed rate: ${route.name} at ${rate} req/s`);
    const targets = deployments.map((d, i) => ({
      baseUrl: d.baseUrl,
      rate,
      paced: true,
      ...route.target(ids[i] ?? []),
    }));
    const figures = await measureSideBySide(loadgen, targets, pacedOptions);
    fixedRate.rows.push({ label: `${route.name} rate`, unit: 'req/s', values: [rate, rate] });
    fixedRate.rows.push(...loadRows(route.name, figures, false));
    fixedRate.rows.push({ label: `${route.name} achieved`, unit: 'req/s', values: figures.map((f) => f.rps) });
  }

  // The hop: the same hello, straight from the load generator (it sits on the backend network) and through the gateway.
  const hopRate = Math.max(1, Math.round(0.5 * (saturated['GET /api/hello']?.[0]?.rps ?? 0)));
  log(`network hop at ${hopRate} req/s`);
  const [direct, viaGateway] = (await measureSideBySide(
    loadgen,
    [
      { baseUrl: `http://hello:${PORTS.hello}`, method: 'GET', path: '/' },
      { baseUrl: micro.baseUrl, method: 'GET', path: '/api/hello' },
    ].map((target): Target => ({ ...target, method: 'GET', rate: hopRate, paced: true })),
    pacedOptions,
  )) as [Figures, Figures];
  const hop: Table = {
    title: `One network hop: hello directly vs through the gateway, at ${hopRate} req/s`,
    columns: ['hello directly', 'through the gateway'],
    ratios: [{ label: 'gateway / direct', numerator: 1, denominator: 0 }],
    rows: (['p50', 'p90', 'p99'] as const).map((p) => ({
      label: `${p} (gateway adds ${(viaGateway[p] - direct[p]).toFixed(2)} ms)`,
      unit: 'ms',
      values: [direct[p], viaGateway[p]],
    })),
  };

  log(
    `blast radius: SIGKILL users (microservices) and the monolith process, at the same time, ${options.samples} times`,
  );
  // The load generator is idle meanwhile, so each deployment gets a core of its own and both run at once.
  await setCpuset(micro.containers, CPU_LAYOUT.loadgen);
  const blasts: { microservices: BlastRadius[]; monolith: BlastRadius[] } = { microservices: [], monolith: [] };
  for (let sample = 0; sample < options.samples; sample++) {
    // Docker doubles its restart delay for a container that crashes again within 10 s of its last start.
    if (sample > 0) await sleep(3000);
    const [microBlast, monoBlast] = await Promise.all([
      measureBlastRadius(
        micro,
        micro.users,
        ids[0]?.[0] ?? '',
        options.blastWindowS,
        `${micro.users[0]?.hostUrl}/health/ready`,
      ),
      measureBlastRadius(
        mono,
        mono.containers,
        ids[1]?.[0] ?? '',
        options.blastWindowS,
        `${mono.hostUrl}/health/ready`,
      ),
    ]);
    blasts.microservices.push(microBlast);
    blasts.monolith.push(monoBlast);
  }
  await setCpuset(micro.containers, CPU_LAYOUT.deployment);
  const spreadRows = (label: string, unit: Row['unit'], samples: [number[], number[]]): Row[] => {
    const [m, o] = samples.map(spread) as [ReturnType<typeof spread>, ReturnType<typeof spread>];
    return [
      { label: `${label}, median`, unit, values: [m.median, o.median] },
      { label: `${label}, min`, unit, values: [m.min, o.min] },
      { label: `${label}, max`, unit, values: [m.max, o.max] },
    ];
  };
  const blastRows = (label: string, unit: Row['unit'], pick: (b: BlastRadius) => number) =>
    spreadRows(label, unit, [blasts.microservices.map(pick), blasts.monolith.map(pick)]);
  const blast: Table = {
    title: `Blast radius: SIGKILL users (microservices) vs the monolith process, next ${options.blastWindowS} s, ${options.samples} crashes each`,
    columns: SIDES,
    ratios: [],
    rows: [
      ...blastRows('hello availability', '%', (b) => b.helloAvailability),
      ...blastRows('users availability', '%', (b) => b.usersAvailability),
      ...blastRows('users answers again after', 'ms', (b) => b.usersBackMs),
      ...blastRows('last users failure after', 'ms', (b) => b.usersSteadyMs),
      ...blastRows('users answers again, after the service is ready', 'ms', (b) => b.usersBackAfterReadyMs),
    ],
    notes: [blastRadiusNote],
  };

  const scaling = await measureScaling(session, loadgen, micro, mono, options, log);
  const tracing = await measureTracingCost(context, saturated);

  const base = await imageBytes(resolveNodeImage());
  const microImages = await Promise.all((['gateway', 'hello', 'users'] as const).map((s) => imageBytes(imageFor(s))));
  const monoImage = await imageBytes(imageFor('monolith'));
  const mb = (bytes: number) => bytes / 1e6;
  const footprint: Table = {
    title: 'Footprint and cold start',
    columns: SIDES,
    ratios: SIDE_RATIO,
    rows: [
      { label: 'memory at idle, all containers', unit: 'MiB', values: idle },
      { label: 'memory under load, all containers', unit: 'MiB', values: underLoad },
      { label: 'image sizes, summed', unit: 'MB', values: [mb(microImages.reduce((a, b) => a + b, 0)), mb(monoImage)] },
      {
        label: 'image sizes, base image counted once',
        unit: 'MB',
        values: [mb(base + microImages.reduce((sum, size) => sum + size - base, 0)), mb(monoImage)],
      },
      ...spreadRows('cold start: docker run to first 200 on /health/ready', 'ms', [
        coldStarts.microservices,
        coldStarts.monolith,
      ]),
    ],
    notes: [
      'Memory is `docker stats --no-stream` summed over the deployment\'s containers; "under load" is the largest sum seen during the saturation warm-ups.',
      `Cold start: ${options.samples} samples per deployment, each a fresh set of containers on a fresh volume, one deployment at a time; for the microservices it ends when the gateway reports both upstreams ready.`,
    ],
  };

  return {
    title: 'Monolith vs microservices, measured',
    setup: [
      ...context.machine,
      `CPU: the load generator (autocannon 9, ${options.connections} connections, in a container on the same Docker network) is pinned to core ${CPU_LAYOUT.loadgen}; each deployment gets core ${CPU_LAYOUT.deployment} in total (gateway + hello + users share it; the monolith has it alone). Only one deployment is under load at a time, except in the blast-radius test, where the idle load generator's core goes to the microservices so both crashes run at once, one core each.`,
      'Same images, memory limits and hardening as docker-compose.yml; LOG_LEVEL=warn (no per-request log lines), RATE_LIMIT_ENABLED=false on the gateway.',
      "Throughput counts 2xx responses only. Saturation latencies are timed from each request's send (closed loop: they are queueing at a full server, not what a user at a given rate sees).",
      `Fixed rates are open loop (bench/loadgen/open-loop.mjs, ${OPEN_LOOP_CONNECTIONS} connections): requests leave evenly paced whatever the server does, and each latency runs from the request's scheduled send time, so a stall counts as latency, not as fewer requests (coordinated omission corrected, as wrk2 does). The fixed rate is 50% of the monolith's saturation throughput for that route, the same for both; the hop is measured at 50% of the gateway's hello saturation.`,
      scaling.setup,
    ],
    tables: [saturation, fixedRate, hop, tracing, footprint, blast, ...scaling.tables],
  };
}

await runBench('compare', compare);
