import { helloRouter } from '@lab/hello/app';
import { mountExpressRouter } from '@lab/platform/express';
import { createFastifyApp } from '@lab/platform/fastify';
import { type ServiceDeps, serviceDeps } from '@lab/platform/run-service';
import { users, usersFastifyOptions } from '@lab/users/app';
import type { FastifyInstance } from 'fastify';
import type { MonolithConfig } from './config.ts';

/**
 * The gateway's public API in one process: one Fastify root with the platform's
 * conventions, the users plugin under /api/users and hello's Express router under
 * /api/hello. Each sees the paths it would see behind the gateway, and nothing stands
 * between them and the caller but a function call.
 */
export function buildApp(config: MonolithConfig, deps: Partial<ServiceDeps> = {}): FastifyInstance {
  // One process, one readiness: users adds its database check to this Health, and
  // draining turns the whole monolith unready at once. Likewise one set of lab faults
  // and request stats, applied and counted once at the Fastify root for hello too.
  const { logger, health, faults } = serviceDeps(config, deps);
  const app = createFastifyApp({
    logger,
    health,
    faults,
    bodyLimit: config.bodyLimitBytes,
    options: usersFastifyOptions(config.users),
  });

  app.register(users, { prefix: '/api/users', config: config.users, health });

  mountExpressRouter(app, '/api/hello', helloRouter(config.hello));
  return app;
}
