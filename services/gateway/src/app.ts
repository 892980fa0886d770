import { createFastifyApp } from '@lab/platform/fastify';
import { Health } from '@lab/platform/health';
import { createLogger, type Logger } from '@lab/platform/logger';
import type { FastifyInstance } from 'fastify';
import type { GatewayConfig } from './config.ts';
import { proxyRoutes } from './proxy-routes.ts';
import { Upstream } from './upstream.ts';

export interface GatewayDeps {
  logger?: Logger;
  health?: Health;
}

export function buildApp(config: GatewayConfig, deps: GatewayDeps = {}): FastifyInstance {
  const logger = deps.logger ?? createLogger(config);
  const health = deps.health ?? new Health(config.service, config.instance);
  const upstreams = config.upstreams.map(
    (upstream) =>
      new Upstream({
        ...upstream,
        connectTimeoutMs: config.connectTimeoutMs,
        responseTimeoutMs: config.responseTimeoutMs,
        probeTimeoutMs: config.probeTimeoutMs,
      }),
  );

  const app = createFastifyApp({ logger, health, bodyLimit: config.bodyLimitBytes });
  // The gateway stays ready while an upstream is down: it still serves the
  // others and answers for the missing one with a problem+json error.
  for (const upstream of upstreams) health.addCheck(upstream.name, () => upstream.probe(), { critical: false });
  app.addHook('onClose', async () => {
    await Promise.all(upstreams.map((upstream) => upstream.close()));
  });
  app.register(proxyRoutes, { upstreams });
  return app;
}
