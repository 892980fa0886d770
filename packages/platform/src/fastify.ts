import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
  LogController,
} from 'fastify';
import type { Logger } from 'pino';
import type { Health } from './health.js';
import { NotFoundError, PROBLEM_CONTENT_TYPE, toHttpError } from './problem.js';
import { REQUEST_ID_HEADER, resolveRequestId, SERVED_BY_HEADER } from './request-id.js';

export interface FastifyConventions {
  logger: Logger;
  health: Health;
  bodyLimit?: number;
  /** Extra Fastify options a service needs (e.g. timeouts). */
  options?: Omit<FastifyServerOptions, 'logger' | 'loggerInstance'>;
}

/** One log line per request, written when it completes (Fastify's default is two). */
class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = { req: request, res: reply, responseTimeMs: Math.round(reply.elapsedTime * 10) / 10 };
    if (error) reply.log.error({ ...line, err: error }, 'request failed');
    else reply.log.info(line, 'request completed');
  }
}

/**
 * A Fastify instance with the house conventions: request ids, `x-served-by`,
 * one log line per request, problem+json errors and 404s, health routes.
 * Services add their own routes and plugins to it.
 */
export function createFastifyApp({
  logger,
  health,
  bodyLimit = 64 * 1024,
  options = {},
}: FastifyConventions): FastifyInstance {
  const app: FastifyInstance = Fastify({
    ...options,
    // pino's Logger is what Fastify uses internally; its types only differ in generics.
    loggerInstance: logger as FastifyBaseLogger,
    logController: new OneLinePerRequest({ requestIdLogLabel: 'reqId' }),
    genReqId: (req) => resolveRequestId(req.headers[REQUEST_ID_HEADER]),
    bodyLimit,
    ajv: {
      // Reject what a client got wrong instead of silently fixing it.
      customOptions: { allErrors: true, removeAdditional: false, coerceTypes: false },
    },
  });

  app.addHook('onRequest', async (request, reply) => {
    reply.header(REQUEST_ID_HEADER, request.id);
    reply.header(SERVED_BY_HEADER, health.instance);
  });

  app.setErrorHandler(async (error, request, reply) => {
    const httpError = toHttpError(error);
    if (httpError.status >= 500) request.log.error({ err: error }, 'request failed');
    return reply.code(httpError.status).type(PROBLEM_CONTENT_TYPE).send(httpError.toProblem(request.url));
  });

  app.setNotFoundHandler(async (request, reply) => {
    const httpError = new NotFoundError(`No route for ${request.method} ${request.url.split('?')[0]}`);
    return reply.code(404).type(PROBLEM_CONTENT_TYPE).send(httpError.toProblem(request.url));
  });

  app.get('/health/live', async (_request, reply) => {
    const report = health.live();
    return reply.code(report.statusCode).send(report.body);
  });
  app.get('/health/ready', async (_request, reply) => {
    const report = await health.ready();
    return reply.code(report.statusCode).send(report.body);
  });

  return app;
}
