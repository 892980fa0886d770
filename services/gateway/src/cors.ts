import type { FastifyInstance } from 'fastify';

const ALLOWED_METHODS = 'GET, HEAD, POST, PUT, PATCH, DELETE';
const ALLOWED_REQUEST_HEADERS = 'content-type, idempotency-key, x-request-id';
const EXPOSED_RESPONSE_HEADERS = 'x-request-id, x-served-by, retry-after';
const PREFLIGHT_MAX_AGE_SECONDS = '600';

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

  app.addHook('onRequest', (request, reply, done) => {
    const origin = allowedOrigin(request.headers.origin);
    if (request.method !== 'OPTIONS' || origin === undefined) return done();
    if (request.headers['access-control-request-method'] === undefined) return done();
    reply
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
  // An upstream's own access-control-* never get that far (header-policy.ts).
  app.addHook('onSend', (request, reply, payload, done) => {
    reply.header('vary', withVaryOrigin(reply.getHeader('vary')));
    const origin = allowedOrigin(request.headers.origin);
    if (origin !== undefined) {
      reply.header('access-control-allow-origin', origin);
      reply.header('access-control-expose-headers', EXPOSED_RESPONSE_HEADERS);
    }
    done(null, payload);
  });
}
