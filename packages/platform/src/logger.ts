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
 * ISO time, formatted at most once per millisecond: under load many lines share one,
 * and `toISOString` per line was a measurable share of a request's CPU.
 */
function isoTimeOncePerMs(): () => string {
  let lastMs = 0;
  let field = '';
  return () => {
    const now = Date.now();
    if (now !== lastMs) {
      lastMs = now;
      field = `,"time":"${new Date(now).toISOString()}"`;
    }
    return field;
  };
}

/**
 * One JSON line per event on stdout, every line carrying `service` and `instance`
 * (request lines add `reqId`). Pretty output only when a human is watching a TTY.
 * Request and response bodies are never serialised: the serializers below only
 * know method, url and status.
 *
 * stdout is written asynchronously and in batches (pino's sonic-boom): a line per
 * request no longer costs a blocking write(2) each. pino flushes what is buffered
 * when the process exits, and `flushLogger` lets a graceful shutdown wait for it;
 * only a SIGKILL can lose lines, the last 100 ms at most.
 */
export function createLogger(settings: LoggerSettings, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level: settings.logLevel,
    base: { service: settings.service, instance: settings.instance, version: settings.version },
    timestamp: isoTimeOncePerMs(),
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
  // Lines are written in batches of 4 KiB, and at least every 100 ms: a quiet service's
  // lines still show at once to a person; a busy one makes a write(2) per ~20 lines.
  return pino(options, pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 100 }));
}

/** Resolves once every buffered line is written: the last step of a graceful shutdown. */
export function flushLogger(logger: Logger): Promise<void> {
  return new Promise((resolve) => logger.flush(() => resolve()));
}
