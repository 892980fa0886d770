import { createExpressApp } from '@lab/platform/express';
import { type ServiceDeps, serviceDeps } from '@lab/platform/run-service';
import { type Express, Router } from 'express';
import type { HelloConfig } from './config.ts';
import { greeting } from './uptime.ts';

export interface HelloClock {
  /** Milliseconds since the epoch; tests pin it to check the uptime text. */
  now?: () => number;
  /** When the process started; uptime is counted from here. */
  startedAt?: number;
}

export interface HelloDeps extends HelloClock, Partial<ServiceDeps> {}

const processStartedAt = Date.now() - Math.round(process.uptime() * 1000);

/** What hello is: two routes. The platform (or the monolith) serves them with the house conventions. */
export function helloRouter(config: HelloConfig, { now = Date.now, startedAt = processStartedAt }: HelloClock = {}) {
  const uptimeSeconds = () => Math.floor((now() - startedAt) / 1000);
  return Router()
    .get('/', (_req, res) => {
      res.type('text/plain').send(greeting(uptimeSeconds()));
    })
    .get('/uptime', (_req, res) => {
      res.json({
        service: config.service,
        instance: config.instance,
        version: config.version,
        startedAt: new Date(startedAt).toISOString(),
        uptimeSeconds: uptimeSeconds(),
      });
    });
}

export function buildApp(config: HelloConfig, deps: HelloDeps = {}): Express {
  return createExpressApp(serviceDeps(config, deps), helloRouter(config, deps));
}
