import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import { pinoHttp } from 'pino-http';
import type { Health } from './health.js';
import { NotFoundError, PROBLEM_CONTENT_TYPE, toHttpError } from './problem.js';
import { REQUEST_ID_HEADER, resolveRequestId, SERVED_BY_HEADER } from './request-id.js';

export interface ExpressConventions {
  logger: Logger;
  health: Health;
}

/**
 * An Express app with the house conventions (request ids, `x-served-by`, one log
 * line per request, health routes). Call `finishExpressApp` after adding routes:
 * Express matches in order, so 404 and error handlers must come last.
 */
export function createExpressApp({ logger, health }: ExpressConventions): Express {
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
        return id;
      },
      customAttributeKeys: { reqId: 'reqId', responseTime: 'responseTimeMs' },
      customSuccessMessage: () => 'request completed',
      customErrorMessage: () => 'request failed',
      quietReqLogger: true,
      // Method, url and status only: headers can carry credentials, bodies personal data.
      serializers: {
        req: (req: { method?: string; url?: string }) => ({ method: req.method, url: req.url }),
        res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
      },
      wrapSerializers: false,
    }),
  );

  app.get('/health/live', (_req, res) => {
    const report = health.live();
    res.status(report.statusCode).json(report.body);
  });
  app.get('/health/ready', async (_req, res) => {
    const report = await health.ready();
    res.status(report.statusCode).json(report.body);
  });
  return app;
}

export function finishExpressApp(app: Express): Express {
  const notFound: RequestHandler = (req, res) => {
    const error = new NotFoundError(`No route for ${req.method} ${req.path}`);
    res
      .status(404)
      .type(PROBLEM_CONTENT_TYPE)
      .send(JSON.stringify(error.toProblem(req.originalUrl)));
  };
  const handleError: ErrorRequestHandler = (error, req, res, _next) => {
    const httpError = toHttpError(error);
    if (httpError.status >= 500) req.log.error({ err: error }, 'request failed');
    res
      .status(httpError.status)
      .type(PROBLEM_CONTENT_TYPE)
      .send(JSON.stringify(httpError.toProblem(req.originalUrl)));
  };
  app.use(notFound);
  app.use(handleError);
  return app;
}
