import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { ConsoleConfig } from './config.ts';
import { retriesByReason } from './gateway-metrics.ts';
import type { FaultSettings } from './live-types.ts';
import { parseServiceStats, StatsSeries } from './stats-series.ts';

/**
 * What the console knows about the running system, refreshed every poll interval:
 * the gateway's topology, readiness and stats, each replica's stats and fault
 * settings, and the monolith twin's replicas when it runs. A request that fails or
 * times out only marks what it was about as unreachable; the next poll tries again.
 */

/** Polls must not pile up behind a hung replica; a healthy one answers in a few ms. */
export const POLL_TIMEOUT_MS = 500;

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface TopologyInstance {
  /** The replica's IP, as the gateway discovered it. */
  address: string;
  healthy: boolean;
  ejected: boolean;
  ready: boolean | null;
  inFlight: number;
  ejections: number;
  instance: string | null;
}

export interface TopologyUpstream {
  name: string;
  prefix: string;
  baseUrl: string;
  breaker: BreakerState | null;
  retries: number;
  instances: TopologyInstance[];
}

/** The part of the gateway's GET /api/_topology the console reads. */
export interface Topology {
  gateway: { instance: string | null };
  upstreams: TopologyUpstream[];
}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null;
const textOr = <T>(value: unknown, fallback: T) => (typeof value === 'string' ? value : fallback);
const countOr0 = (value: unknown) => (typeof value === 'number' && Number.isFinite(value) ? value : 0);
const BREAKER_STATES: readonly string[] = ['closed', 'open', 'half-open'];

export function parseTopology(body: unknown): Topology | undefined {
  if (!isObject(body) || !Array.isArray(body.upstreams)) return undefined;
  const upstreams: TopologyUpstream[] = [];
  for (const upstream of body.upstreams) {
    if (!isObject(upstream) || typeof upstream.name !== 'string' || typeof upstream.baseUrl !== 'string') continue;
    if (!URL.canParse(upstream.baseUrl)) continue;
    const instances = Array.isArray(upstream.instances) ? upstream.instances.filter(isObject) : [];
    upstreams.push({
      name: upstream.name,
      prefix: textOr(upstream.prefix, `/api/${upstream.name}`),
      baseUrl: upstream.baseUrl,
      breaker: BREAKER_STATES.includes(upstream.breaker as string) ? (upstream.breaker as BreakerState) : null,
      retries: countOr0(upstream.retries),
      instances: instances
        .filter((instance) => typeof instance.address === 'string' && isIP(instance.address) !== 0)
        .map((instance) => ({
          address: instance.address as string,
          healthy: instance.healthy === true,
          ejected: instance.ejected === true,
          ready: typeof instance.ready === 'boolean' ? instance.ready : null,
          inFlight: countOr0(instance.inFlight),
          ejections: countOr0(instance.ejections),
          instance: textOr(instance.instance, null),
        })),
    });
  }
  const gateway = isObject(body.gateway) ? body.gateway : {};
  return { gateway: { instance: textOr(gateway.instance, null) }, upstreams };
}

export function portOf(url: string): number {
  const parsed = new URL(url);
  return parsed.port === '' ? (parsed.protocol === 'https:' ? 443 : 80) : Number(parsed.port);
}

/** ip:port, with an IPv6 address in brackets. */
export const hostPort = (ip: string, port: number) => (isIP(ip) === 6 ? `[${ip}]:${port}` : `${ip}:${port}`);

export function parseFaults(body: unknown): FaultSettings | null | undefined {
  if (!isObject(body) || !('faults' in body)) return undefined;
  const faults = body.faults;
  if (!isObject(faults)) return null;
  return {
    latencyMs: countOr0(faults.latencyMs),
    errorRate: countOr0(faults.errorRate),
    errorStatus: countOr0(faults.errorStatus),
    hang: faults.hang === true,
  };
}

export interface ReplicaObservation {
  readonly ip: string;
  readonly port: number;
  /** ip:port */
  readonly address: string;
  /** Whether it answered its stats request in the last poll; null before the first. */
  reachable: boolean | null;
  /** Its own readiness: polled for the monolith twin only (the gateway's probes say it for the others). */
  ready: boolean | null;
  readonly series: StatsSeries;
  faultsAvailable: boolean;
  faults: FaultSettings | null;
}

