import { createFastifyApp } from '@lab/platform/fastify';
import { Health } from '@lab/platform/health';
import { createLogger, type Logger } from '@lab/platform/logger';
import type { FastifyInstance } from 'fastify';
import type { UsersConfig } from './config.ts';
import { createSqliteUsersRepository, type UsersRepository } from './users-repository.ts';
import { usersRoutes } from './users-routes.ts';

export interface UsersDeps {
  logger?: Logger;
  health?: Health;
  repository?: UsersRepository;
}

/** An un-listened users app. It owns its repository: opened here, closed when the app closes. */
export function buildApp(config: UsersConfig, deps: UsersDeps = {}): FastifyInstance {
  const logger = deps.logger ?? createLogger(config);
  const health = deps.health ?? new Health(config.service, config.instance);
  const repository = deps.repository ?? createSqliteUsersRepository(config);

  const app = createFastifyApp({ logger, health, bodyLimit: config.bodyLimitBytes });
  health.addCheck('database', () => ({ ok: repository.ping() }));
  app.addHook('onClose', async () => repository.close());
  app.register(usersRoutes, { repository });
  return app;
}
