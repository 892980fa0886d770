import { RateLimitedError } from '@lab/platform/problem';
import type { FastifyInstance } from 'fastify';

export interface RateLimitDecision {
  allowed: boolean;
  retryAfterSeconds: number;
}

interface ClientWindow {
  count: number;
  resetsAt: number;
}

/**
 * A fixed window per client: at most `limit` requests in `windowMs`, counted from
 * the client's first request of the window. Expired windows are swept once per
 * window, so memory holds only the clients seen in the last two windows or so.
 */
export class RateLimiter {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #windows = new Map<string, ClientWindow>();
  #nextSweepAt = 0;

  constructor({ limit, windowMs, now = Date.now }: { limit: number; windowMs: number; now?: () => number }) {
    this.#limit = limit;
    this.#windowMs = windowMs;
    this.#now = now;
  }

  take(client: string): RateLimitDecision {
    const now = this.#now();
    this.#sweepExpired(now);
    let window = this.#windows.get(client);
    if (window === undefined || window.resetsAt <= now) {
      window = { count: 0, resetsAt: now + this.#windowMs };
      this.#windows.set(client, window);
    }
    window.count += 1;
    return {
      allowed: window.count <= this.#limit,
      retryAfterSeconds: Math.max(1, Math.ceil((window.resetsAt - now) / 1000)),
    };
  }

  get trackedClients(): number {
    return this.#windows.size;
  }

  #sweepExpired(now: number): void {
    if (now < this.#nextSweepAt) return;
    this.#nextSweepAt = now + this.#windowMs;
    for (const [client, window] of this.#windows) {
      if (window.resetsAt <= now) this.#windows.delete(client);
    }
  }
}

/** Probes and scrapes must keep working while a client is being throttled. */
const isExempt = (route: string | undefined) =>
  route !== undefined && (route.startsWith('/health/') || route === '/metrics');

/**
 * Limits each client by the socket's address. The gateway is the edge, so it does
 * not trust X-Forwarded-For: a client could send any address it liked in it.
 */
export function addRateLimit(app: FastifyInstance, { perMinute }: { perMinute: number }): void {
  const limiter = new RateLimiter({ limit: perMinute, windowMs: 60_000 });
  app.addHook('onRequest', (request, reply, done) => {
    if (isExempt(request.routeOptions.url)) return done();
    const decision = limiter.take(request.ip);
    if (decision.allowed) return done();
    reply.header('retry-after', String(decision.retryAfterSeconds));
    done(new RateLimitedError(perMinute, decision.retryAfterSeconds));
  });
}
