import { createExpressApp, finishExpressApp } from '@lab/platform/express';
import { Health } from '@lab/platform/health';
import { createLogger, type Logger } from '@lab/platform/logger';
import type { Express } from 'express';
import type { HelloConfig } from './config.ts';
import { greeting } from './uptime.ts';

export interface HelloDeps {
  logger?: Logger;
  health?: Health;
  /** Milliseconds since the epoch; tests pin it to check the uptime text. */
  now?: () => number;
  /** When the process started; uptime is counted from here. */
  startedAt?: number;
}

const processStartedAt = Date.now() - Math.round(process.uptime() * 1000);

export function buildApp(config: HelloConfig, deps: HelloDeps = {}): Express {
  const logger = deps.logger ?? createLogger(config);
  const health = deps.health ?? new Health(config.service, config.instance);
  const now = deps.now ?? Date.now;
  const startedAt = deps.startedAt ?? processStartedAt;
  const uptimeSeconds = () => Math.floor((now() - startedAt) / 1000);

  const app = createExpressApp({ logger, health });
  app.get('/', (_req, res) => {
    res.type('text/plain').send(greeting(uptimeSeconds()));
  });
  app.get('/uptime', (_req, res) => {
    res.json({
      service: config.service,
      instance: config.instance,
      version: config.version,
      startedAt: new Date(startedAt).toISOString(),
      uptimeSeconds: uptimeSeconds(),
    });
  });
  return finishExpressApp(app);
}
