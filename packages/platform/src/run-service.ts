import { createServer } from 'node:http';
import type { Express } from 'express';
import type { FastifyInstance } from 'fastify';
import { type Env, loadConfigOrExit, type readServiceSettings } from './config.js';
import { Health } from './health.js';
import { createLogger, type Logger } from './logger.js';
import { handleShutdownSignals } from './shutdown.js';

export type ServiceSettings = ReturnType<typeof readServiceSettings>;

/** What every service's `buildApp` receives from its entry point; tests pass their own. */
export interface ServiceDeps {
  logger: Logger;
  health: Health;
}

/** A service's logger and health: the ones given (by runService, a test, the monolith), else its own. */
export function serviceDeps(config: ServiceSettings, deps: Partial<ServiceDeps> = {}): ServiceDeps {
  return {
    logger: deps.logger ?? createLogger(config),
    health: deps.health ?? new Health(config.service, config.instance),
  };
}

export interface ServiceEntry<C extends ServiceSettings> {
  loadConfig: (env: Env) => C;
  buildApp: (config: C, deps: ServiceDeps) => FastifyInstance | Express;
  /** Extra fields for the `<service> listening` line (tests wait for that line). */
  describe?: (config: C) => Record<string, unknown>;
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
export async function runService<C extends ServiceSettings>({ loadConfig, buildApp, describe }: ServiceEntry<C>) {
  const config = loadConfigOrExit(() => loadConfig(process.env));
  const { logger, health } = serviceDeps(config);
  const app = buildApp(config, { logger, health });
  let server: Listening | undefined;
  handleShutdownSignals({
    logger,
    health,
    graceMs: config.shutdownGraceMs,
    drainDelayMs: config.drainDelayMs,
    // A signal during startup closes the app even though it never listened.
    close: () => server?.close() ?? ('inject' in app ? app.close() : Promise.resolve()),
  });
  server = await listen(app, config);
  logger.info({ port: config.port, ...describe?.(config) }, `${config.service} listening`);
}
