import type { Logger } from 'pino';
import type { Health } from './health.js';
import { flushLogger } from './logger.js';

export interface ShutdownOptions {
  logger: Logger;
  health: Health;
  /** Stops accepting connections, waits for in-flight requests, closes resources. */
  close: () => Promise<void>;
  /** Must stay below the orchestrator's kill timeout (Docker's default is 10 s). */
  graceMs: number;
  /** Time between turning unready and closing the listener; counts against graceMs. */
  drainDelayMs?: number;
  signals?: readonly NodeJS.Signals[];
  exit?: (code: number) => void;
}

/**
 * SIGTERM/SIGINT: readiness goes false at once, requests keep being served for
 * `drainDelayMs` while balancers notice, then `close` stops the listener, lets
 * in-flight requests finish and releases resources, and the process exits 0. If draining overruns the grace period the
 * process exits 1 rather than being SIGKILLed mid-write by the orchestrator.
 */
export function handleShutdownSignals({
  logger,
  health,
  close,
  graceMs,
  drainDelayMs = 0,
  signals = ['SIGTERM', 'SIGINT'],
  exit = (code) => process.exit(code),
}: ShutdownOptions): () => Promise<void> {
  let shuttingDown: Promise<void> | undefined;

  const shutdown = (reason: string): Promise<void> => {
    shuttingDown ??= (async () => {
      const startedAt = Date.now();
      logger.info({ reason, graceMs }, 'shutdown started');
      health.startDraining();
      const timer = setTimeout(() => {
        logger.error({ graceMs }, 'shutdown overran its grace period');
        exit(1);
      }, graceMs);
      timer.unref();
      try {
        await new Promise((resolve) => setTimeout(resolve, drainDelayMs));
        await close();
        logger.info({ durationMs: Date.now() - startedAt }, 'shutdown complete');
        // Log lines are written asynchronously; none may be lost to the exit.
        await flushLogger(logger);
        exit(0);
      } catch (error) {
        logger.error({ err: error }, 'shutdown failed');
        exit(1);
      } finally {
        clearTimeout(timer);
      }
    })();
    return shuttingDown;
  };

  for (const signal of signals) process.once(signal, () => void shutdown(signal));
  return () => shutdown('requested');
}
