import { createGunzip } from 'node:zlib';
import type { LogLevel } from '@lab/platform/config';
import { type HttpError, PayloadTooLargeError } from '@lab/platform/problem';
import type { FastifyPluginAsync, onRequestHookHandler } from 'fastify';
import { IngestRateExceededError, MalformedOtlpError, UnsupportedMediaTypeError } from './errors.ts';
import type { IngestBudget } from './ingest-budget.ts';
import { decodeJsonExport, encodeJsonResponse } from './otlp-json.ts';
import { decodeProtobufExport, encodeProtobufResponse } from './otlp-protobuf.ts';
import { type IngestedSpan, spanPath } from './spans.ts';
import type { TraceStore } from './trace-store.ts';

type Encoding = 'protobuf' | 'json';

/** OTLP/HTTP's two encodings; `application/protobuf` is what some exporters send for the first. */
const MEDIA_TYPES: Readonly<Record<string, Encoding>> = {
  'application/x-protobuf': 'protobuf',
  'application/protobuf': 'protobuf',
  'application/json': 'json',
};

function encodingOf(contentType: string | undefined): Encoding | undefined {
  const mediaType = contentType?.split(';', 1)[0]?.trim().toLowerCase() ?? '';
  return Object.hasOwn(MEDIA_TYPES, mediaType) ? MEDIA_TYPES[mediaType] : undefined;
}

/**
 * The console's own polling and the gateway's probes make a trace or two a second per
 * replica (readiness, stats, faults, topology); kept, they would push every real request
 * out of the store. Such a trace is recognised by its root span and dropped whole, spans
 * that came before the root included.
 */
const HOUSEKEEPING_PATH = /^\/(health\/|faults$|api\/_topology$)/;
/** Enough to recognise late spans of the last minute's housekeeping traces. */
const REMEMBERED_HOUSEKEEPING_TRACES = 10_000;

export class HousekeepingFilter {
  readonly #traceIds = new Set<string>();

  /** The spans worth keeping; forgets stored traces that turn out to be housekeeping. */
  keep(spans: readonly IngestedSpan[], store: TraceStore): IngestedSpan[] {
    for (const span of spans) {
      if (span.parentSpanId !== null || (span.kind !== 'server' && span.kind !== 'client')) continue;
      const path = spanPath(span);
      if (path === null || !HOUSEKEEPING_PATH.test(path) || this.#traceIds.has(span.traceId)) continue;
      this.#traceIds.add(span.traceId);
      store.forget(span.traceId);
      if (this.#traceIds.size > REMEMBERED_HOUSEKEEPING_TRACES) {
        this.#traceIds.delete(this.#traceIds.values().next().value as string);
      }
    }
    return spans.filter((span) => !this.#traceIds.has(span.traceId));
  }
}

export interface OtlpReceiverOptions {
  store: TraceStore;
  budget: IngestBudget;
  maxBodyBytes: number;
  /** Exporters post every few seconds from every process: no line per request. */
  logLevel: LogLevel;
}

/**
 * POST /v1/traces, OTLP/HTTP: binary protobuf or JSON, optionally gzipped. The answer is
 * an ExportTraceServiceResponse in the request's encoding. Refusals are problem+json with
 * the statuses exporters understand: 400 (do not retry), 413, 415, 429 with Retry-After.
 * Encapsulated: its content-type parsers replace the app's JSON parser for this route only.
 */
export const otlpReceiver: FastifyPluginAsync<OtlpReceiverOptions> = async (app, options) => {
  const { store, budget, maxBodyBytes, logLevel } = options;
  const housekeeping = new HousekeepingFilter();

  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    Object.keys(MEDIA_TYPES),
    { parseAs: 'buffer', bodyLimit: maxBodyBytes },
    (_request, body, done) => done(null, body),
  );

  // Everything that can be refused without the body is refused before it is read.
  const admit: onRequestHookHandler = (request, _reply, done) => {
    if (encodingOf(request.headers['content-type']) === undefined) {
      return done(new UnsupportedMediaTypeError('OTLP/HTTP takes application/x-protobuf or application/json'));
    }
    const contentEncoding = request.headers['content-encoding']?.trim().toLowerCase() ?? 'identity';
    if (contentEncoding !== 'identity' && contentEncoding !== 'gzip') {
      return done(new UnsupportedMediaTypeError('OTLP/HTTP bodies are sent as they are or gzipped'));
    }
    const retryAfterSeconds = budget.retryAfterSeconds();
    if (retryAfterSeconds > 0) return done(new IngestRateExceededError(budget.bytesPerSecond, retryAfterSeconds));
    done();
  };

  app.post('/v1/traces', { bodyLimit: maxBodyBytes, logLevel, onRequest: admit }, async (request, reply) => {
    const encoding = encodingOf(request.headers['content-type']) as Encoding;
    const received = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const gzipped = request.headers['content-encoding']?.trim().toLowerCase() === 'gzip';
    if (!gzipped) budget.spend(received.length);
    const body = gzipped ? await inflateCharged(received, maxBodyBytes, budget) : received;
    const decoded = encoding === 'protobuf' ? decodeProtobufExport(body) : decodeJsonExport(body.toString('utf8'));
    store.add(housekeeping.keep(decoded.spans, store));
    const rejected = decoded.rejectedSpans;
    const message = rejected > 0 ? `${rejected} spans had an invalid trace id, span id or parent span id` : '';
    if (encoding === 'protobuf') {
      return reply.type('application/x-protobuf').send(encodeProtobufResponse(rejected, message));
    }
    return reply.type('application/json').send(encodeJsonResponse(rejected, message));
  });
};

/** `size`: the bytes inflated before the end, the limit or the first error. */
type Inflated = { size: number; body: Buffer } | { size: number; error: HttpError };

/** Inflates up to the first chunk past maxBytes: a gzip bomb stops there instead of filling the heap. */
function gunzipBounded(compressed: Buffer, maxBytes: number): Promise<Inflated> {
  return new Promise((resolve) => {
    const gunzip = createGunzip();
    const chunks: Buffer[] = [];
    let size = 0;
    gunzip.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= maxBytes) {
        chunks.push(chunk);
        return;
      }
      gunzip.destroy();
      resolve({ size, error: new PayloadTooLargeError(maxBytes) });
    });
    gunzip.once('end', () => resolve({ size, body: Buffer.concat(chunks, size) }));
    gunzip.once('error', () => resolve({ size, error: new MalformedOtlpError('gzip', 'it is not valid gzip data') }));
    gunzip.end(compressed);
  });
}

/**
 * A gzipped body costs what it inflates to: decoding is the work the budget bounds, and a
 * few KiB of gzip inflate to MiBs. So the budget is charged the inflated bytes (never less
 * than the bytes received), a refused bomb included.
 */
async function inflateCharged(compressed: Buffer, maxBytes: number, budget: IngestBudget): Promise<Buffer> {
  const inflated = await gunzipBounded(compressed, maxBytes);
  budget.spend(Math.max(compressed.length, inflated.size));
  if ('error' in inflated) throw inflated.error;
  return inflated.body;
}
