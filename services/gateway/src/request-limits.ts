import { UriTooLongError } from '@lab/platform/problem';
import type { FastifyInstance } from 'fastify';

/**
 * 8 KiB, as nginx and most proxies allow. Bodies are capped by BODY_LIMIT_BYTES
 * (413) and headers by Node's maxHeaderSize (16 KiB, 431 before Fastify sees the
 * request); the request line counts towards that too, so longer URLs get 431.
 */
export const MAX_URL_LENGTH = 8 * 1024;

export function addUrlLengthLimit(app: FastifyInstance): void {
  app.addHook('onRequest', (request, _reply, done) => {
    done(request.url.length > MAX_URL_LENGTH ? new UriTooLongError(request.url.length, MAX_URL_LENGTH) : undefined);
  });
}
