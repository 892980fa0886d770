import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { PayloadTooLargeError } from '@lab/platform/problem';
import { tracingActive, unsampledTraceparent, untracedRequest } from '@lab/platform/telemetry';
import { context } from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { REQUEST_DROPPED_WHEN_TRACING, upstreamRequestHeaders } from './header-policy.ts';
import { ProxyExchange } from './proxy-exchange.ts';
import type { Upstream } from './upstream.ts';

/**
 * Bodies up to this size that announce their length are read before forwarding,
 * so an idempotent request can be sent again on a retry; larger or chunked bodies
 * stream through (and are not retried), so the gateway never holds more than this
 * of one request.
 */
export const RETRY_BUFFER_BYTES = 64 * 1024;

const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);

/** Marks a request whose body streams through instead of being read first. */
const STREAMED = Symbol('streamed body');

/** Counts a streamed body's bytes on their way upstream and stops it at the limit. */
async function* limited(body: IncomingMessage, limit: number): AsyncGenerator<Buffer> {
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new PayloadTooLargeError(limit);
    yield chunk as Buffer;
  }
}

/** A body small enough to keep for a retry; Node's parser has already enforced its Content-Length. */
function readBody(payload: IncomingMessage, done: (error: Error | null, body?: Buffer) => void) {
  const chunks: Buffer[] = [];
  payload.on('data', (chunk: Buffer) => chunks.push(chunk));
  payload.on('end', () => done(null, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
  payload.on('error', (error) => done(error));
}

/**
 * `/api/<service>` and everything below it goes to that service. Bodies pass
 * through as bytes: the gateway neither parses nor rewrites what clients send.
 */
export async function proxyRoutes(
  app: FastifyInstance,
  { upstreams, bodyLimit }: { upstreams: readonly Upstream[]; bodyLimit: number },
) {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (request, payload, done) => {
    const announced = request.headers['content-length'];
    const length = announced === undefined ? Number.NaN : Number(announced);
    if (length > bodyLimit) return done(new PayloadTooLargeError(bodyLimit));
    if (length <= RETRY_BUFFER_BYTES) return readBody(payload, done);
    done(null, STREAMED);
  });

  const tracing = tracingActive();
  const dropped = tracing ? REQUEST_DROPPED_WHEN_TRACING : undefined;
  for (const upstream of upstreams) {
    const handler = (request: FastifyRequest, reply: FastifyReply) => {
      const body = request.body;
      const method = request.method;
      const exchange = new ProxyExchange(upstream, reply, {
        method,
        path: upstream.upstreamPath(request.url),
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
        body: Buffer.isBuffer(body)
          ? body
          : body === STREAMED
            ? Readable.from(limited(request.raw, bodyLimit), { objectMode: false })
            : null,
        idempotent: IDEMPOTENT.has(method) || (method === 'POST' && request.headers['idempotency-key'] !== undefined),
        traceContext: tracing ? context.active() : undefined,
      });
      upstream.forward(exchange);
    };
    app.all(upstream.prefix, handler);
    app.all(`${upstream.prefix}/*`, handler);
  }
}
