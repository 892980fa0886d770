import { afterPrefix, pathBelowPrefix } from '@lab/platform/forwarded-prefix';
import type { Logger } from '@lab/platform/logger';
import {
  HttpError,
  ProtocolError,
  UpstreamAtCapacityError,
  UpstreamTimeoutError,
  UpstreamUnavailableError,
} from '@lab/platform/problem';
import { type BreakerState, CircuitBreaker, Permit } from './circuit-breaker.ts';
import { DeadlineQueue } from './deadline-queue.ts';
import type { GatewayMetrics, LatencyHistogram } from './metrics.ts';
import type { ProxyExchange } from './proxy-exchange.ts';
import { type Replica, ReplicaPool, type ReplicaView } from './replica-pool.ts';
import { RetryBudget } from './retry-budget.ts';

export interface UpstreamSettings {
  name: string;
  prefix: string;
  baseUrl: string;
  connectTimeoutMs: number;
  responseTimeoutMs: number;
  probeTimeoutMs: number;
  probeIntervalMs: number;
  discoveryIntervalMs: number;
  ejectAfterFailures: number;
  ejectionBaseMs: number;
  ejectionMaxMs: number;
  breakerFailures: number;
  breakerHalfOpenAfterMs: number;
  maxConcurrent: number;
  retryBudgetRatio: number;
}

/** Failed before any response byte: safe to send again elsewhere if the method allows it. */
const CONNECTION_ERRORS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_DESTROYED',
]);
const RETRYABLE_STATUS = new Set([502, 503]);
const BREAKER_GAUGE: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 };

/**
 * One upstream service as a pool of replicas behind a bulkhead (max in flight),
 * a circuit breaker (fail in milliseconds once the service is clearly down), a
 * response deadline per attempt and a retry policy (idempotent requests, once, on
 * another replica, within a budget). A request is a ProxyExchange: the upstream
 * admits it, picks its replicas and settles its outcomes; the exchange moves the
 * bytes between undici and the client.
 */
export class Upstream {
  readonly name: string;
  readonly prefix: string;
  readonly baseUrl: string;
  /**
   * The `x-forwarded-prefix` to send: the prefix the upstream does not see. None when
   * the URL has a base path: the upstream then sees a public path and builds links from it.
   */
  readonly forwardedPrefix: string | undefined;
  readonly responseTimeoutMs: number;
  /** The URL's path without a trailing slash, '' for an origin alone. */
  readonly #basePath: string;
  readonly #settings: UpstreamSettings;
  readonly #pool: ReplicaPool;
  readonly #breaker: CircuitBreaker;
  readonly #budget: RetryBudget;
  readonly #deadlines: DeadlineQueue<ProxyExchange>;
  readonly #latency: LatencyHistogram;
  readonly #retriesByReason = new Map<string, number>();
  #inFlight = 0;
  #requests = 0;
  #attempts = 0;
  #retries = 0;
  #ejections = 0;

