import { lookup } from 'node:dns/promises';
import axios from 'axios';
import type { Logger } from 'pino';
import { Pool } from 'undici';

export interface ReplicaPoolOptions {
  name: string;
  /** Service name (Docker DNS answers one address per replica) or an IP. */
  host: string;
  port: number;
  discoveryIntervalMs: number;
  probeIntervalMs: number;
  probeTimeoutMs: number;
  connectTimeoutMs: number;
  ejectAfterFailures: number;
  ejectionBaseMs: number;
  ejectionMaxMs: number;
  logger: Logger;
  onEjection?: () => void;
  resolveAll?: (host: string) => Promise<string[]>;
}

export interface Replica {
  readonly address: string;
  readonly dispatcher: Pool;
  inFlight: number;
  consecutiveFailures: number;
  ejections: number;
  ejectedUntil: number;
  /** undefined until the first probe answers: a replica gets traffic only once it is ready. */
  ready: boolean | undefined;
  /** The instance name its probes report; a new one at the same address is a new replica. */
  instance: string | undefined;
}

export interface ReplicaView {
  address: string;
  healthy: boolean;
  ejected: boolean;
  ready: boolean | null;
  inFlight: number;
  consecutiveFailures: number;
  ejections: number;
  instance: string | null;
}

/** Node's default lookup returns one address; Docker's DNS has one per replica, so ask for all. */
async function resolveAllAddresses(host: string): Promise<string[]> {
  return (await lookup(host, { all: true, family: 4 })).map((entry) => entry.address);
}

const NO_SUCH_HOST = new Set(['ENOTFOUND', 'ENODATA']);

/**
 * The replicas behind one service name. Discovery re-resolves the name on an
 * interval and after connection failures; passive health ejects a replica after
 * consecutive failures for a cool-down that doubles on each repeat; active probes
 * of /health/ready decide when a replica (new, ejected or draining) gets traffic.
 */
export class ReplicaPool {
  readonly #options: ReplicaPoolOptions;
  readonly #resolveAll: (host: string) => Promise<string[]>;
  readonly #replicas = new Map<string, Replica>();
  readonly #timers: NodeJS.Timeout[] = [];
  #rotation = 0;
  #lastRefreshAt = 0;
  #refreshing: Promise<void> | undefined;

  constructor(options: ReplicaPoolOptions) {
    this.#options = options;
    this.#resolveAll = options.resolveAll ?? resolveAllAddresses;
  }

