import { ProtocolError } from '@lab/platform/problem';
import { tracingActive, unsampledTraceparent, untracedRequest } from '@lab/platform/telemetry';
import { context } from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { REQUEST_DROPPED_WHEN_TRACING, upstreamRequestHeaders } from './header-policy.ts';
import { ProxyExchange } from './proxy-exchange.ts';
import type { RequestBodies } from './request-bodies.ts';
import type { Upstream } from './upstream.ts';

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);

/**
 * `/api/<service>` and everything below it goes to that service. Bodies pass
 * through as bytes: the gateway neither parses nor rewrites what clients send.
 */
export async function proxyRoutes(
  app: FastifyInstance,
  { upstreams, bodies }: { upstreams: readonly Upstream[]; bodies: RequestBodies },
) {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (request, _payload, done) => bodies.read(request.raw, done));
  // Held for a retry until the answer has gone, or the client has.
  const release = (request: FastifyRequest, _reply: unknown, done: () => void) => {
    bodies.release(request.raw);
    done();
  };
  app.addHook('onResponse', release);
  app.addHook('onRequestAbort', (request, done) => release(request, undefined, done));

  const tracing = tracingActive();
  const dropped = tracing ? REQUEST_DROPPED_WHEN_TRACING : undefined;
  for (const upstream of upstreams) {
    const handler = (request: FastifyRequest, reply: FastifyReply) => {
      const path = upstream.upstreamPath(request.url);
      if (path === undefined) {
        reply.send(new ProtocolError('ENCODED_PREFIX'));
        return;
      }
      const body = request.body;
      const method = request.method;
      const exchange = new ProxyExchange(upstream, reply, {
        method,
        path,
        headers: upstreamRequestHeaders(
          request.headers,
          {
            requestId: request.id,
            clientIp: request.ip,
            protocol: request.protocol,
            host: request.host,
            prefix: upstream.forwardedPrefix,
            // Not sampled here: tell the upstream so, or it would sample a trace of its own.
            traceparent: tracing && untracedRequest() ? unsampledTraceparent() : undefined,
          },
          dropped,
        ),
        body: Buffer.isBuffer(body) ? body : null,
        idempotent: IDEMPOTENT.has(method) || (method === 'POST' && request.headers['idempotency-key'] !== undefined),
        traceContext: tracing ? context.active() : undefined,
      });
      upstream.forward(exchange);
    };
    app.all(upstream.prefix, handler);
    app.all(`${upstream.prefix}/*`, handler);
  }
}
