import type { LogLevel } from '@lab/platform/config';
import { createFastifyApp } from '@lab/platform/fastify';
import { untrustedOrigin } from '@lab/platform/faults';
import type { Logger } from '@lab/platform/logger';
import { type ServiceDeps, serviceDeps } from '@lab/platform/run-service';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { ConsoleConfig } from './config.ts';
import { faultRoutes } from './fault-routes.ts';
import { IngestBudget } from './ingest-budget.ts';
import { liveRoutes } from './live-routes.ts';
import { LiveStreams, snapshotEvent } from './live-streams.ts';
import { otlpReceiver } from './otlp-receiver.ts';
import { CONTENT_SECURITY_POLICY, loadPageAssets, type PageAssets, pageRoutes } from './page-assets.ts';
import { Poller, type PollerDeps } from './poller.ts';
import { buildSnapshot, requestRouting } from './snapshot.ts';
import { TraceStore } from './trace-store.ts';

export interface ConsoleDeps extends Partial<ServiceDeps>, PollerDeps {
  /** The built page; by default dist/public beside the bundled main.js. */
  pageDir?: string | URL;
  /** A poller the caller drives (tests call pollOnce); by default the app's own, started when it is ready. */
  poller?: Poller;
}

export interface ConsoleOptions {
  config: ConsoleConfig;
  logger: Logger;
  deps: ConsoleDeps;
}

/** The API's own bodies are fault settings: a few dozen bytes. OTLP has its own limit. */
const API_BODY_LIMIT = 16 * 1024;

const LEVEL_VALUES: Readonly<Record<LogLevel, number>> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: Number.POSITIVE_INFINITY,
};

/**
 * For the routes called every second (OTLP exports, the page's polling): a line per
 * request would drown the log, so they log warnings and up, or less if LOG_LEVEL says so.
 */
const quietLevel = (level: LogLevel): LogLevel => (LEVEL_VALUES[level] > LEVEL_VALUES.warn ? level : 'warn');

function readPage(dir: string | URL, logger: Logger): PageAssets | undefined {
  try {
    const page = loadPageAssets(dir);
    if (page === undefined) logger.warn({ dir: String(dir) }, 'console page not built; / answers 503');
    return page;
  } catch (error) {
    logger.error({ err: error, dir: String(dir) }, 'console page could not be read; / answers 503');
    return undefined;
  }
}

/**
 * What the console is: a trace store fed by its OTLP receiver, a poller of the gateway
 * and every replica, and the page with the API it reads (snapshots, live stream, traces,
 * fault settings). The store and the poller are opened here and closed with the app.
 */
export const consoleService: FastifyPluginAsync<ConsoleOptions> = async (app, { config, logger, deps }) => {
  const now = deps.now ?? Date.now;
  const fetchFn = deps.fetch ?? globalThis.fetch;
  const store = new TraceStore({ maxTraces: config.maxTraces, maxBytes: config.maxTraceBytes });
  const budget = new IngestBudget(config.maxIngestBytesPerSecond, now);
  const poller = deps.poller ?? new Poller(config, deps);
  const streams = new LiveStreams(config.maxLiveStreams);
  const snapshot = () => buildSnapshot(poller.view(), store, now());
  const logLevel = quietLevel(config.logLevel);

  const stopBroadcasting = poller.onPolled(() => {
    if (streams.size > 0) streams.broadcast(snapshotEvent(JSON.stringify(snapshot())));
  });
  if (deps.poller === undefined) app.addHook('onReady', async () => poller.start());
  // Open streams would keep the server from closing; they end first and the page reconnects elsewhere.
  app.addHook('preClose', async () => streams.closeAll());
  app.addHook('onClose', async () => {
    stopBroadcasting();
    if (deps.poller === undefined) await poller.stop();
  });

  await app.register(otlpReceiver, { store, budget, maxBodyBytes: config.maxBodyBytes, logLevel });
  await app.register(liveRoutes, { snapshot, routing: () => requestRouting(poller.view()), store, streams, logLevel });
  await app.register(faultRoutes, { poller, labFaultsPort: config.labFaultsPort, fetch: fetchFn });
  await app.register(pageRoutes, {
    page: readPage(deps.pageDir ?? new URL('./public/', import.meta.url), logger),
    logLevel,
  });
};

/** An un-listened console: the platform's Fastify conventions around the console plugin. */
export function buildApp(config: ConsoleConfig, deps: ConsoleDeps = {}): FastifyInstance {
  const { logger, health } = serviceDeps(config, deps);
  const app = createFastifyApp({ logger, health, bodyLimit: API_BODY_LIMIT });
  // On every answer, the platform's 404s and the hijacked live stream included.
  app.addHook('onRequest', (_request, reply, done) => {
    reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('referrer-policy', 'no-referrer');
    done();
  });
  // Every route, the OTLP receiver and the health checks included: snapshots, traces and
  // recent requests are worth reading to a DNS-rebound page as much as faults are to set.
  app.addHook('onRequest', (request, _reply, done) =>
    done(untrustedOrigin(request.headers.host, request.headers.origin)),
  );
  app.register(consoleService, { config, logger, deps });
  return app;
}
