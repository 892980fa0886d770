import type { OutgoingHttpHeaders } from 'node:http';
import type { LogLevel } from '@lab/platform/config';
import { NotFoundError } from '@lab/platform/problem';
import type { FastifyPluginAsync } from 'fastify';
import { TooManyStreamsError } from './errors.ts';
import type { LiveStreams } from './live-streams.ts';
import { snapshotEvent } from './live-streams.ts';
import type { LiveSnapshot } from './live-types.ts';
import { type RequestRouting, requestsWithId, traceView } from './recent-requests.ts';
import type { TraceStore } from './trace-store.ts';

/** The page's API: the snapshot, once or as a stream, a trace's waterfall, and requests by id. */
export interface LiveRoutesOptions {
  snapshot: () => LiveSnapshot;
  routing: () => RequestRouting;
  store: TraceStore;
  streams: LiveStreams;
  /** For the routes the page calls every second. */
  logLevel: LogLevel;
}

/** How long the browser's EventSource waits before reconnecting after a dropped stream. */
const RECONNECT_MS = 2000;

export const liveRoutes: FastifyPluginAsync<LiveRoutesOptions> = async (app, options) => {
  const { snapshot, routing, store, streams } = options;
  const quiet = { logLevel: options.logLevel };

  app.get('/api/snapshot', quiet, async () => snapshot());

  app.get('/api/live', { ...quiet, exposeHeadRoute: false }, async (_request, reply) => {
    if (streams.full) throw new TooManyStreamsError(streams.max);
    reply.hijack();
    const headers: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) headers[name] = value;
    reply.raw.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      // A proxy in front (nginx) would otherwise buffer the stream.
      'x-accel-buffering': 'no',
      // The socket goes with the stream: an idle keep-alive socket left behind would hold up the server's close.
      connection: 'close',
    });
    streams.add(reply.raw, `retry: ${RECONNECT_MS}\n\n${snapshotEvent(JSON.stringify(snapshot()))}`);
    return reply;
  });

  app.get<{ Params: { traceId: string } }>(
    '/api/traces/:traceId',
    {
      schema: { params: { type: 'object', properties: { traceId: { type: 'string', pattern: '^[0-9a-fA-F]{32}$' } } } },
    },
    async ({ params }) => {
      const trace = store.get(params.traceId.toLowerCase());
      if (trace === undefined) throw new NotFoundError(`No trace ${params.traceId} is held (it may have been evicted)`);
      return traceView(trace);
    },
  );

  app.get<{ Querystring: { requestId: string } }>(
    '/api/requests',
    {
      schema: {
        querystring: {
          type: 'object',
          properties: { requestId: { type: 'string', minLength: 1, maxLength: 256 } },
          required: ['requestId'],
        },
      },
    },
    async ({ query }) => requestsWithId(store, routing(), query.requestId),
  );
};
