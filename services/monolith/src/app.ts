import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { buildApp as buildHelloApp } from '@lab/hello/app';
import { answerClientError } from '@lab/platform/client-errors';
import { FORWARDED_PREFIX_HEADER } from '@lab/platform/forwarded-prefix';
import { Health, type HealthReport } from '@lab/platform/health';
import { createLogger, type Logger } from '@lab/platform/logger';
import {
  MethodNotAllowedError,
  NotFoundError,
  PROBLEM_CONTENT_TYPE,
  ProtocolError,
  toHttpError,
} from '@lab/platform/problem';
import { REQUEST_ID_HEADER, resolveRequestId, SERVED_BY_HEADER } from '@lab/platform/request-id';
import { buildApp as buildUsersApp } from '@lab/users/app';
import type { MonolithConfig } from './config.ts';

export interface MonolithDeps {
  logger?: Logger;
  health?: Health;
}

/**
 * The whole public API in one process. `server` is a node:http server that is not
 * listening yet: main listens on PORT, tests on port 0, after `ready()`.
 */
export interface Monolith {
  readonly server: Server;
  readonly health: Health;
  /** Loads the users app: Fastify registers its routes and hooks only then. */
  ready(): Promise<void>;
  /** Stops listening, lets in-flight requests finish, then closes the users database. */
  close(): Promise<void>;
}

type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

interface Mount {
  prefix: string;
  listener: RequestListener;
}

const HEALTH_METHODS = ['GET', 'HEAD'] as const;

/** The gateway's rule: `/api/users/42` reaches users as `/42`, `/api/users?limit=2` as `/?limit=2`. */
function pathBelow(prefix: string, url: string): string | undefined {
  if (!url.startsWith(prefix)) return undefined;
  const rest = url.slice(prefix.length);
  if (rest === '' || rest.startsWith('?')) return `/${rest}`;
  // `/api/usersx` belongs to no service.
  return rest.startsWith('/') ? rest : undefined;
}

/** As in @lab/platform/fastify: an HTTP/1.1 request without Host is refused before any route runs. */
const lacksHost = (req: IncomingMessage) => req.httpVersion === '1.1' && req.headers.host === undefined;

function sendJson(
  res: ServerResponse,
  statusCode: number,
  contentType: string,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(statusCode, {
    ...headers,
    'content-type': `${contentType}; charset=utf-8`,
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

export function buildMonolith(config: MonolithConfig, deps: MonolithDeps = {}): Monolith {
  const logger = deps.logger ?? createLogger(config);
  // One process, one readiness: both apps share this Health, so users adds its database
  // check to it, and draining turns the monolith and both mounted apps unready at once.
  const health = deps.health ?? new Health(config.service, config.instance);
  const helloApp = buildHelloApp(config.hello, { logger: logger.child({ component: 'hello' }), health });
  const usersApp = buildUsersApp(config.users, { logger: logger.child({ component: 'users' }), health });

  const mounts: readonly Mount[] = [
    { prefix: '/api/hello', listener: (req, res) => helloApp(req, res) },
    // Fastify's entry point for a server it did not create (the serverFactory setup).
    { prefix: '/api/users', listener: (req, res) => usersApp.routing(req, res) },
  ];

  const ownRoute = async (req: IncomingMessage, path: string): Promise<HealthReport> => {
    if (lacksHost(req)) throw new ProtocolError('HOST_REQUIRED');
    const method = req.method ?? 'GET';
    if (path !== '/health/live' && path !== '/health/ready') throw new NotFoundError(`No route for ${method} ${path}`);
    if (!(HEALTH_METHODS as readonly string[]).includes(method)) {
      throw new MethodNotAllowedError(method, path, HEALTH_METHODS);
    }
    return path === '/health/live' ? health.live() : health.ready();
  };

  const answerOwnRoute = async (req: IncomingMessage, res: ServerResponse, url: string): Promise<void> => {
    const startedAt = performance.now();
    const reqId = resolveRequestId(req.headers[REQUEST_ID_HEADER]);
    const requestLogger = logger.child({ reqId });
    res.setHeader(REQUEST_ID_HEADER, reqId);
    res.setHeader(SERVED_BY_HEADER, health.instance);
    res.once('finish', () => {
      const responseTimeMs = Math.round((performance.now() - startedAt) * 10) / 10;
      requestLogger.info({ req, res, responseTimeMs }, 'request completed');
    });
    try {
      const report = await ownRoute(req, url.split('?')[0] ?? url);
      sendJson(res, report.statusCode, 'application/json', report.body);
    } catch (error) {
      const httpError = toHttpError(error);
      if (httpError.status >= 500) requestLogger.error({ err: error }, 'request failed');
      sendJson(res, httpError.status, PROBLEM_CONTENT_TYPE, httpError.toProblem(url), httpError.headers);
    }
  };

  const findMount = (url: string) => {
    for (const { prefix, listener } of mounts) {
      const path = pathBelow(prefix, url);
      if (path !== undefined) return { listener, path, prefix };
    }
    return undefined;
  };

  const route: RequestListener = (req, res) => {
    const url = req.url ?? '/';
    const mount = lacksHost(req) ? undefined : findMount(url);
    if (mount === undefined) {
      void answerOwnRoute(req, res, url);
      return;
    }
    // The mounted app sees what it would see behind the gateway: its own paths, from `/`.
    req.url = mount.path;
    req.headers[FORWARDED_PREFIX_HEADER] = mount.prefix;
    mount.listener(req, res);
  };

  // Node would refuse a request without Host with a bare 400; `ownRoute` refuses it with problem+json.
  const server = createServer({ requireHostHeader: false }, route);
  server.on('clientError', (error: Error & { code?: string }, socket) => answerClientError(logger, error, socket));

  return {
    server,
    health,
    async ready() {
      await usersApp.ready();
    },
    async close() {
      if (server.listening) {
        await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
      }
      await usersApp.close();
    },
  };
}
