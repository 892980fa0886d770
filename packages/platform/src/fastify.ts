import type { ServerOptions } from 'node:http';
import { FastifyOtelInstrumentation } from '@fastify/otel';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
  LogController,
} from 'fastify';
import type { Logger } from 'pino';
import { answerClientError } from './client-errors.js';
import type { Faults } from './faults.js';
import { clientPath, FORWARDED_PREFIX_HEADER } from './forwarded-prefix.js';
import type { Health } from './health.js';
import {
  type HttpError,
  MethodNotAllowedError,
  NotFoundError,
  PROBLEM_CONTENT_TYPE,
  ProtocolError,
  toHttpError,
} from './problem.js';
import { failureOf, recordFailure } from './request-failure.js';
import { REQUEST_ID_HEADER, resolveRequestId, SERVED_BY_HEADER } from './request-id.js';
import { isOperationalPath, RequestStats } from './request-stats.js';
import { recordGeneratedRequestId, tracingActive, untracedPath, untracedRequest } from './telemetry.js';

let fastifyTracing: FastifyOtelInstrumentation | undefined;

/**
 * @fastify/otel's request and route-handler spans, under the HTTP server span. Hook
 * spans are off: a span per lifecycle hook would cost more than the hooks and bury
 * the hop in the waterfall.
 */
function addTracing(app: FastifyInstance): void {
  fastifyTracing ??= new FastifyOtelInstrumentation({
    instrumentHooks: false,
    // Asked per request: a request the head sampler dropped skips the plugin's work entirely.
    ignorePaths: (request) => untracedRequest() || untracedPath(request.url),
  });
  app.register(fastifyTracing.plugin());
  app.addHook('onRequest', (request, _reply, done) => {
    recordGeneratedRequestId(request.raw, request.id);
    done();
  });
}

export interface FastifyConventions {
  logger: Logger;
  health: Health;
  bodyLimit?: number;
  /** Present only with LAB_FAULTS on: without it no fault hook is installed at all. */
  faults?: Faults | undefined;
  /** Extra Fastify options a service needs (e.g. timeouts). */
  options?: Omit<FastifyServerOptions, 'logger' | 'loggerInstance'>;
  /** Node's own server options (e.g. headersTimeout). */
  http?: ServerOptions;
}

/** One log line per request, written when it completes (Fastify's default is two). */
class OneLinePerRequest extends LogController {
  readonly #logger: Logger;
  readonly #stats: RequestStats;

  constructor(logger: Logger, stats: RequestStats) {
    super({ requestIdLogLabel: 'reqId' });
    this.#logger = logger;
    this.#stats = stats;
  }

  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    // Every answered request passes here once, hello's in the monolith included (mountExpressRouter).
    if (!isOperationalPath(request.url)) this.#stats.record(reply.statusCode, reply.elapsedTime);
    // A failure's line carries its error and stack; see request-failure.ts.
    const failure = error ?? failureOf(reply.raw);
    // Below info (LOG_LEVEL=warn), skip building the line at all.
    if (!failure && !this.#logger.isLevelEnabled('info')) return;
    const line = { req: request, res: reply, responseTimeMs: Math.round(reply.elapsedTime * 10) / 10 };
    if (failure) reply.log.error({ ...line, err: failure }, 'request failed');
    else reply.log.info(line, 'request completed');
  }
}

/**
 * Every route's pattern and methods, so that a request no route took can be told
 * apart: no pattern matches its path (404), or one does but not for its method (405).
 */
class RouteTable {
  readonly #methodsByPattern = new Map<string, Set<string>>();

  add(url: string, methods: string | readonly string[]): void {
    const known = this.#methodsByPattern.get(url) ?? new Set<string>();
    for (const method of typeof methods === 'string' ? [methods] : methods) known.add(method.toUpperCase());
    this.#methodsByPattern.set(url, known);
  }

  allowedMethods(path: string): string[] {
    const segments = path.split('/');
    const allowed = new Set<string>();
    for (const [pattern, methods] of this.#methodsByPattern) {
      if (patternMatches(pattern.split('/'), segments)) for (const method of methods) allowed.add(method);
    }
    if (allowed.has('GET')) allowed.add('HEAD');
    return [...allowed].sort();
  }

  miss({ method, url, headers }: FastifyRequest): HttpError {
    const path = url.split('?')[0] ?? url;
    const allowed = this.allowedMethods(path);
    const shown = clientPath(headers[FORWARDED_PREFIX_HEADER], path);
    return allowed.length > 0
      ? new MethodNotAllowedError(method, shown, allowed)
      : new NotFoundError(`No route for ${method} ${shown}`);
  }
}