  constructor(
    settings: UpstreamSettings,
    {
      logger,
      metrics,
      resolveAll,
    }: { logger: Logger; metrics: GatewayMetrics; resolveAll?: (host: string) => Promise<string[]> },
  ) {
    this.name = settings.name;
    this.prefix = settings.prefix;
    this.baseUrl = settings.baseUrl;
    this.responseTimeoutMs = settings.responseTimeoutMs;
    this.#settings = settings;
    this.#latency = metrics.upstreamLatency(settings.name);
    this.#breaker = new CircuitBreaker({
      failures: settings.breakerFailures,
      halfOpenAfterMs: settings.breakerHalfOpenAfterMs,
      onStateChange: (breaker) => logger.warn({ upstream: this.name, breaker }, 'circuit breaker changed state'),
    });
    const url = new URL(settings.baseUrl);
    this.#basePath = url.pathname.replace(/\/+$/, '');
    this.forwardedPrefix = this.#basePath === '' ? settings.prefix : undefined;
    // Probes and discovery go to the origin: readiness is the process's, whatever path it serves the API under.
    this.#pool = new ReplicaPool({
      ...settings,
      host: url.hostname,
      port: Number(url.port || 80),
      logger,
      ...(resolveAll ? { resolveAll } : {}),
      onEjection: () => {
        this.#ejections += 1;
      },
      // A replica that answers its probe again need not wait out the breaker's open period.
      onHealthy: () => this.#breaker.halfOpenNow(),
    });
    this.#budget = new RetryBudget(settings.retryBudgetRatio);
    this.#deadlines = new DeadlineQueue(settings.responseTimeoutMs);
    metrics.addUpstream(this);
  }

  start(): Promise<void> {
    return this.#pool.start();
  }

  /**
   * The path the upstream sees for a public URL: the prefix stripped (`/api/users` is
   * `/`), or replaced by the base path with nothing added (under base path `/api/users`,
   * `/api/users?limit=1` stays `/api/users?limit=1`: Fastify's prefixed `/` route answers it).
   */
  upstreamPath(publicUrl: string): string | undefined {
    if (this.#basePath === '') return pathBelowPrefix(this.prefix, publicUrl);
    const rest = afterPrefix(this.prefix, publicUrl);
    return rest === undefined ? undefined : this.#basePath + rest;
  }

  /** Admits a request (bulkhead, then breaker) and sends its first attempt. */
  forward(exchange: ProxyExchange): void {
    if (this.#inFlight >= this.#settings.maxConcurrent) {
      exchange.fail(new UpstreamAtCapacityError(this.name, this.#settings.maxConcurrent));
      return;
    }
    const permit = this.#breaker.acquire();
    if (permit === Permit.Refused) {
      exchange.fail(new UpstreamUnavailableError(this.name, 503, 'circuit open'));
      return;
    }
    exchange.permit = permit;
    this.#inFlight += 1;
    this.#requests += 1;
    this.#budget.recordRequest();
    this.#attempt(exchange, undefined);
  }

  #attempt(exchange: ProxyExchange, exclude: Replica | undefined): void {
    const replica = this.#pool.acquire(exclude);
    if (replica === undefined) {
      this.#pool.refreshSoon();
      this.#settle(exchange, false);
      exchange.fail(new UpstreamUnavailableError(this.name, 503, 'no healthy replica'));
      return;
    }
    this.#attempts += 1;
    exchange.startedAt = performance.now();
    this.#deadlines.add(exchange);
    exchange.send(replica);
  }

  /** Response headers arrived: true when the exchange should drop this answer and retry elsewhere. */
  responded(exchange: ProxyExchange, statusCode: number): boolean {
    this.#deadlines.delete(exchange);
    this.#latency.observe(statusCode, performance.now() - exchange.startedAt);
    if (RETRYABLE_STATUS.has(statusCode) && this.#mayRetry(exchange, statusCode === 502 ? '502' : '503')) return true;
    // An answer is an answer, 5xx included: the breaker counts the upstream as reachable.
    this.#settle(exchange, true);
    return false;
  }

  /** The attempt's response ended (or was dropped for a retry): the replica is free again. */
  attemptEnded(replica: Replica, statusCode: number): void {
    this.#pool.release(replica, statusCode < 500 ? 'ok' : 'failed');
  }

  /** The retried attempt's answer was drained: try another replica. */
  retry(exchange: ProxyExchange, previous: Replica): void {
    this.#attempt(exchange, previous);
  }

  /**
   * The attempt failed before any answer: retry elsewhere, or fail the request with
   * 503 or 504. An HttpError is the client's doing (a request body over the limit,
   * a header undici refuses): it is answered as it is, and no replica is blamed.
   */
  attemptFailed(exchange: ProxyExchange, replica: Replica, failure: 'timeout' | Error): void {
    this.#deadlines.delete(exchange);
    const elapsedMs = performance.now() - exchange.startedAt;
    if (failure instanceof HttpError) {
      this.#pool.release(replica, 'not-sent');
      this.#settle(exchange, true);
      exchange.fail(failure);
      return;
    }
    if (failure === 'timeout') {
      this.#pool.release(replica, 'failed');
      this.#latency.observe('UND_ERR_HEADERS_TIMEOUT', elapsedMs);
      this.#settle(exchange, false);
      exchange.fail(new UpstreamTimeoutError(this.name, this.#settings.responseTimeoutMs));
      return;
    }
    const code = (failure as { code?: unknown }).code;
    if (code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED') {
      this.#pool.release(replica, 'not-sent');
      this.#settle(exchange, true);
      exchange.fail(new ProtocolError('MALFORMED_REQUEST'));
      return;
    }
    const reason = typeof code === 'string' ? code : 'ERROR';
    this.#pool.release(replica, CONNECTION_ERRORS.has(reason) ? 'unreachable' : 'failed');
    this.#latency.observe(reason, elapsedMs);
    this.#pool.refreshSoon();
    if (CONNECTION_ERRORS.has(reason) && this.#mayRetry(exchange, reason)) {
      this.#attempt(exchange, replica);
      return;
    }
    this.#settle(exchange, false);
    exchange.fail(new UpstreamUnavailableError(this.name, 503));
  }

  /** The answer broke off before its end, and nothing of it has reached the client yet. */
  responseCutShort(exchange: ProxyExchange, replica: Replica): void {
    this.#pool.release(replica, 'failed');
    exchange.fail(new UpstreamUnavailableError(this.name, 502, 'answer cut short'));
  }

  /** The exchange is over for the upstream: bulkhead slot back, breaker told. */
  #settle(exchange: ProxyExchange, ok: boolean): void {
    this.#inFlight -= 1;
    this.#breaker.release(exchange.permit, ok);
  }

  #mayRetry(exchange: ProxyExchange, reason: string): boolean {
    if (exchange.retried || !exchange.retryable || !this.#budget.tryWithdraw()) return false;
    exchange.retried = true;
    this.#retries += 1;
    this.#retriesByReason.set(reason, (this.#retriesByReason.get(reason) ?? 0) + 1);
    return true;
  }

  /** Expires every attempt still waiting for headers: used on close. */
  close(): Promise<void> {
    this.#deadlines.clear();
    return this.#pool.close();
  }

  get breakerState(): BreakerState {
    return this.#breaker.state;
  }

  /** Counters for /metrics, read at scrape time rather than kept twice on the hot path. */
  counters() {
    const { replicas, inFlight } = this.topology();
    return {
      attempts: this.#attempts,
      retriesByReason: this.#retriesByReason as ReadonlyMap<string, number>,
      ejections: this.#ejections,
      breaker: BREAKER_GAUGE[this.#breaker.state],
      inFlight,
      replicas,
    };
  }

  topology() {
    const replicas = this.#pool.view();
    return {
      name: this.name,
      prefix: this.prefix,
      baseUrl: this.baseUrl,
      breaker: this.breakerState,
      inFlight: this.#inFlight,
      maxConcurrent: this.#settings.maxConcurrent,
      requests: this.#requests,
      attempts: this.#attempts,
      retries: this.#retries,
      replicas: {
        known: replicas.length,
        healthy: replicas.filter((r) => r.healthy).length,
        ejected: replicas.filter((r) => r.ejected).length,
      },
      instances: replicas satisfies ReplicaView[],
    };
  }
}
