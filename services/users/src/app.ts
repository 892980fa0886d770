import { createFastifyApp } from '@lab/platform/fastify';
import type { Health } from '@lab/platform/health';
import type { Logger } from '@lab/platform/logger';
import { type ServiceDeps, serviceDeps } from '@lab/platform/run-service';
import { tracingActive } from '@lab/platform/telemetry';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { UsersConfig } from './config.ts';
import { createPostgresUsersRepository } from './postgres-repository.ts';
import { createSqliteUsersRepository } from './sqlite-repository.ts';
import { withDatabaseSpans } from './traced-repository.ts';
import type { UsersRepository } from './users-repository.ts';
import { usersRoutes } from './users-routes.ts';

export interface UsersOptions {
  config: UsersConfig;
  health: Health;
  repository?: UsersRepository;
}

/** PostgreSQL when DATABASE_URL is set (replicas on several machines), else SQLite in DATA_DIR (one host). */
export async function openUsersRepository(config: UsersConfig, log: Pick<Logger, 'warn'>): Promise<UsersRepository> {
  if (config.databaseUrl === undefined) return createSqliteUsersRepository(config);
  return createPostgresUsersRepository({
    databaseUrl: config.databaseUrl,
    poolSize: config.dbPoolSize,
    connectTimeoutMs: config.dbConnectTimeoutMs,
    queryTimeoutMs: config.dbQueryTimeoutMs,
    applicationName: config.service,
    idempotencyKeyTtlMs: config.idempotencyKeyTtlMs,
    onIdleError: (error) => log.warn({ err: error }, 'a pooled database connection broke; the next call opens another'),
  });
}

/**
 * How often each replica deletes expired Idempotency-Keys. An expired key counts as unused
 * whether or not it was swept yet, so this only bounds how far the table outgrows the TTL.
 */
export const KEY_SWEEP_INTERVAL_MS = 10 * 60_000;

/** Sweeps expired keys on a timer, outside any request; the returned stop waits for a sweep in flight. */
function sweepKeysPeriodically(store: UsersRepository, log: Pick<Logger, 'info' | 'warn'>): () => Promise<void> {
  let sweeping: Promise<void> | undefined;
  const sweep = async () => {
    try {
      const swept = await store.sweepExpiredKeys();
      if (swept > 0) log.info({ swept }, 'expired idempotency keys deleted');
    } catch (error) {
      log.warn({ err: error }, 'sweeping expired idempotency keys failed; the next sweep tries again');
    } finally {
      sweeping = undefined;
    }
  };
  // unref: a timer alone never keeps a stopping process alive.
  const timer = setInterval(() => {
    sweeping ??= sweep();
  }, KEY_SWEEP_INTERVAL_MS).unref();
  return async () => {
    clearInterval(timer);
    await sweeping;
  };
}

/**
 * What users is: its routes and the repository they own, opened when the plugin
 * loads and closed with the app. Served alone by `buildApp`, or by the monolith
 * under `/api/users`.
 */
export const users: FastifyPluginAsync<UsersOptions> = async (app, { config, health, repository }) => {
  const opened = repository ?? (await openUsersRepository(config, app.log));
  const store = tracingActive() ? withDatabaseSpans(opened) : opened;
  health.addCheck('database', async () => ({ ok: await store.ping(), system: store.identity.system }));
  const stopSweeping = sweepKeysPeriodically(store, app.log);
  app.addHook('onClose', async () => {
    await stopSweeping();
    await store.close();
  });
  await app.register(usersRoutes, { repository: store });
};

/**
 * Fastify's options for an app that registers `users`: its plugin may wait for the database
 * up to DB_CONNECT_TIMEOUT_MS, longer than Fastify's 10 s default for a plugin to load, which
 * would otherwise end the start with FST_ERR_PLUGIN_TIMEOUT instead of the one-line error.
 */
export const usersFastifyOptions = ({ dbConnectTimeoutMs }: UsersConfig) => ({
  pluginTimeout: dbConnectTimeoutMs + 10_000,
});

export interface UsersDeps extends Partial<ServiceDeps> {
  repository?: UsersRepository;
}

/** An un-listened users service: the platform's Fastify conventions around the users plugin. */
export function buildApp(config: UsersConfig, deps: UsersDeps = {}): FastifyInstance {
  const { logger, health, faults } = serviceDeps(config, deps);
  const app = createFastifyApp({
    logger,
    health,
    faults,
    bodyLimit: config.bodyLimitBytes,
    options: usersFastifyOptions(config),
  });
  app.register(users, { config, health, ...(deps.repository ? { repository: deps.repository } : {}) });
  return app;
}
