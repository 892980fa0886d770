import type { IncomingHttpHeaders } from 'node:http';
import type { Logger } from '@lab/platform/logger';
import { HttpError, UpstreamTimeoutError, UpstreamUnavailableError } from '@lab/platform/problem';
import { BrokenCircuitError, CircuitState, ConsecutiveBreaker, circuitBreaker, handleAll } from 'cockatiel';
import type { Dispatcher } from 'undici';
import type { GatewayMetrics } from './metrics.ts';
import { type Replica, ReplicaPool, type ReplicaView } from './replica-pool.ts';
import { RetryBudget } from './retry-budget.ts';

/** RFC 9110 7.6.1: connection-specific headers are never forwarded by a proxy. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
]);

export function withoutHopByHop(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>) {
  const kept: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(key.toLowerCase())) kept[key] = value;
  }
  return kept;
}

export interface ForwardRequest {
  method: string;
  /** Path and query as the upstream should see them. */
  path: string;
  headers: Record<string, string | string[]>;
  body?: Buffer;
}

export interface ForwardResponse {
  statusCode: number;
  headers: Record<string, string | string[]>;
  body: Dispatcher.ResponseData['body'];
  /** The replica that answered (ip), for when it does not say so itself. */
  replica: string;
}

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

export class UpstreamAtCapacityError extends HttpError {
  constructor(upstream: string, limit: number) {
    super(503, 'UPSTREAM_AT_CAPACITY', `The ${upstream} service already has ${limit} requests in flight`, {
      upstream,
    });
  }
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
const TIMEOUTS = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** An aborted AbortSignal.timeout surfaces as a DOMException; give it undici's timeout code. */
function asTimeout(error: unknown): Error & { code?: string } {
  if (error instanceof DOMException && error.name === 'TimeoutError') {
    return Object.assign(new Error('upstream response timeout'), { code: 'UND_ERR_HEADERS_TIMEOUT' });
  }
  return error instanceof Error ? error : new Error(String(error));
}
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);
const RETRYABLE_STATUS = new Set([502, 503]);

const isIdempotent = (request: ForwardRequest) =>
  IDEMPOTENT.has(request.method) || (request.method === 'POST' && request.headers['idempotency-key'] !== undefined);

const BREAKER_NAMES: Record<CircuitState, string> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.HalfOpen]: 'half-open',
  [CircuitState.Open]: 'open',
  [CircuitState.Isolated]: 'isolated',
};

/** Upstream failures the breaker counts; a client's 4xx or a 5xx the app chose to send is not one. */
class AttemptFailed extends Error {
  readonly httpError: HttpError;
  constructor(httpError: HttpError) {
    super(httpError.message);
    this.httpError = httpError;
  }
}

/**
 * One upstream service as a pool of replicas behind a bulkhead (max in flight),
 * a circuit breaker (fail in milliseconds once the service is clearly down) and a
 * retry policy (idempotent requests, once, on another replica, within a budget).
 */
