import type { FastifyInstance } from 'fastify';

/**
 * What helmet would send, cut down to a JSON API that no page should embed, frame
 * or read cross-origin. No Strict-Transport-Security: the gateway speaks plain http,
 * browsers ignore HSTS received over http (RFC 6797 8.1), and whatever terminates TLS
 * in front of it is the one that can promise https.
 */
export const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'cross-origin-resource-policy': 'same-origin',
} as const;

/**
 * Set on every answer just before it is sent, so the gateway's own errors carry them
 * too; the proxy never copies an upstream's version of them (header-policy.ts).
 * A callback hook: an async one would cost a promise per request.
 */
export function addSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', (_request, reply, payload, done) => {
    reply.headers(SECURITY_HEADERS);
    done(null, payload);
  });
}
