import { EventEmitter } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { createRequire } from 'node:module';
import { type Context, context, propagation, type Span, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { isTracingSuppressed, parseTraceParent, W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { type Instrumentation, registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOnSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  SamplingDecision,
  type SpanExporter,
  TracerProvider,
} from '@opentelemetry/sdk-trace';
import { ConfigError, type ConfigReader } from './config.js';
import { REQUEST_ID_HEADER } from './request-id.js';
import { isOperationalPath } from './request-stats.js';

/**
 * Tracing with the OpenTelemetry SDK, configured by the standard variables
 * (https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/),
 * exported as OTLP over HTTP (protobuf) to any collector: the lab console, Jaeger,
 * Tempo, the Aspire dashboard. Off unless an OTLP endpoint is set.
 */

export const TRACES_SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
] as const;
export type TracesSampler = (typeof TRACES_SAMPLERS)[number];

/** Health probes and scrapes would be most of the traces and teach nothing. */
export const untracedPath = (path: string | undefined): boolean => path !== undefined && isOperationalPath(path);

function optionalUrl(read: ConfigReader, name: string): string | undefined {
  return read.string(name, '') === '' ? undefined : read.httpUrl(name, '');
}

function resourceAttributes(read: ConfigReader): Record<string, string> {
  const attributes: Record<string, string> = {};
  const raw = read.string('OTEL_RESOURCE_ATTRIBUTES', '');
  if (raw === '') return attributes;
  for (const pair of raw.split(',')) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new ConfigError('OTEL_RESOURCE_ATTRIBUTES', 'must be key=value pairs separated by commas', raw);
    attributes[decodeURIComponent(pair.slice(0, at).trim())] = decodeURIComponent(pair.slice(at + 1).trim());
  }
  return attributes;
}

