import { createServer } from 'node:http';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { Express } from 'express';
import type { FastifyInstance } from 'fastify';
import { type Env, exitIfConfigError, loadConfigOrExit, parseConfig, type readServiceSettings } from './config.js';
import { Faults } from './faults.js';
import { type LabPort, openLabPort } from './faults-listener.js';
import { Health } from './health.js';
import { createLogger, type Logger } from './logger.js';
import { handleShutdownSignals } from './shutdown.js';
import { readTelemetrySettings, startTelemetry } from './telemetry.js';

export type ServiceSettings = ReturnType<typeof readServiceSettings>;

/** What every service's `buildApp` receives from its entry point; tests pass their own. */
export interface ServiceDeps {
  logger: Logger;
  health: Health;
  /** The process's lab faults: only with LAB_FAULTS on, and then one for the whole process. */
  faults?: Faults | undefined;
}

/** A service's logger, health and faults: the ones given (by runService, a test, the monolith), else its own. */
export function serviceDeps(config: ServiceSettings, deps: Partial<ServiceDeps> = {}): ServiceDeps {
  return {
    logger: deps.logger ?? createLogger(config),
    health: deps.health ?? new Health(config.service, config.instance),
    faults: deps.faults ?? (config.labFaults ? new Faults() : undefined),
  };
}

export interface ServiceEntry<C extends ServiceSettings> {
  loadConfig: (env: Env) => C;
  buildApp: (config: C, deps: ServiceDeps) => FastifyInstance | Express;
  /** Extra fields for the `<service> listening` line (tests wait for that line). */
  describe?: (config: C) => Record<string, unknown>;
  /** Tracing beyond the HTTP server and Fastify: the gateway's undici client, Express. Called only when tracing is on. */
  instrumentations?: () => Instrumentation[];
  /** Clients reach it directly: see TelemetryOptions.edge. */
  edge?: boolean;
}

interface Listening {
  close(): Promise<void>;
}

async function listen(app: FastifyInstance | Express, { port, host }: ServiceSettings): Promise<Listening> {
  if ('inject' in app) {
    await app.listen({ port, host });
    return { close: () => app.close() };
  }
  const server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    // EADDRINUSE and friends reject, as Fastify's listen does, instead of an unhandled 'error'.
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  return {
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}

/**
 * A service's whole `main.ts`: config from the environment (a bad variable ends the
 * process with one line), one logger and one health for the process, listen on
 * HOST:PORT, and on SIGTERM/SIGINT turn unready, drain, close and exit 0.
 */
export async function runService<C extends ServiceSettings>({
  loadConfig,
  buildApp,
  describe,
  instrumentations,
  edge = false,
}: ServiceEntry<C>) {
  const [config, tracing] = loadConfigOrExit(() => {
    const service = loadConfig(process.env);
    return [service, parseConfig(process.env, (read) => readTelemetrySettings(read, service.service))] as const;
  });
  // Before the app is built: the framework conventions instrument what they create.
  const telemetry = startTelemetry(tracing, config, { edge, ...(instrumentations ? { instrumentations } : {}) });
  const { logger, health, faults } = serviceDeps(config);
  const app = buildApp(config, { logger, health, faults });
  let server: Listening | undefined;
  let lab: LabPort | undefined;
  handleShutdownSignals({
    logger,
    health,
    graceMs: config.shutdownGraceMs,
    drainDelayMs: config.drainDelayMs,
    // A signal during startup closes the app even though it never listened.
    close: async () => {
      // Requests held by a fault would keep the listener from closing.
      faults?.release();
      await Promise.all([server?.close() ?? ('inject' in app ? app.close() : undefined), lab?.close()]);
      await telemetry?.shutdown();
    },
  });
  try {
    // Plugins load here: one that opens a database can find its setting wrong only now.
    server = await listen(app, config);
  } catch (error) {
    exitIfConfigError(error);
    throw error;
  }
  lab = await openLabPort(config, { faults, logger });
  logger.info(
    { port: config.port, tracing: tracing.enabled ? tracing.url : 'off', ...describe?.(config) },
    `${config.service} listening`,
  );
}
