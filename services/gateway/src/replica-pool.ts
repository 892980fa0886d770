import { lookup } from 'node:dns/promises';
import type { Logger } from '@lab/platform/logger';
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
  /** A replica became able to take traffic (admitted, reinstated or back after being down). */
  onHealthy?: () => void;
  resolveAll?: (host: string) => Promise<string[]>;
}

/** `not-sent`: the client's request was refused before reaching the replica; it says nothing of the replica. */
export type AttemptOutcome = 'ok' | 'failed' | 'unreachable' | 'not-sent';

/** One replica of the service: its address, its keep-alive connections, its health. */
export interface Replica {
  readonly address: string;
  readonly dispatcher: Pool;
}

interface ReplicaState extends Replica {
  inFlight: number;
  consecutiveFailures: number;
  ejections: number;
  ejectedUntil: number;
  /** undefined until the first probe answers: a replica gets traffic only once it is ready. */
  ready: boolean | undefined;
  /** Its probe failed, or it refused a connection, since it was last healthy: it was down, not merely failing. */
  seenDown: boolean;
  /** The instance name its probes report; a new one at the same address is a new replica. */
  instance: string | undefined;
  /** Attempts it answered: a probe compares it across its wait, so the hot path reads no clock. */
  answered: number;
}

/** What one readiness probe found: an answer (ready or not), no answer in time, or no connection. */
type ProbeResult =
  | { kind: 'answered'; ready: boolean; instance: unknown }
  | { kind: 'timed-out' }
  | { kind: 'unreachable' };

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
 * While no replica is healthy the pool looks for one this often, whatever the
 * configured intervals: a restarted replica should get traffic within a fraction of
 * a second of answering its readiness probe, not after a discovery and a probe
 * period in a row.
 */
const RECOVERY_INTERVAL_MS = 250;

/**
 * The replicas behind one service name. Discovery re-resolves the name on an
 * interval and after connection failures; passive health ejects a replica after
 * consecutive failures for a cool-down that doubles on each repeat; active probes
 * of /health/ready decide when a replica (new, ejected or draining) gets traffic,
 * and passive health tells a slow probe from a dead replica.
 *
 * Callers `acquire` a replica for an attempt and `release` it with the outcome; the
 * pool alone keeps the counts that balancing and ejection depend on.
 */
