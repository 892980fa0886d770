import { imageBytes, memoryMiB } from '@lab/lab-kit/docker';
import { imageFor, resolveNodeImage, SERVICES } from '@lab/lab-kit/lab-env';
import { sleep } from '@lab/lab-kit/wait';
import { type BenchContext, benchBuild, buildImages, runBench, serviceBuilds } from './bench-run.ts';
import { blastRadiusNote, measureBlastRadius } from './blast-radius.ts';
import {
  CPU_LAYOUT,
  type Deployment,
  PORTS,
  seedUsers,
  startLoadgen,
  startMicroservices,
  startMonolith,
} from './deployments.ts';
import { type Figures, measureSideBySide, type Target } from './measure.ts';
import type { Report, Row, Table } from './report.ts';
import { type Container, LOADGEN_IMAGE, setCpuset } from './session.ts';

interface Route {
  name: string;
  target: (ids: string[]) => Omit<Target, 'baseUrl'>;
}

const ROUTES: Route[] = [
  { name: 'GET /api/hello', target: () => ({ method: 'GET', path: '/api/hello' }) },
  { name: 'GET /api/users/:id', target: (ids) => ({ method: 'GET', path: '/api/users/:id', ids }) },
  { name: 'POST /api/users', target: () => ({ method: 'POST', path: '/api/users', createUsers: true }) },
];

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
  await buildImages(context, [...serviceBuilds(SERVICES), benchBuild(LOADGEN_IMAGE, 'loadgen')]);
  await session.createNetwork();
  const loadgen = await startLoadgen(session);

  // One after the other, so neither cold start competes with the other for the core.
  const micro = await startMicroservices(session);
  log(`microservices healthy in ${Math.round(micro.coldStartMs)} ms`);
  const mono = await startMonolith(session);
  log(`monolith healthy in ${Math.round(mono.coldStartMs)} ms`);
  const deployments: Deployment[] = [micro, mono];
  const ids = await Promise.all(deployments.map((d) => seedUsers(d, SEEDED_USERS)));

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
  for (const route of ROUTES) {
    const rate = Math.max(1, Math.round(0.5 * (saturated[route.name]?.[1]?.rps ?? 0)));
    log(`fixed rate: ${route.name} at ${rate} req/s`);
    const targets = deployments.map((d, i) => ({ baseUrl: d.baseUrl, rate, ...route.target(ids[i] ?? []) }));
    const figures = await measureSideBySide(loadgen, targets, { ...options, warmupS: 0 });
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
    ].map((target): Target => ({ ...target, method: 'GET', rate: hopRate })),
    { ...options, warmupS: 0 },
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

  log('blast radius: SIGKILL users (microservices) and the monolith process, at the same time');
  // The load generator is idle meanwhile, so each deployment gets a core of its own and both run at once.
  await setCpuset(micro.containers, CPU_LAYOUT.loadgen);
  const [microBlast, monoBlast] = await Promise.all([
    measureBlastRadius(
      micro,
      micro.users,
      ids[0]?.[0] ?? '',
      options.blastWindowS,
      `${micro.users[0]?.hostUrl}/health/ready`,
    ),
    measureBlastRadius(mono, mono.containers, ids[1]?.[0] ?? '', options.blastWindowS, `${mono.hostUrl}/health/ready`),
  ]);
  await setCpuset(micro.containers, CPU_LAYOUT.deployment);
  const blast: Table = {
    title: `Blast radius: SIGKILL users (microservices) vs the monolith process, next ${options.blastWindowS} s`,
    columns: SIDES,
    ratios: [],
    rows: [
      { label: 'hello availability', unit: '%', values: [microBlast.helloAvailability, monoBlast.helloAvailability] },
      { label: 'users availability', unit: '%', values: [microBlast.usersAvailability, monoBlast.usersAvailability] },
      { label: 'users answers again after', unit: 'ms', values: [microBlast.usersBackMs, monoBlast.usersBackMs] },
      { label: 'last users failure after', unit: 'ms', values: [microBlast.usersSteadyMs, monoBlast.usersSteadyMs] },
      {
        label: 'users answers again, after the service is ready',
        unit: 'ms',
        values: [microBlast.usersBackAfterReadyMs, monoBlast.usersBackAfterReadyMs],
      },
    ],
    notes: [blastRadiusNote],
  };

  const scalingFigures: Figures[] = [saturated['GET /api/users/:id']?.[0] as Figures];
  for (const replicas of [2, 3]) {
    await micro.addUsersReplica();
    log(`scaling: ${replicas} users replicas`);
    const [figures] = await measureSideBySide(
      loadgen,
      [{ baseUrl: micro.baseUrl, ...(ROUTES[1] as Route).target(ids[0] ?? []) }],
      options,
    );
    scalingFigures.push(figures as Figures);
  }
  const scaling: Table = {
    title: 'Scaling users behind the gateway: GET /api/users/:id at saturation',
    columns: ['1 replica', '2 replicas', '3 replicas'],
    ratios: [
      { label: '2 / 1', numerator: 1, denominator: 0 },
      { label: '3 / 1', numerator: 2, denominator: 0 },
    ],
    rows: [
      { label: 'throughput', unit: 'req/s', values: scalingFigures.map((f) => f.rps) },
      { label: 'p99', unit: 'ms', values: scalingFigures.map((f) => f.p99) },
    ],
    notes: [
      `Every replica shares the deployment's one core (${CPU_LAYOUT.deployment}) with the gateway: on this 2-core machine more replicas add processes, not CPU, so this shows the cost of the extra replicas and the gateway's ceiling, not what scaling out across machines would give.`,
    ],
  };

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
      {
        label: 'cold start: docker run to first 200 on /health/ready',
        unit: 'ms',
        values: [micro.coldStartMs, mono.coldStartMs],
      },
    ],
    notes: [
      'Memory is `docker stats --no-stream` summed over the deployment\'s containers; "under load" is the largest sum seen during the saturation warm-ups.',
      'Cold start is one sample per deployment; for the microservices it ends when the gateway reports both upstreams ready.',
    ],
  };

  return {
    title: 'Monolith vs microservices, measured',
    setup: [
      ...context.machine,
      `CPU: the load generator (autocannon 9, ${options.connections} connections, in a container on the same Docker network) is pinned to core ${CPU_LAYOUT.loadgen}; each deployment gets core ${CPU_LAYOUT.deployment} in total (gateway + hello + users share it; the monolith has it alone). Only one deployment is under load at a time, except in the blast-radius test, where the idle load generator's core goes to the microservices so both crashes run at once, one core each.`,
      'Same images, memory limits and hardening as docker-compose.yml; LOG_LEVEL=warn (no per-request log lines), RATE_LIMIT_ENABLED=false on the gateway.',
      'Throughput counts 2xx responses only; latency percentiles are computed from every response (not coordinated-omission corrected).',
      `Fixed rate is 50% of the monolith's saturation throughput for that route, the same for both; the hop is measured at 50% of the gateway's hello saturation.`,
    ],
    tables: [saturation, fixedRate, hop, footprint, blast, scaling],
  };
}

await runBench('compare', compare);