/** find-my-way's syntax: a segment holding `:` is a parameter, a final `*` takes the rest of the path. */
function patternMatches(pattern: readonly string[], segments: readonly string[]): boolean {
  for (const [index, part] of pattern.entries()) {
    if (part === '*') return true;
    const segment = segments[index];
    if (segment === undefined) return false;
    if (part.includes(':') ? segment === '' : part !== segment) return false;
  }
  return pattern.length === segments.length;
}

/** find-my-way lets `/:id` match `/` with an empty id; no route here means that. */
function hasEmptyParam(params: unknown): boolean {
  if (typeof params !== 'object' || params === null) return false;
  for (const name in params) {
    if (name !== '*' && (params as Record<string, unknown>)[name] === '') return true;
  }
  return false;
}

function sendProblem(reply: FastifyReply, error: HttpError, instance: string): FastifyReply {
  return reply.code(error.status).headers(error.headers).type(PROBLEM_CONTENT_TYPE).send(error.toProblem(instance));
}

/** Fastify's default answers these with plain JSON; clients get the same problem+json as everywhere else. */
function protocolErrorFor(error: FastifyError): HttpError {
  if (error.code === 'FST_ERR_BAD_URL') return new ProtocolError('MALFORMED_URL');
  if (error.code === 'FST_ERR_MAX_PARAM_LENGTH') return new ProtocolError('URL_TOO_LONG');
  return toHttpError(error);
}

/** LAB_FAULTS on the main port (see faults.ts); requests wait here, before any body is read or route runs. */
function addFaults(app: FastifyInstance, faults: Faults): void {
  app.addHook('onRequest', (request, reply, done) => {
    if (faults.current === null || isOperationalPath(request.url)) return done();
    faults.meet(reply.raw, done);
  });
  // A hung request would keep close() waiting for ever.
  app.addHook('preClose', (done) => {
    faults.release();
    done();
  });
}

/**
 * A Fastify instance with the house conventions: request ids, `x-served-by`,
 * one log line per request, problem+json errors, 404s and 405s, health routes.
 * Services add their own routes and plugins to it.
 */
export function createFastifyApp({
  logger,
  health,
  bodyLimit = 64 * 1024,
  faults,
  options = {},
  http = {},
}: FastifyConventions): FastifyInstance {
  const routes = new RouteTable();
  const stats = new RequestStats(health.service, health.instance);
  const app: FastifyInstance = Fastify({
    ...options,
    // pino's Logger is what Fastify uses internally; its types only differ in generics.
    loggerInstance: logger as FastifyBaseLogger,
    logController: new OneLinePerRequest(logger, stats),
    genReqId: (req) => resolveRequestId(req.headers[REQUEST_ID_HEADER]),
    bodyLimit,
    ajv: {
      // Reject what a client got wrong instead of silently fixing it.
      customOptions: { allErrors: true, removeAdditional: false, coerceTypes: false },
    },
    frameworkErrors: (error, request, reply) => {
      reply.header(REQUEST_ID_HEADER, request.id).header(SERVED_BY_HEADER, health.instance);
      sendProblem(reply, protocolErrorFor(error), request.url);
    },
    clientErrorHandler: (error, socket) => answerClientError(logger, error, socket),
    // Node would answer a missing Host with a bare 400 of its own; the onRequest hook answers it instead.
    http: { ...http, requireHostHeader: false },
  });

  app.addHook('onRoute', (route) => routes.add(route.url, route.method));
  if (tracingActive()) addTracing(app);

  // Callback hooks here and below: an async hook costs a promise on every request.
  app.addHook('onRequest', (request, reply, done) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    reply.header(SERVED_BY_HEADER, health.instance);
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
      return done(new ProtocolError('HOST_REQUIRED'));
    }
    done(hasEmptyParam(request.params) ? routes.miss(request) : undefined);
  });
  if (faults) addFaults(app, faults);

  app.setErrorHandler(async (error, request, reply) => {
    const httpError = toHttpError(error);
    if (httpError.status >= 500) recordFailure(reply.raw, error);
    return sendProblem(reply, httpError, request.url);
  });

  app.setNotFoundHandler(async (request, reply) => sendProblem(reply, routes.miss(request), request.url));

  app.get('/health/live', async (_request, reply) => {
    const report = health.live();
    return reply.code(report.statusCode).send(report.body);
  });
  app.get('/health/ready', async (_request, reply) => {
    const report = await health.ready();
    return reply.code(report.statusCode).send(report.body);
  });
  app.get('/health/stats', async () => stats.snapshot());

  return app;
}