export class ReplicaPool {
  readonly #options: ReplicaPoolOptions;
  readonly #resolveAll: (host: string) => Promise<string[]>;
  readonly #replicas = new Map<string, ReplicaState>();
  /** The same replicas as an array, rebuilt on discovery: acquire() walks it without allocating. */
  #list: ReplicaState[] = [];
  readonly #timers: NodeJS.Timeout[] = [];
  #rotation = 0;
  #lastRefreshAt = 0;
  #refreshing: Promise<void> | undefined;
  #recovering: Promise<void> | undefined;
  #closed = false;

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
      setInterval(() => void this.#recoverIfEmpty(), RECOVERY_INTERVAL_MS).unref(),
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

  /** Nothing can take traffic: re-resolve and probe every replica that is not healthy. */
  #recoverIfEmpty(): void {
    if (this.#recovering || this.#list.some((r) => this.#isHealthy(r))) return;
    // Neither refresh nor a probe rejects: both turn failures into state.
    this.#recovering = this.refresh()
      .then(() => Promise.all(this.#list.filter((r) => !this.#isHealthy(r)).map((r) => this.#probe(r))))
      .then(() => {
        this.#recovering = undefined;
      });
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
    if (this.#closed) return;
    const current = new Set(addresses);
    const added: ReplicaState[] = [];
    for (const address of current) {
      if (this.#replicas.has(address)) continue;
      const replica = this.#create(address);
      this.#replicas.set(address, replica);
      added.push(replica);
      this.#options.logger.info({ upstream: this.#options.name, replica: address }, 'replica discovered');
    }
    for (const [address, replica] of this.#replicas) {
      if (current.has(address)) continue;
      this.#replicas.delete(address);
      this.#options.logger.info({ upstream: this.#options.name, replica: address }, 'replica removed');
      void replica.dispatcher.destroy().catch(() => {});
    }
    this.#list = [...this.#replicas.values()];
    await Promise.all(added.map((replica) => this.#probe(replica)));
  }

  #create(address: string): ReplicaState {
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
      seenDown: false,
      instance: undefined,
      answered: 0,
    };
  }

  probeAll(): Promise<void> {
    return Promise.all(this.#list.map((replica) => this.#probe(replica))).then(() => {});
  }

  /** GET /health/ready over the replica's own connection pool: one HTTP client per replica. */
  async #readiness(replica: ReplicaState): Promise<ProbeResult> {
    const deadline = new AbortController();
    // Timers run before I/O: after a stall of the gateway's own event loop, the answers that
    // arrived meanwhile (this probe's included) are read before the probe counts as timed out.
    const timer = setTimeout(() => setImmediate(() => deadline.abort()), this.#options.probeTimeoutMs);
    try {
      const res = await replica.dispatcher.request({
        path: '/health/ready',
        method: 'GET',
        signal: deadline.signal,
        headers: { accept: 'application/json' },
      });
      const text = await res.body.text();
      let instance: unknown;
      try {
        instance = (JSON.parse(text) as { instance?: unknown } | null)?.instance;
      } catch {
        instance = undefined;
      }
      return { kind: 'answered', ready: res.statusCode === 200, instance };
    } catch {
      return deadline.signal.aborted ? { kind: 'timed-out' } : { kind: 'unreachable' };
    } finally {
      clearTimeout(timer);
    }
  }

  async #probe(replica: ReplicaState): Promise<void> {
    const wasHealthy = this.#isHealthy(replica);
    const answeredBefore = replica.answered;
    const result = await this.#readiness(replica);
    // A saturated replica's probe waits in its queue behind the load: answers to real
    // requests while the probe waited show it slow, not dead, so its state stands. One
    // that answered nothing meanwhile, refused the connection or said "not ready" is out.
    if (result.kind === 'timed-out' && replica.answered !== answeredBefore) {
      this.#options.logger.debug(
        { upstream: this.#options.name, replica: replica.address },
        'probe timed out while the replica answered requests: kept',
      );
      return;
    }
    const ready = result.kind === 'answered' && result.ready;
    const instance = result.kind === 'answered' ? result.instance : undefined;
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
    if (!ready) {
      replica.seenDown = true;
      return;
    }
    // A replica that kept answering its probe while failing requests serves its
    // cool-down; one whose probe failed meanwhile was down (a crash and a restart
    // under the same name) and is back now, so it gets traffic at once.
    if (replica.ejectedUntil !== 0 && (replica.seenDown || Date.now() >= replica.ejectedUntil)) {
      replica.ejectedUntil = 0;
      replica.consecutiveFailures = 0;
      this.#options.logger.info({ upstream: this.#options.name, replica: replica.address }, 'replica reinstated');
    }
    replica.seenDown = false;
    if (!wasHealthy && this.#isHealthy(replica)) this.#options.onHealthy?.();
  }

  #isHealthy(replica: ReplicaState): boolean {
    return replica.ready === true && replica.ejectedUntil === 0;
  }

  /**
   * The healthy replica with the fewest requests in flight, other than `exclude`
   * (the one a retry must avoid); ties go round robin. Counts it as in flight until
   * `release`.
   */
  acquire(exclude?: Replica): Replica | undefined {
    const list = this.#list;
    const count = list.length;
    if (count === 0) return undefined;
    this.#rotation = (this.#rotation + 1) % count;
    let best: ReplicaState | undefined;
    for (let i = 0; i < count; i++) {
      const candidate = list[(this.#rotation + i) % count] as ReplicaState;
      if (candidate === exclude || !this.#isHealthy(candidate)) continue;
      if (best === undefined || candidate.inFlight < best.inFlight) best = candidate;
    }
    if (best !== undefined) best.inFlight += 1;
    return best;
  }

  /**
   * Ends an attempt. A failure (5xx, timeout) counts towards ejection; so does an
   * unreachable replica (connection refused or reset), which is also taken for down:
   * once its probe answers again it is back, whatever cool-down it had.
   */
  release(replica: Replica, outcome: AttemptOutcome): void {
    const state = replica as ReplicaState;
    state.inFlight -= 1;
    if (outcome === 'not-sent') return;
    if (outcome === 'ok') {
      state.consecutiveFailures = 0;
      state.answered += 1;
      return;
    }
    if (outcome === 'unreachable') state.seenDown = true;
    state.consecutiveFailures += 1;
    if (state.ejectedUntil !== 0 || state.consecutiveFailures < this.#options.ejectAfterFailures) return;
    const coolDownMs = Math.min(this.#options.ejectionBaseMs * 2 ** state.ejections, this.#options.ejectionMaxMs);
    state.ejections += 1;
    state.ejectedUntil = Date.now() + coolDownMs;
    this.#options.onEjection?.();
    this.#options.logger.warn(
      { upstream: this.#options.name, replica: state.address, coolDownMs, ejections: state.ejections },
      'replica ejected',
    );
  }

  view(): ReplicaView[] {
    return this.#list.map((r) => ({
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
    this.#closed = true;
    for (const timer of this.#timers) clearInterval(timer);
    await Promise.all(this.#list.map((r) => r.dispatcher.close().catch(() => {})));
    this.#replicas.clear();
    this.#list = [];
  }
}