export interface GatewayObservation {
  /** Whether /health/ready answered in the last poll; null before the first. */
  reachable: boolean | null;
  ready: boolean | null;
  readonly series: StatsSeries;
  /** The last topology received; kept while the gateway is unreachable. */
  topology: Topology | null;
  topologyFresh: boolean;
  /** From its /metrics: retries by upstream, then by reason. */
  retriesByReason: ReadonlyMap<string, Record<string, number>>;
}

export interface PollerView {
  readonly gateway: Readonly<GatewayObservation>;
  /** The gateway's upstream replicas, by ip:port. */
  readonly replicas: ReadonlyMap<string, Readonly<ReplicaObservation>>;
  /** The twin's replicas by IP order, or null when its name does not resolve. */
  readonly monolith: readonly Readonly<ReplicaObservation>[] | null;
}

export interface PollerDeps {
  fetch?: typeof fetch;
  /** Epoch ms, for stats samples. */
  now?: () => number;
  /** Every IPv4 address of a name (Docker's DNS has one per replica). */
  resolveAll?: (host: string) => Promise<string[]>;
}

type PollerSettings = Pick<ConsoleConfig, 'gatewayUrl' | 'monolithUrl' | 'labFaultsPort' | 'pollIntervalMs'>;

interface Answer {
  status: number;
  body: unknown;
  text: string;
}

const NO_SUCH_HOST = new Set(['ENOTFOUND', 'ENODATA']);

async function resolveAllIpv4(host: string): Promise<string[]> {
  return (await lookup(host, { all: true, family: 4 })).map((entry) => entry.address);
}

function newReplica(ip: string, port: number): ReplicaObservation {
  return {
    ip,
    port,
    address: hostPort(ip, port),
    reachable: null,
    ready: null,
    series: new StatsSeries(),
    faultsAvailable: false,
    faults: null,
  };
}

