import { FORWARDED_PREFIX_HEADER } from '@lab/platform/forwarded-prefix';
import { REQUEST_ID_HEADER, SERVED_BY_HEADER } from '@lab/platform/request-id';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { withoutCorsHeaders } from './cors.ts';
import { type Upstream, withoutHopByHop } from './upstream.ts';

/**
 * `/api/<service>` and everything below it goes to that service. Bodies pass
 * through as bytes: the gateway neither parses nor rewrites what clients send.
 */
export async function proxyRoutes(app: FastifyInstance, { upstreams }: { upstreams: readonly Upstream[] }) {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  for (const upstream of upstreams) {
    const handler = async (request: FastifyRequest, reply: import('fastify').FastifyReply) => {
      const response = await upstream.forward({
        method: request.method,
        path: upstream.upstreamPath(request.url),
        headers: {
          ...withoutHopByHop(request.headers),
          [REQUEST_ID_HEADER]: request.id,
          'x-forwarded-for': request.ip,
          'x-forwarded-proto': request.protocol,
          'x-forwarded-host': request.host,
          [FORWARDED_PREFIX_HEADER]: upstream.prefix,
        },
        ...(Buffer.isBuffer(request.body) ? { body: request.body } : {}),
      });
      return reply
        .code(response.statusCode)
        .headers(withoutCorsHeaders(response.headers))
        .header(REQUEST_ID_HEADER, request.id)
        .header(SERVED_BY_HEADER, response.headers[SERVED_BY_HEADER] ?? response.replica)
        .send(response.body);
    };
    app.all(upstream.prefix, handler);
    app.all(`${upstream.prefix}/*`, handler);
  }
}
