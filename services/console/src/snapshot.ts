import type { Figures, HealthColour, LiveSnapshot, ReplicaNode, ServiceNode } from './live-types.ts';
import type { PollerView, ReplicaObservation, TopologyInstance, TopologyUpstream } from './poller.ts';
import { hostPort, portOf } from './poller.ts';
import { type RequestRouting, recentRequests } from './recent-requests.ts';
import { figuresOf } from './stats-series.ts';
import type { TraceStore } from './trace-store.ts';

/** Until the gateway first answers, the services it fronts are these (its defaults). */
const DEFAULT_UPSTREAMS = [
  { name: 'hello', prefix: '/api/hello' },
  { name: 'users', prefix: '/api/users' },
] as const;

const STORES: Readonly<Record<string, string>> = { users: 'users-data volume', monolith: 'monolith-data volume' };

const SEVERITY: Readonly<Record<HealthColour, number>> = { grey: 0, green: 1, amber: 2, red: 3 };
const worst = (colours: readonly HealthColour[]): HealthColour =>
  colours.reduce<HealthColour>((a, b) => (SEVERITY[b] > SEVERITY[a] ? b : a), 'grey');

/** Errors at or past these percentages turn a replica amber, then red. */
const AMBER_ERROR_PERCENT = 5;
const RED_ERROR_PERCENT = 50;

export function replicaHealth(
  state: { reachable: boolean | null; ready: boolean | null; ejected: boolean },
  figures: Figures,
): HealthColour {
  if (state.reachable === null) return 'grey';
  const errors = figures.errorPercent ?? 0;
  if (!state.reachable || state.ready === false || state.ejected || errors >= RED_ERROR_PERCENT) return 'red';
  if (state.ready === null || errors >= AMBER_ERROR_PERCENT) return 'amber';
  return 'green';
}

/** A replica as the page shows it, with the IP the console reaches its lab port on. */
export interface ReplicaEntry {
  node: ReplicaNode;
  ip: string;
}

function upstreamReplica(
  instance: TopologyInstance,
  port: number,
  observation: Readonly<ReplicaObservation> | undefined,
  topologyFresh: boolean,
): ReplicaEntry {
  const figures = figuresOf([observation?.series.delta() ?? null]);
  // While the gateway does not answer, its last word on readiness is no longer news.
  const ready = topologyFresh ? instance.ready : null;
  const node: ReplicaNode = {
    id: instance.instance ?? observation?.series.latest()?.instance ?? instance.address,
    address: hostPort(instance.address, port),
    ready,
    ejected: instance.ejected,
    inFlight: instance.inFlight,
    health: replicaHealth({ reachable: observation?.reachable ?? null, ready, ejected: instance.ejected }, figures),
    figures,
    restarts: observation?.series.restarts.count ?? 0,
    restartedAt: observation?.series.restarts.at ?? null,
    faultsAvailable: observation?.faultsAvailable ?? false,
    faults: observation?.faults ?? null,
  };
  return { node, ip: instance.address };
}

function monolithReplica(observation: Readonly<ReplicaObservation>): ReplicaEntry {
  const figures = figuresOf([observation.series.delta()]);
  const node: ReplicaNode = {
    id: observation.series.latest()?.instance ?? observation.ip,
    address: observation.address,
    ready: observation.ready,
    ejected: false,
    inFlight: 0,
    health: replicaHealth({ ...observation, ejected: false }, figures),
    figures,
    restarts: observation.series.restarts.count,
    restartedAt: observation.series.restarts.at,
    faultsAvailable: observation.faultsAvailable,
    faults: observation.faults,
  };
  return { node, ip: observation.ip };
}

interface ServiceEntry {
  node: ServiceNode;
  replicas: ReplicaEntry[];
}

