import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { ExpressInstrumentation, ExpressLayerType } from '@opentelemetry/instrumentation-express';
import express, { type ErrorRequestHandler, type Express, type RequestHandler, Router } from 'express';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import type { Faults } from './faults.js';
import { clientPath, FORWARDED_PREFIX_HEADER, pathBelowPrefix } from './forwarded-prefix.js';
import type { Health } from './health.js';
import { NotFoundError, PROBLEM_CONTENT_TYPE, ProtocolError, toHttpError } from './problem.js';
import { recordFailure } from './request-failure.js';
import { REQUEST_ID_HEADER, resolveRequestId, SERVED_BY_HEADER } from './request-id.js';
import { isOperationalPath, RequestStats } from './request-stats.js';
import { recordGeneratedRequestId } from './telemetry.js';

/**
 * OpenTelemetry's Express instrumentation, for a service's `runService({ instrumentations })`.
 * Express is bundled into the service, where no require hook can see it, so the
 * instrumentation's patch is applied to the module object itself. That happens before
 * the app is built: only routes added after it get spans.
 */
export function expressInstrumentation(): Instrumentation {
  // Request handlers only: a span per middleware (logging, problem answers) is noise.
  const instrumentation = new ExpressInstrumentation({
    ignoreLayersType: [ExpressLayerType.MIDDLEWARE, ExpressLayerType.ROUTER],
  });
  for (const definition of instrumentation.getModuleDefinitions()) definition.patch?.(express);
  return instrumentation;
}

export interface ExpressConventions {
  logger: Logger;
  health: Health;
  /** Present only with LAB_FAULTS on: without it no fault middleware is installed at all. */
  faults?: Faults | undefined;
}

const notFound: RequestHandler = (req, res) => {
  const path = clientPath(req.headers[FORWARDED_PREFIX_HEADER], req.path, req.baseUrl);
  const error = new NotFoundError(`No route for ${req.method} ${path}`);
  res
    .status(404)
    .type(PROBLEM_CONTENT_TYPE)
    .send(JSON.stringify(error.toProblem(req.originalUrl)));
};

const handleError: ErrorRequestHandler = (error, req, res, _next) => {
  const httpError = toHttpError(error);
  if (httpError.status >= 500) recordFailure(res, error);
  res
    .status(httpError.status)
    .set(httpError.headers)
    .type(PROBLEM_CONTENT_TYPE)
    .send(JSON.stringify(httpError.toProblem(req.originalUrl)));
};

/** LAB_FAULTS on the main port (see faults.ts); an injected error gets the house problem+json answer. */
function injectFaults(faults: Faults): RequestHandler {
  return (req, res, next) => {
    if (faults.current === null || isOperationalPath(req.url)) return next();
    faults.meet(res, (error) => (error ? handleError(error, req, res, next) : next()));
  };
}

/** An answered request (not one whose client left first) with pino-http's timing, in whole ms. */
function countAnswer(stats: RequestStats, req: IncomingMessage, res: ServerResponse, ms: number | undefined): void {
  if (res.writableEnded && !isOperationalPath(req.url ?? '')) stats.record(res.statusCode, ms ?? 0);
}

/**
 * A service's router followed by the house 404 and error answers (problem+json).
 * Express matches in order, so these come last. The monolith mounts the result as it
 * is; a path below the mount point gets the same answer as behind the gateway.
 */
export function withProblemAnswers(router: RequestHandler): Router {
  return Router().use(router, notFound, handleError);
}

/**
 * An Express app with the house conventions (request ids, `x-served-by`, one log
 * line per request, health routes) around a service's router.
 */
export function createExpressApp({ logger, health, faults }: ExpressConventions, router: RequestHandler): Express {
  const stats = new RequestStats(health.service, health.instance);
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', false);

  app.use(
    pinoHttp({
      logger,
      genReqId: (req, res) => {
        const id = resolveRequestId(req.headers[REQUEST_ID_HEADER]);
        res.setHeader(REQUEST_ID_HEADER, id);
        res.setHeader(SERVED_BY_HEADER, health.instance);
        recordGeneratedRequestId(req, id);
        return id;
      },
      customAttributeKeys: { reqId: 'reqId', responseTime: 'responseTimeMs' },
      // pino-http calls these once per finished request, at every log level: counting here costs no listener of ours.
      customSuccessMessage: (req, res, responseTime) => {
        countAnswer(stats, req, res, responseTime);
        return 'request completed';
      },
      // pino-http passes its timing here too, though its types do not say so.
      customErrorMessage: (req, res, _error, responseTime?: number) => {
        countAnswer(stats, req, res, responseTime);
        return 'request failed';
      },
      quietReqLogger: true,
      // Method, url and status only: headers can carry credentials, bodies personal data.
      serializers: {
        req: (req: { method?: string; url?: string }) => ({ method: req.method, url: req.url }),
        res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
      },
      wrapSerializers: false,
    }),
  );
  if (faults) app.use(injectFaults(faults));

  app.get('/health/live', (_req, res) => {
    const report = health.live();
    res.status(report.statusCode).json(report.body);
  });
  app.get('/health/ready', async (_req, res) => {
    const report = await health.ready();
    res.status(report.statusCode).json(report.body);
  });
  app.get('/health/stats', (_req, res) => {
    res.json(stats.snapshot());
  });
  app.use(withProblemAnswers(router));
  return app;
}

/**
 * Serves an Express router inside a Fastify app under `prefix` (the monolith mounts hello
 * this way). The router sees what it would see behind the gateway: the path below the
 * prefix, with `x-forwarded-prefix` set. Fastify's onRequest conventions (request id,
 * `x-served-by`, the Host check) run first, and its one log line is written at the end.
 * The hand-over happens before Fastify reads a body, so the router owns the whole request.
 * (@fastify/express does the same job in general; measured here, its per-request
 * bookkeeping cost the monolith 29% of its hello throughput.)
 */
export function mountExpressRouter(app: FastifyInstance, prefix: string, router: RequestHandler): void {
  const expressApp = express().disable('x-powered-by').use(withProblemAnswers(router));
  app.register(
    async (scope) => {
      scope.addHook('onRequest', (request, reply, done) => {
        const publicUrl = request.raw.url ?? prefix;
        const below = pathBelowPrefix(prefix, publicUrl);
        if (below === undefined) return done(new ProtocolError('ENCODED_PREFIX'));
        reply.hijack();
        for (const [name, value] of Object.entries(reply.getHeaders())) {
          if (value !== undefined) reply.raw.setHeader(name, value);
        }
        // Fastify still writes the request's log line when it finishes; with the public URL.
        reply.raw.prependOnceListener('finish', () => {
          request.raw.url = publicUrl;
        });
        request.raw.url = below;
        request.raw.headers[FORWARDED_PREFIX_HEADER] = prefix;
        expressApp(request.raw, reply.raw);
        done();
      });
      // Routes only so that the hook above runs for these paths; the router answers first.
      const handedOver = async () => undefined;
      scope.all('/', handedOver);
      scope.all('/*', handedOver);
    },
    { prefix },
  );
}
