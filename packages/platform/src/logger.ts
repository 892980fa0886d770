import { createRequire } from 'node:module';
import { type DestinationStream, type Logger, type LoggerOptions, pino } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger } from 'pino';

export interface LoggerSettings {
  service: string;
  instance: string;
  version?: string;
  logLevel: LogLevel;
}

/** pino-pretty is a dev convenience: images do not ship it, so its absence just means JSON. */
function prettyTransportAvailable(): boolean {
  try {
    createRequire(import.meta.url).resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

/**
 * One JSON line per event on stdout, every line carrying `service` and `instance`
 * (request lines add `reqId`). Pretty output only when a human is watching a TTY.
 * Request and response bodies are never serialised: the serializers below only
 * know method, url and status.
 */
export function createLogger(settings: LoggerSettings, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level: settings.logLevel,
    base: { service: settings.service, instance: settings.instance, version: settings.version },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    serializers: {
      err: pino.stdSerializers.err,
      req: (req: { method?: string; url?: string }) => ({ method: req.method, url: req.url }),
      res: (res: { statusCode?: number }) => ({ statusCode: res.statusCode }),
    },
  };
  if (destination) return pino(options, destination);
  if (process.stdout.isTTY && prettyTransportAvailable()) {
    return pino({ ...options, transport: { target: 'pino-pretty' } });
  }
  return pino(options);
}