export class Poller {
  readonly #settings: PollerSettings;
  readonly #fetch: typeof fetch;
  readonly #now: () => number;
  readonly #resolveAll: (host: string) => Promise<string[]>;
  readonly #gateway: GatewayObservation = {
    reachable: null,
    ready: null,
    series: new StatsSeries(),
    topology: null,
    topologyFresh: false,
    retriesByReason: new Map(),
  };
  #replicas = new Map<string, ReplicaObservation>();
  #monolith: ReplicaObservation[] | null = null;
  readonly #listeners = new Set<() => void>();
  #inFlight: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(settings: PollerSettings, deps: PollerDeps = {}) {
    this.#settings = settings;
    this.#fetch = deps.fetch ?? globalThis.fetch;
    this.#now = deps.now ?? Date.now;
    this.#resolveAll = deps.resolveAll ?? resolveAllIpv4;
  }

  view(): PollerView {
    return { gateway: this.#gateway, replicas: this.#replicas, monolith: this.#monolith };
  }

  /** Called after every poll and every fault refresh. */
  onPolled(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Polls now, unless a poll is under way: then waits for that one. */
  pollOnce(): Promise<void> {
    this.#inFlight ??= this.#poll().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  start(): void {
    if (this.#timer !== undefined || this.#stopped) return;
    const loop = async () => {
      const started = performance.now();
      await this.pollOnce();
      if (this.#stopped) return;
      const wait = Math.max(0, this.#settings.pollIntervalMs - (performance.now() - started));
      this.#timer = setTimeout(loop, wait).unref();
    };
    this.#timer = setTimeout(loop, 0).unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#inFlight;
  }

  /** Re-reads the fault settings of the replicas on these IPs (after the console changed them). */
  async refreshFaults(ips: readonly string[]): Promise<void> {
    const wanted = new Set(ips);
    const replicas = [...this.#replicas.values(), ...(this.#monolith ?? [])].filter((r) => wanted.has(r.ip));
    await Promise.all(replicas.map((replica) => this.#pollFaults(replica)));
    this.#notify();
  }

  #notify(): void {
    for (const listener of this.#listeners) listener();
  }

  async #poll(): Promise<void> {
    const gatewayUrl = this.#settings.gatewayUrl;
    const [topology, ready, stats, metrics, monolithIps] = await Promise.all([
      this.#get(`${gatewayUrl}/api/_topology`),
      this.#get(`${gatewayUrl}/health/ready`),
      this.#get(`${gatewayUrl}/health/stats`),
      this.#get(`${gatewayUrl}/metrics`),
      this.#resolveMonolith(),
    ]);
    const gateway = this.#gateway;
    gateway.reachable = ready !== undefined;
    gateway.ready = ready === undefined ? false : ready.status === 200 ? true : ready.status === 503 ? false : null;
    this.#recordStats(gateway.series, stats);
    if (metrics?.status === 200) gateway.retriesByReason = retriesByReason(metrics.text);
    const parsedTopology = topology?.status === 200 ? parseTopology(topology.body) : undefined;
    gateway.topologyFresh = parsedTopology !== undefined;
    if (parsedTopology) gateway.topology = parsedTopology;

    this.#replicas = this.#track(this.#replicas, this.#upstreamAddresses());
    const monolithPort = portOf(this.#settings.monolithUrl);
    if (monolithIps === null) this.#monolith = null;
    else if (monolithIps !== undefined) {
      const previous = new Map((this.#monolith ?? []).map((replica) => [replica.address, replica]));
      const tracked = this.#track(
        previous,
        monolithIps.map((ip) => [ip, monolithPort] as const),
      );
      this.#monolith = [...tracked.values()].sort((a, b) => a.ip.localeCompare(b.ip, 'en', { numeric: true }));
    }
    await Promise.all([
      ...[...this.#replicas.values()].map((replica) => this.#pollReplica(replica, false)),
      ...(this.#monolith ?? []).map((replica) => this.#pollReplica(replica, true)),
    ]);
    this.#notify();
  }

  #upstreamAddresses(): (readonly [string, number])[] {
    return (this.#gateway.topology?.upstreams ?? []).flatMap((upstream) => {
      const port = portOf(upstream.baseUrl);
      return upstream.instances.map((instance) => [instance.address, port] as const);
    });
  }

  /** The observations for these addresses: kept ones carry their series on, gone ones are dropped. */
  #track(
    previous: ReadonlyMap<string, ReplicaObservation>,
    addresses: readonly (readonly [string, number])[],
  ): Map<string, ReplicaObservation> {
    const next = new Map<string, ReplicaObservation>();
    for (const [ip, port] of addresses) {
      const address = hostPort(ip, port);
      next.set(address, previous.get(address) ?? newReplica(ip, port));
    }
    return next;
  }

  async #pollReplica(replica: ReplicaObservation, ownReadiness: boolean): Promise<void> {
    const [stats, ready] = await Promise.all([
      this.#get(`http://${replica.address}/health/stats`),
      ownReadiness ? this.#get(`http://${replica.address}/health/ready`) : undefined,
      this.#pollFaults(replica),
    ]);
    replica.reachable = stats !== undefined || ready !== undefined;
    if (ownReadiness) replica.ready = ready === undefined ? false : ready.status === 200;
    this.#recordStats(replica.series, stats);
  }

  async #pollFaults(replica: ReplicaObservation): Promise<void> {
    const answer = await this.#get(`http://${hostPort(replica.ip, this.#settings.labFaultsPort)}/faults`);
    const faults = answer?.status === 200 ? parseFaults(answer.body) : undefined;
    replica.faultsAvailable = faults !== undefined;
    replica.faults = faults ?? null;
  }

  #recordStats(series: StatsSeries, answer: Answer | undefined): void {
    const stats = answer?.status === 200 ? parseServiceStats(answer.body) : undefined;
    if (stats) series.record(this.#now(), stats);
  }

  /** The twin's addresses; null when its name does not exist, undefined when DNS did not answer this time. */
  async #resolveMonolith(): Promise<string[] | null | undefined> {
    const host = new URL(this.#settings.monolithUrl).hostname.replace(/^\[|\]$/g, '');
    if (isIP(host) !== 0) return [host];
    try {
      const ips = await this.#resolveAll(host);
      return ips.length === 0 ? null : ips;
    } catch (error) {
      return NO_SUCH_HOST.has((error as NodeJS.ErrnoException).code ?? '') ? null : undefined;
    }
  }

  async #get(url: string): Promise<Answer | undefined> {
    try {
      const response = await this.#fetch(url, {
        headers: { accept: 'application/json' },
        signal: AbortSignal.timeout(POLL_TIMEOUT_MS),
      });
      const text = await response.text();
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        body = undefined;
      }
      return { status: response.status, body, text };
    } catch {
      return undefined;
    }
  }
}