function upstreamService(upstream: TopologyUpstream, view: PollerView): ServiceEntry {
  const port = portOf(upstream.baseUrl);
  const replicas = upstream.instances.map((instance) =>
    upstreamReplica(instance, port, view.replicas.get(hostPort(instance.address, port)), view.gateway.topologyFresh),
  );
  const health =
    upstream.breaker === 'open' || replicas.length === 0 ? 'red' : worst(replicas.map(({ node }) => node.health));
  return {
    node: {
      name: upstream.name,
      health,
      breaker: upstream.breaker,
      ejections: upstream.instances.reduce((sum, instance) => sum + instance.ejections, 0),
      retries: upstream.retries,
      retriesByReason: view.gateway.retriesByReason.get(upstream.name) ?? {},
      figures: figuresOf(replicas.map(({ ip }) => view.replicas.get(hostPort(ip, port))?.series.delta() ?? null)),
      replicas: replicas.map(({ node }) => node),
      store: STORES[upstream.name] ?? null,
    },
    replicas,
  };
}

function unknownService(name: string): ServiceEntry {
  return {
    node: {
      name,
      health: 'grey',
      breaker: null,
      ejections: 0,
      retries: 0,
      retriesByReason: {},
      figures: figuresOf([]),
      replicas: [],
      store: STORES[name] ?? null,
    },
    replicas: [],
  };
}

function monolithService(view: PollerView): ServiceEntry | null {
  if (view.monolith === null) return null;
  const replicas = view.monolith.map(monolithReplica);
  return {
    node: {
      name: 'monolith',
      health: replicas.length === 0 ? 'red' : worst(replicas.map(({ node }) => node.health)),
      breaker: null,
      ejections: 0,
      retries: 0,
      retriesByReason: {},
      figures: figuresOf(view.monolith.map((replica) => replica.series.delta())),
      replicas: replicas.map(({ node }) => node),
      store: STORES.monolith ?? null,
    },
    replicas,
  };
}

/** The services behind the gateway, in its topology's order, then the twin when it runs. */
export function serviceEntries(view: PollerView): { services: ServiceEntry[]; monolith: ServiceEntry | null } {
  const topology = view.gateway.topology;
  const services = topology
    ? topology.upstreams.map((upstream) => upstreamService(upstream, view))
    : DEFAULT_UPSTREAMS.map(({ name }) => unknownService(name));
  return { services, monolith: monolithService(view) };
}

/** The replicas a fault request for this service may target, or undefined for an unknown service. */
export function faultTargets(view: PollerView, service: string): ReplicaEntry[] | undefined {
  const { services, monolith } = serviceEntries(view);
  return [...services, ...(monolith ? [monolith] : [])].find(({ node }) => node.name === service)?.replicas;
}

export function requestRouting(view: PollerView): RequestRouting {
  const topology = view.gateway.topology;
  const idByIp = new Map<string, string>();
  for (const upstream of topology?.upstreams ?? []) {
    for (const instance of upstream.instances) {
      const stats = view.replicas.get(hostPort(instance.address, portOf(upstream.baseUrl)))?.series.latest();
      const id = instance.instance ?? stats?.instance;
      if (id) idByIp.set(instance.address, id);
    }
  }
  return {
    upstreams: topology?.upstreams ?? DEFAULT_UPSTREAMS,
    replicaIdOf: (address) => idByIp.get(address) ?? null,
  };
}

function gatewayHealth({ reachable, ready }: PollerView['gateway']): HealthColour {
  if (reachable === null) return 'grey';
  if (!reachable || ready === false) return 'red';
  return ready === true ? 'green' : 'amber';
}

export function buildSnapshot(view: PollerView, store: TraceStore, now: number): LiveSnapshot {
  const { gateway } = view;
  const { services, monolith } = serviceEntries(view);
  const users = gateway.topology?.upstreams.find((upstream) => upstream.name === 'users');
  return {
    at: now,
    gateway: {
      reachable: gateway.reachable === true,
      instance: gateway.topology?.gateway.instance ?? gateway.series.latest()?.instance ?? null,
      // Its own readiness only: users failing must not paint the gateway red while hello is fine.
      health: gatewayHealth(gateway),
      figures: figuresOf([gateway.series.delta()]),
    },
    services: services.map(({ node }) => node),
    monolith: monolith?.node ?? null,
    recent: recentRequests(store, requestRouting(view)),
    traces: store.stats(),
    scaleCommand: `docker compose up -d --scale users=${users ? users.instances.length : 1}`,
  };
}
