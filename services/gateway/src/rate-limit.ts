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
 * the client's first request of the window. Expired windows are swept by `sweep`, which
 * the gateway runs on a timer once per window: never inside a request, where a sweep of
 * many clients would stall that one request and everything queued behind it.
 */
export class RateLimiter {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #windows = new Map<string, ClientWindow>();

  constructor({ limit, windowMs, now = Date.now }: { limit: number; windowMs: number; now?: () => number }) {
    this.#limit = limit;
    this.#windowMs = windowMs;
    this.#now = now;
  }

  get windowMs(): number {
    return this.#windowMs;
  }

  take(client: string): RateLimitDecision {
    const now = this.#now();
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

  sweep(): void {
    const now = this.#now();
    for (const [client, window] of this.#windows) {
      if (window.resetsAt <= now) this.#windows.delete(client);
    }
  }
}

/**
 * Whom a request is counted against: an IPv4 address, or an IPv6 client's /64. One IPv6
 * host is usually given a whole /64 and can pick any of its 2^64 addresses per request,
 * so a bucket per address would be no limit at all (the common choice: Cloudflare, nginx
 * users, RFC 6177's end-site assignment).
 */
export function clientBucket(ip: string): string {
  if (!ip.includes(':')) return ip;
  const address = ip.split('%')[0] ?? ip;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped?.[1] !== undefined) return mapped[1];
  const [head = '', tail] = address.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? 0 : 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...Array<string>(Math.max(0, zeros)).fill('0'), ...tailGroups];
  return `${groups
    .slice(0, 4)
    .map((group) => Number.parseInt(group, 16).toString(16))
    .join(':')}::/64`;
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
  const sweeper = setInterval(() => limiter.sweep(), limiter.windowMs).unref();
  app.addHook('onClose', (_app, done) => {
    clearInterval(sweeper);
    done();
  });
  app.addHook('onRequest', (request, reply, done) => {
    if (isExempt(request.routeOptions.url)) return done();
    const decision = limiter.take(clientBucket(request.ip));
    if (decision.allowed) return done();
    reply.header('retry-after', String(decision.retryAfterSeconds));
    done(new RateLimitedError(perMinute, decision.retryAfterSeconds));
  });
}
