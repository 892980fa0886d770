import { createFastifyApp } from '@lab/platform/fastify';
import type { Health } from '@lab/platform/health';
import { type ServiceDeps, serviceDeps } from '@lab/platform/run-service';
import { tracingActive } from '@lab/platform/telemetry';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { UsersConfig } from './config.ts';
import { withDatabaseSpans } from './traced-repository.ts';
import { createSqliteUsersRepository, DATABASE_FILE, type UsersRepository } from './users-repository.ts';
import { usersRoutes } from './users-routes.ts';

export interface UsersOptions {
  config: UsersConfig;
  health: Health;
  repository?: UsersRepository;
}

/**
 * What users is: its routes and the repository they own, opened when the plugin
 * loads and closed with the app. Served alone by `buildApp`, or by the monolith
 * under `/api/users`.
 */
export const users: FastifyPluginAsync<UsersOptions> = async (app, { config, health, repository }) => {
  const opened = repository ?? createSqliteUsersRepository(config);
  const store = tracingActive() ? withDatabaseSpans(opened, { system: 'sqlite', namespace: DATABASE_FILE }) : opened;
  health.addCheck('database', () => ({ ok: store.ping() }));
  app.addHook('onClose', async () => store.close());
  await app.register(usersRoutes, { repository: store });
};

export interface UsersDeps extends Partial<ServiceDeps> {
  repository?: UsersRepository;
}

/** An un-listened users service: the platform's Fastify conventions around the users plugin. */
export function buildApp(config: UsersConfig, deps: UsersDeps = {}): FastifyInstance {
  const { logger, health, faults } = serviceDeps(config, deps);
  const app = createFastifyApp({ logger, health, faults, bodyLimit: config.bodyLimitBytes });
  app.register(users, { config, health, ...(deps.repository ? { repository: deps.repository } : {}) });
  return app;
}
