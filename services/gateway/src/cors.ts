import type { FastifyInstance } from 'fastify';

const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE';
const ALLOWED_REQUEST_HEADERS = 'content-type, idempotency-key, x-request-id';
const EXPOSED_RESPONSE_HEADERS = 'x-request-id, x-served-by, retry-after';
const PREFLIGHT_MAX_AGE_SECONDS = '600';

/** The gateway alone decides CORS, so an upstream's own access-control-* headers never reach a browser. */
export function withoutCorsHeaders(headers: Record<string, string | string[]>): Record<string, string | string[]> {
  return Object.fromEntries(
    Object.entries(headers).filter(([name]) => !name.toLowerCase().startsWith('access-control-')),
  );
}

function withVaryOrigin(vary: string | number | string[] | undefined): string {
  const current = Array.isArray(vary) ? vary.join(', ') : vary === undefined ? '' : String(vary);
  if (/(^|,)\s*(origin|\*)\s*(,|$)/i.test(current)) return current;
  return current === '' ? 'Origin' : `${current}, Origin`;
}

/**
 * CORS for an exact list of origins, without credentials (the API has no cookies).
 * Preflights from those origins are answered here; any other preflight goes on to
 * the upstream like any OPTIONS request and gets no access-control-* headers.
 */
export function addCors(app: FastifyInstance, origins: readonly string[]): void {
  const allowed = new Set(origins);
  const allowedOrigin = (origin: string | undefined) =>
    origin !== undefined && allowed.has(origin) ? origin : undefined;

  app.addHook('onRequest', async (request, reply) => {
    const origin = allowedOrigin(request.headers.origin);
    if (request.method !== 'OPTIONS' || origin === undefined) return;
    if (request.headers['access-control-request-method'] === undefined) return;
    return reply
      .code(204)
      .headers({
        'access-control-allow-origin': origin,
        'access-control-allow-methods': ALLOWED_METHODS,
        'access-control-allow-headers': ALLOWED_REQUEST_HEADERS,
        'access-control-max-age': PREFLIGHT_MAX_AGE_SECONDS,
        vary: 'Origin',
      })
      .send();
  });

  // onSend, because the proxied answer's headers (vary among them) are only set by then.
  app.addHook('onSend', async (request, reply, payload) => {
    reply.header('vary', withVaryOrigin(reply.getHeader('vary')));
    const origin = allowedOrigin(request.headers.origin);
    if (origin !== undefined) {
      reply.header('access-control-allow-origin', origin);
      reply.header('access-control-expose-headers', EXPOSED_RESPONSE_HEADERS);
    }
    return payload;
  });
}
