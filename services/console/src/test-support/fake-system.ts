// Test support only (imported by *.test.ts, never by the app).

/**
 * A running system, faked at the fetch level: the gateway's topology, readiness and
 * stats, and each replica's stats and lab port, as URLs answering JSON. A URL that is
 * not there is a refused connection.
 */
export class FakeSystem {
  readonly answers = new Map<string, { status: number; body: unknown }>();
  /** URLs under these origins go to the network (a real listener the test started). */
  readonly realOrigins: string[] = [];
  now = 1_767_225_600_000;

  set(url: string, body: unknown, status = 200): void {
    this.answers.set(url, { status, body });
  }

  readonly fetch: typeof fetch = async (input, init) => {
    if (this.realOrigins.some((origin) => String(input).startsWith(`${origin}/`))) return globalThis.fetch(input, init);
    const answer = this.answers.get(String(input));
    if (answer === undefined) throw new TypeError('fetch failed', { cause: { code: 'ECONNREFUSED' } });
    return new Response(JSON.stringify(answer.body), {
      status: answer.status,
      headers: { 'content-type': 'application/json' },
    });
  };
}

export const BOUNDS = [5, 10, 25, 50, 100];
export const stats = (instance: string, requests: number, errors: number, counts: number[]) => ({
  service: 'x',
  instance,
  startedAt: '2026-01-01T00:00:00.000Z',
  requests,
  errors,
  statusClasses: { '2xx': requests - errors, '3xx': 0, '4xx': 0, '5xx': errors },
  latencyMs: { bounds: BOUNDS, counts },
});

export const instance = (address: string, name: string | null, ready: boolean | null, ejected = false) => ({
  address,
  healthy: ready === true && !ejected,
  ejected,
  ready,
  inFlight: 2,
  consecutiveFailures: 0,
  ejections: ejected ? 1 : 0,
  instance: name,
});

export function topology(helloBreaker: 'closed' | 'open' = 'closed') {
  return {
    gateway: { instance: 'gateway-1', version: '1.0.0' },
    upstreams: [
      {
        name: 'hello',
        prefix: '/api/hello',
        baseUrl: 'http://hello:8070',
        breaker: helloBreaker,
        inFlight: 0,
        requests: 10,
        attempts: 10,
        retries: 0,
        replicas: { known: 1, healthy: 1, ejected: 0 },
        instances: [instance('10.0.1.2', 'hello-1', true)],
      },
      {
        name: 'users',
        prefix: '/api/users',
        // A base path, as in front of the monolith: the port is still the replica's.
        baseUrl: 'http://users:8090/base',
        breaker: 'closed',
        inFlight: 0,
        requests: 100,
        attempts: 104,
        retries: 4,
        replicas: { known: 3, healthy: 2, ejected: 1 },
        instances: [
          instance('10.0.2.2', 'users-a', true),
          instance('10.0.2.3', null, true),
          instance('10.0.2.4', null, false, true),
        ],
      },
    ],
  };
}

export const GATEWAY = 'http://gateway:8080';