export class Upstream {
  readonly name: string;
  readonly prefix: string;
  readonly baseUrl: string;
  readonly #settings: UpstreamSettings;
  readonly #pool: ReplicaPool;
  readonly #breaker;
  readonly #budget: RetryBudget;
  readonly #metrics: GatewayMetrics;
  #inFlight = 0;
  #requests = 0;
  #attempts = 0;
  #retries = 0;

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
    this.#settings = settings;
    this.#metrics = metrics;
    const url = new URL(settings.baseUrl);
    this.#pool = new ReplicaPool({
      ...settings,
      host: url.hostname,
      port: Number(url.port || 80),
      logger,
      ...(resolveAll ? { resolveAll } : {}),
      onEjection: () => metrics.ejections.inc({ upstream: settings.name }),
    });
    this.#breaker = circuitBreaker(handleAll, {
      halfOpenAfter: settings.breakerHalfOpenAfterMs,
      breaker: new ConsecutiveBreaker(settings.breakerFailures),
    });
    this.#breaker.onStateChange((state) => {
      logger.warn({ upstream: this.name, breaker: BREAKER_NAMES[state] }, 'circuit breaker changed state');
    });
    this.#budget = new RetryBudget(settings.retryBudgetRatio);
  }

  start(): Promise<void> {
    return this.#pool.start();
  }

  /** The path the upstream sees for a public URL: the prefix is stripped. */
  upstreamPath(publicUrl: string): string {
    const rest = publicUrl.slice(this.prefix.length);
    return rest.startsWith('/') ? rest : `/${rest}`;
  }

  async forward(request: ForwardRequest): Promise<ForwardResponse> {
    if (this.#inFlight >= this.#settings.maxConcurrent) {
      throw new UpstreamAtCapacityError(this.name, this.#settings.maxConcurrent);
    }
    this.#inFlight += 1;
    this.#requests += 1;
    this.#budget.recordRequest();
    try {
      return await this.#breaker.execute(() => this.#tryReplicas(request));
    } catch (error) {
      if (error instanceof BrokenCircuitError) throw new UpstreamUnavailableError(this.name, 503, 'circuit open');
      if (error instanceof AttemptFailed) throw error.httpError;
      throw error;
    } finally {
      this.#inFlight -= 1;
    }
  }

  async #tryReplicas(request: ForwardRequest): Promise<ForwardResponse> {
    const tried = new Set<Replica>();
    let retried = false;
    const mayRetry = (reason: string) => {
      if (retried || !isIdempotent(request) || !this.#budget.tryWithdraw()) return false;
      retried = true;
      this.#retries += 1;
      this.#metrics.retries.inc({ upstream: this.name, reason });
      return true;
    };

    for (;;) {
      const replica = this.#pool.pick(tried);
      if (!replica) {
        this.#pool.refreshSoon();
        throw new AttemptFailed(new UpstreamUnavailableError(this.name, 503, 'no healthy replica'));
      }
      tried.add(replica);
      const outcome = await this.#send(replica, request);
      if (outcome instanceof Error) {
        const code = (outcome as { code?: string }).code ?? '';
        this.#pool.reportFailure(replica);
        if (TIMEOUTS.has(code)) {
          throw new AttemptFailed(new UpstreamTimeoutError(this.name, this.#settings.responseTimeoutMs));
        }
        this.#pool.refreshSoon();
        if (CONNECTION_ERRORS.has(code) && mayRetry(code)) continue;
        throw new AttemptFailed(new UpstreamUnavailableError(this.name, 503));
      }
      if (outcome.statusCode >= 500) this.#pool.reportFailure(replica);
      else this.#pool.reportSuccess(replica);
      if (RETRYABLE_STATUS.has(outcome.statusCode) && mayRetry(String(outcome.statusCode))) {
        await outcome.body.dump().catch(() => {});
        continue;
      }
      return outcome;
    }
  }

  async #send(replica: Replica, request: ForwardRequest): Promise<ForwardResponse | Error> {
    this.#attempts += 1;
    this.#metrics.attempts.inc({ upstream: this.name });
    replica.inFlight += 1;
    const stopTimer = this.#metrics.latency.startTimer({ upstream: this.name });
    try {
      const response = await replica.dispatcher.request({
        path: request.path,
        method: request.method as 'GET',
        headers: request.headers,
        body: request.body ?? null,
        // undici's own timers tick every 500 ms or so; the signal makes the deadline exact.
        signal: AbortSignal.timeout(this.#settings.responseTimeoutMs),
        headersTimeout: this.#settings.responseTimeoutMs,
        bodyTimeout: this.#settings.responseTimeoutMs,
      });
      stopTimer({ outcome: String(response.statusCode) });
      return {
        statusCode: response.statusCode,
        headers: withoutHopByHop(response.headers as Record<string, string | string[] | undefined>),
        body: response.body,
        replica: replica.address,
      };
    } catch (error) {
      const failure = asTimeout(error);
      stopTimer({ outcome: failure.code ?? 'error' });
      return failure;
    } finally {
      replica.inFlight -= 1;
    }
  }

  get breakerState(): string {
    return BREAKER_NAMES[this.#breaker.state];
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

  /** Feeds the gauges just before a scrape. */
  collectGauges(): void {
    const { replicas, inFlight } = this.topology();
    const states: Record<string, number> = { closed: 0, 'half-open': 1, open: 2, isolated: 2 };
    this.#metrics.breakerState.set({ upstream: this.name }, states[this.breakerState] ?? 2);
    this.#metrics.inFlight.set({ upstream: this.name }, inFlight);
    for (const [state, count] of Object.entries(replicas)) {
      this.#metrics.replicas.set({ upstream: this.name, state }, count);
    }
  }

  close(): Promise<void> {
    return this.#pool.close();
  }
}