  /** First discovery and probe round, then the periodic ones. */
  async start(): Promise<void> {
    await this.refresh();
    await this.probeAll();
    this.#timers.push(
      setInterval(() => void this.refresh(), this.#options.discoveryIntervalMs).unref(),
      setInterval(() => void this.probeAll(), this.#options.probeIntervalMs).unref(),
    );
  }

  refresh(): Promise<void> {
    this.#refreshing ??= this.#resolve().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  /** After a connection failure: re-resolve now, at most every 250 ms. */
  refreshSoon(): void {
    if (Date.now() - this.#lastRefreshAt > 250) void this.refresh();
  }

  async #resolve(): Promise<void> {
    this.#lastRefreshAt = Date.now();
    let addresses: string[];
    try {
      addresses = await this.#resolveAll(this.#options.host);
    } catch (error) {
      const code = (error as { code?: string }).code ?? '';
      // The name is gone: every replica stopped. Other DNS errors keep what we knew.
      if (!NO_SUCH_HOST.has(code)) return;
      addresses = [];
    }
    const current = new Set(addresses);
    for (const address of current) {
      if (this.#replicas.has(address)) continue;
      const replica = this.#create(address);
      this.#replicas.set(address, replica);
      this.#options.logger.info({ upstream: this.#options.name, replica: address }, 'replica discovered');
      void this.#probe(replica);
    }
    for (const [address, replica] of this.#replicas) {
      if (current.has(address)) continue;
      this.#replicas.delete(address);
      this.#options.logger.info({ upstream: this.#options.name, replica: address }, 'replica removed');
      void replica.dispatcher.destroy().catch(() => {});
    }
  }

  #create(address: string): Replica {
    const dispatcher = new Pool(`http://${address}:${this.#options.port}`, {
      connect: { timeout: this.#options.connectTimeoutMs },
      // Below Node's 5 s server keep-alive, so the gateway never reuses a socket the
      // upstream is closing at the same moment.
      keepAliveTimeout: 4_000,
      keepAliveMaxTimeout: 4_000,
    });
    return {
      address,
      dispatcher,
      inFlight: 0,
      consecutiveFailures: 0,
      ejections: 0,
      ejectedUntil: 0,
      ready: undefined,
      instance: undefined,
    };
  }

  probeAll(): Promise<void> {
    return Promise.all([...this.#replicas.values()].map((replica) => this.#probe(replica))).then(() => {});
  }

  async #probe(replica: Replica): Promise<void> {
    let ready: boolean;
    let instance: unknown;
    try {
      const res = await axios.get(`http://${replica.address}:${this.#options.port}/health/ready`, {
        timeout: this.#options.probeTimeoutMs,
        validateStatus: () => true,
      });
      ready = res.status === 200;
      instance = (res.data as { instance?: unknown } | undefined)?.instance;
    } catch {
      ready = false;
    }
    // Docker reuses addresses: a container replaced faster than discovery runs
    // shows up as a new instance name, and must not inherit the old one's ejections.
    if (typeof instance === 'string' && instance !== replica.instance) {
      if (replica.instance !== undefined) {
        this.#options.logger.info(
          { upstream: this.#options.name, replica: replica.address, instance },
          'replica replaced',
        );
      }
      replica.instance = instance;
      replica.ejections = 0;
      replica.ejectedUntil = 0;
      replica.consecutiveFailures = 0;
    }
    replica.ready = ready;
    if (ready && replica.ejectedUntil !== 0 && Date.now() >= replica.ejectedUntil) {
      replica.ejectedUntil = 0;
      replica.consecutiveFailures = 0;
      this.#options.logger.info({ upstream: this.#options.name, replica: replica.address }, 'replica reinstated');
    }
  }

  #isHealthy(replica: Replica): boolean {
    return replica.ready === true && replica.ejectedUntil === 0;
  }

  /** Least in-flight among healthy replicas not in `exclude`; ties rotate (round robin). */
  pick(exclude: ReadonlySet<Replica> = new Set()): Replica | undefined {
    const candidates = [...this.#replicas.values()].filter((r) => !exclude.has(r) && this.#isHealthy(r));
    if (candidates.length === 0) return undefined;
    this.#rotation = (this.#rotation + 1) % candidates.length;
    let best: Replica | undefined;
    for (let i = 0; i < candidates.length; i++) {
      const candidate = candidates[(this.#rotation + i) % candidates.length] as Replica;
      if (!best || candidate.inFlight < best.inFlight) best = candidate;
    }
    return best;
  }

  reportSuccess(replica: Replica): void {
    replica.consecutiveFailures = 0;
  }

  reportFailure(replica: Replica): void {
    replica.consecutiveFailures += 1;
    if (replica.ejectedUntil !== 0 || replica.consecutiveFailures < this.#options.ejectAfterFailures) return;
    const coolDownMs = Math.min(this.#options.ejectionBaseMs * 2 ** replica.ejections, this.#options.ejectionMaxMs);
    replica.ejections += 1;
    replica.ejectedUntil = Date.now() + coolDownMs;
    this.#options.onEjection?.();
    this.#options.logger.warn(
      { upstream: this.#options.name, replica: replica.address, coolDownMs, ejections: replica.ejections },
      'replica ejected',
    );
  }

  view(): ReplicaView[] {
    return [...this.#replicas.values()].map((r) => ({
      address: r.address,
      healthy: this.#isHealthy(r),
      ejected: r.ejectedUntil !== 0,
      ready: r.ready ?? null,
      inFlight: r.inFlight,
      consecutiveFailures: r.consecutiveFailures,
      ejections: r.ejections,
      instance: r.instance ?? null,
    }));
  }

  async close(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    await Promise.all([...this.#replicas.values()].map((r) => r.dispatcher.close().catch(() => {})));
    this.#replicas.clear();
  }
}
