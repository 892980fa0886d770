import { createFastifyApp } from '@lab/platform/fastify';
import type { Health } from '@lab/platform/health';
import type { Logger } from '@lab/platform/logger';
import { type ServiceDeps, serviceDeps } from '@lab/platform/run-service';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { GatewayConfig } from './config.ts';
import { addCors } from './cors.ts';
import { createGatewayMetrics } from './metrics.ts';
import { proxyRoutes } from './proxy-routes.ts';
import { addRateLimit } from './rate-limit.ts';
import { RequestBodies } from './request-bodies.ts';
import { addUrlLengthLimit } from './request-limits.ts';
import { addSecurityHeaders } from './security-headers.ts';
import { Upstream } from './upstream.ts';

export interface GatewayOptions {
  config: GatewayConfig;
  logger: Logger;
  health: Health;
  /** Replaces DNS discovery (tests use it to put several replicas on loopback addresses). */
  resolveAll?: ((host: string) => Promise<string[]>) | undefined;
}

/**
 * What the gateway is: the public edge (limits, CORS, security headers, metrics)
 * and one proxy route pair per upstream. Not encapsulated (fastify-plugin): its
 * hooks must also cover the platform's 404s and health routes.
 */
export const gateway = fp<GatewayOptions>(
  async (app, { config, logger, health, resolveAll }) => {
    const metrics = createGatewayMetrics();
    const upstreams = config.upstreams.map(
      (upstream) =>
        new Upstream({ ...upstream, ...config.resilience }, { logger, metrics, ...(resolveAll ? { resolveAll } : {}) }),
    );

    // Cheapest refusals first; rate limiting before CORS so preflights count too.
    addUrlLengthLimit(app);
    if (config.rateLimit.enabled) addRateLimit(app, config.rateLimit);
    if (config.corsOrigins.length > 0) addCors(app, config.corsOrigins);
    addSecurityHeaders(app);

    // The gateway stays ready while an upstream is down: it still serves the
    // others and answers for the missing one with a problem+json error at once.
    for (const upstream of upstreams) {
      health.addCheck(
        upstream.name,
        () => {
          const { breaker, replicas, inFlight } = upstream.topology();
          return { ok: replicas.healthy > 0 && breaker !== 'open', breaker, inFlight, ...replicas };
        },
        { critical: false },
      );
    }
    // First discovery and probes before the first request, so no request meets an empty pool.
    app.addHook('onReady', async () => {
      await Promise.all(upstreams.map((upstream) => upstream.start()));
    });
    app.addHook('onClose', async () => {
      await Promise.all(upstreams.map((upstream) => upstream.close()));
    });
    // Counted here for every answer, the gateway's own errors included; see metrics.ts for why not prom-client's inc.
    const upstreamOfRoute = new Map<string, string>();
    app.addHook('onRoute', (route) => {
      upstreamOfRoute.set(route.url, upstreams.find((u) => route.url.startsWith(u.prefix))?.name ?? 'none');
    });
    app.addHook('onResponse', (request, reply, done) => {
      const route = request.routeOptions.url ?? 'unmatched';
      metrics.countRequest(route, upstreamOfRoute.get(route) ?? 'none', request.method, reply.statusCode);
      done();
    });

    app.get('/api/_topology', async () => ({
      gateway: { instance: config.instance, version: config.version },
      upstreams: upstreams.map((upstream) => upstream.topology()),
    }));
    app.get('/metrics', async (_request, reply) => {
      return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
    });
    await app.register(proxyRoutes, {
      upstreams,
      bodies: new RequestBodies(config.bodyLimitBytes, config.edge.bodyBufferBudgetBytes),
    });
  },
  { name: 'gateway', fastify: '5.x' },
);

export interface GatewayDeps extends Partial<ServiceDeps> {
  resolveAll?: (host: string) => Promise<string[]>;
}

/** An un-listened gateway: the platform's Fastify conventions around the gateway plugin. */
export function buildApp(config: GatewayConfig, deps: GatewayDeps = {}): FastifyInstance {
  const { logger, health, faults } = serviceDeps(config, deps);
  const { edge } = config;
  const app = createFastifyApp({
    logger,
    health,
    faults,
    bodyLimit: config.bodyLimitBytes,
    options: {
      requestTimeout: edge.requestTimeoutMs,
      connectionTimeout: edge.idleTimeoutMs,
      keepAliveTimeout: edge.keepAliveTimeoutMs,
    },
    // Node checks the headers and request deadlines on this beat (default 30 s): a stalled
    // socket then closes within a second of its deadline, not up to half a minute later.
    http: { headersTimeout: edge.headersTimeoutMs, connectionsCheckingInterval: 1000 },
  });
  app.server.maxConnections = edge.maxConnections;
  app.register(gateway, { config, logger, health, resolveAll: deps.resolveAll });
  return app;
}