/** The standard OTEL_* variables this project honours; see the README's tracing section. */
export function readTelemetrySettings(read: ConfigReader, service: string) {
  const tracesEndpoint = optionalUrl(read, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  const endpoint = optionalUrl(read, 'OTEL_EXPORTER_OTLP_ENDPOINT');
  // The spec's rule: the signal-specific URL is used as is; the base one gets /v1/traces.
  const url = tracesEndpoint ?? (endpoint === undefined ? undefined : `${endpoint}/v1/traces`);
  read.oneOf('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL', ['http/protobuf'], 'http/protobuf');
  read.oneOf('OTEL_EXPORTER_OTLP_PROTOCOL', ['http/protobuf'], 'http/protobuf');
  return {
    enabled: !read.boolean('OTEL_SDK_DISABLED', false) && url !== undefined,
    url: url ?? null,
    serviceName: read.string('OTEL_SERVICE_NAME', service),
    sampler: read.oneOf('OTEL_TRACES_SAMPLER', TRACES_SAMPLERS, 'parentbased_always_on'),
    samplerArg: read.fraction('OTEL_TRACES_SAMPLER_ARG', 1),
    resourceAttributes: resourceAttributes(read),
    /** Export more often than the SDK's 5 s, so a live view keeps up. */
    exportDelayMs: read.integer('OTEL_BSP_SCHEDULE_DELAY', 1000, { min: 50, max: 60_000 }),
  };
}

export type TelemetrySettings = ReturnType<typeof readTelemetrySettings>;

/**
 * The sampling decision, taken once per incoming request before any instrumentation
 * work: the OTEL_TRACES_SAMPLER rules (a parent-based sampler follows the caller's
 * traceparent flag; a root is kept always, never, or with the ratio's probability).
 *
 * Why here and not in the SDK's sampler: the instrumentations compute a span's
 * attributes (URL parsing, header copies) and bind the request's emitters before the
 * SDK's sampler is asked, so a request it drops still cost most of a traced one; measured
 * on the gateway, 10% sampling cost 50% of its throughput that way. A request dropped
 * here runs with tracing suppressed instead: the instrumentations skip it.
 */
export function headSampler(
  { sampler, samplerArg }: Pick<TelemetrySettings, 'sampler' | 'samplerArg'>,
  { edge = false }: { edge?: boolean } = {},
) {
  // At the edge the caller is any client: following its flag would let it trace every request.
  const parentBased = sampler.startsWith('parentbased_') && !edge;
  const root: () => boolean = sampler.endsWith('always_on')
    ? () => true
    : sampler.endsWith('always_off')
      ? () => false
      : () => Math.random() < samplerArg;
  return (request: Pick<IncomingMessage, 'headers'>): boolean => {
    const traceparent = request.headers.traceparent;
    if (parentBased && typeof traceparent === 'string') {
      const parent = parseTraceParent(traceparent);
      if (parent !== null) return (parent.traceFlags & 1) === 1;
    }
    return root();
  };
}

/**
 * The SDK's sampler once headSampler has decided: a root span is kept only if it is an
 * incoming request's server span (what headSampler let through); a root of any other
 * kind started outside a request's context (a dropped request's listener, a timer) is
 * not. Below a root, the parent decides, unless the configured sampler ignores parents.
 */
const serverRoots: Sampler = {
  shouldSample: (_context, _traceId, _name, kind) => ({
    decision: kind === SpanKind.SERVER ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD,
  }),
  toString: () => 'ServerRootsSampler',
};

function sdkSampler(sampler: TracesSampler, edge: boolean): Sampler {
  // At the edge headSampler alone decides; a client's traceparent still lends the trace its id.
  if (edge)
    return new ParentBasedSampler({
      root: serverRoots,
      remoteParentSampled: serverRoots,
      remoteParentNotSampled: serverRoots,
    });
  if (sampler.startsWith('parentbased_')) return new ParentBasedSampler({ root: serverRoots });
  const always = new AlwaysOnSampler();
  return new ParentBasedSampler({ root: serverRoots, remoteParentSampled: always, remoteParentNotSampled: always });
}

/**
 * True where no traced request is under way: a request the head sampler dropped (tracing
 * suppressed), or code outside any request's span, as a dropped request's emitter
 * callbacks are (see LeanContextManager).
 */
export const untracedRequest = (): boolean => {
  const active = context.active();
  return isTracingSuppressed(active) || trace.getSpan(active) === undefined;
};

/**
 * AsyncLocalStorage contexts, except that binding an event emitter to a context where
 * tracing is suppressed does nothing. The HTTP instrumentation binds every request's
 * and response's emitters, which wraps each listener the frameworks then add in a
 * closure: for a request the head sampler dropped that was most of what tracing still
 * cost (measured on the monolith: a third of its hello throughput at 0% sampling).
 * Its listeners then run outside any span, which untracedRequest counts as untraced.
 */
class LeanContextManager extends AsyncLocalStorageContextManager {
  override bind<T>(target: Context, fn: T): T {
    if (fn instanceof EventEmitter && isTracingSuppressed(target)) return fn;
    return super.bind(target, fn);
  }
}

const HEX = '0123456789abcdef';
const randomHex = (length: number) => {
  let out = '';
  for (let i = 0; i < length; i++) out += HEX[(Math.random() * 16) | 0];
  return out;
};

/**
 * A traceparent that says "not sampled", for a proxy to send on with a request it does
 * not trace, so the next service follows the decision instead of sampling a root of its
 * own. Random ids (not the caller's: an untraced hop writes no span to be the parent).
 */
export const unsampledTraceparent = (): string => `00-${randomHex(32)}-${randomHex(16)}-00`;

/** Spans flushed at shutdown wait at most this long: a missing collector must not eat the grace period. */
const SHUTDOWN_EXPORT_MS = 1000;

const SERVER_SPAN = Symbol('server span');
type WithServerSpan = IncomingMessage & { [SERVER_SPAN]?: Span };

/** The attribute the console (and any backend) finds a request by; stable HTTP semconv spelling. */
export const REQUEST_ID_ATTRIBUTE = `http.request.header.${REQUEST_ID_HEADER}`;

/**
 * A request id the service made up (the client sent none) goes on the request's
 * server span too, so a log line's reqId finds its trace. A sent one is already there.
 */
export function recordGeneratedRequestId(request: IncomingMessage, id: string): void {
  if (request.headers[REQUEST_ID_HEADER] === undefined) {
    (request as WithServerSpan)[SERVER_SPAN]?.setAttribute(REQUEST_ID_ATTRIBUTE, [id]);
  }
}

export interface Telemetry {
  /** Exports what is buffered now. */
  flush(): Promise<void>;
  /** Exports what is buffered and stops; called on shutdown, after the server closed. */
  shutdown(): Promise<void>;
}

export interface TelemetryOptions {
  /** Called only when tracing is on: a service's own instrumentations. */
  instrumentations?: () => Instrumentation[];
  /** Instead of OTLP to settings.url (tests keep spans in memory). */
  exporter?: SpanExporter;
  /**
   * The service takes requests from clients directly (the gateway, the monolith): the
   * sampling rate is its own, whatever flag a client's traceparent carries.
   */
  edge?: boolean;
}

let active = false;

/** True once startTelemetry ran with tracing enabled: the framework conventions add their instrumentation then. */
export const tracingActive = (): boolean => active;

/**
 * Starts tracing for the process, before the app is built: the HTTP server
 * instrumentation (server spans, W3C traceparent extraction) plus the service's own
 * (the gateway's undici client, Express where hello's router runs). Fastify is
 * instrumented by the platform's conventions when they build an app (fastify.ts).
 */
export function startTelemetry(
  settings: TelemetrySettings,
  identity: { instance: string; version: string },
  { instrumentations = () => [], exporter, edge = false }: TelemetryOptions = {},
): Telemetry | undefined {
  if (!settings.enabled || settings.url === null) return undefined;
  const sampled = headSampler(settings, { edge });
  const provider = new TracerProvider({
    sampler: sdkSampler(settings.sampler, edge),
    resource: resourceFromAttributes({
      ...settings.resourceAttributes,
      'service.name': settings.serviceName,
      'service.instance.id': identity.instance,
      'service.version': identity.version,
    }),
    spanProcessors: [
      new BatchSpanProcessor({
        exporter: exporter ?? new OTLPTraceExporter({ url: settings.url }),
        scheduledDelayMillis: settings.exportDelayMs,
      }),
    ],
  });
  context.setGlobalContextManager(new LeanContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [
      new HttpInstrumentation({
        ignoreIncomingRequestHook: (request) => untracedPath(request.url) || !sampled(request),
        // Outgoing node:http requests: none here but the healthcheck's fetch, which is undici.
        disableOutgoingRequestInstrumentation: true,
        headersToSpanAttributes: { server: { requestHeaders: [REQUEST_ID_HEADER] } },
        requestHook: (span, request) => {
          if ('headers' in request && !('setHeader' in request)) (request as WithServerSpan)[SERVER_SPAN] = span;
        },
      }),
      ...instrumentations(),
    ],
  });
  // The services are bundled: the frameworks' own require('node:http') ran before the
  // hook was installed. One require now applies the patch (to the shared module object).
  createRequire(import.meta.url)('node:http');
  active = true;
  return {
    flush: () => provider.forceFlush(),
    shutdown: () =>
      new Promise<void>((resolve) => {
        setTimeout(resolve, SHUTDOWN_EXPORT_MS).unref();
        provider.shutdown().then(resolve, resolve);
      }),
  };
}
