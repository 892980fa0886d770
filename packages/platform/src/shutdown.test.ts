import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Health } from './health.js';
import { handleShutdownSignals } from './shutdown.js';

const logger = pino({ level: 'silent' });

describe('handleShutdownSignals', () => {
  it('marks the service unready before closing, then exits 0', async () => {
    const health = new Health('svc', 'i1');
    const events: string[] = [];
    const shutdown = handleShutdownSignals({
      logger,
      health,
      graceMs: 1000,
      signals: [],
      close: async () => {
        events.push(`close while ready=${(await health.ready()).statusCode}`);
      },
      exit: (code) => events.push(`exit ${code}`),
    });
    await shutdown();
    expect(events).toEqual(['close while ready=503', 'exit 0']);
  });

  it('keeps serving, unready, for the drain delay before closing', async () => {
    const health = new Health('svc', 'i1');
    let closedAfterMs = 0;
    const startedAt = Date.now();
    const shutdown = handleShutdownSignals({
      logger,
      health,
      graceMs: 1000,
      drainDelayMs: 150,
      signals: [],
      close: async () => {
        closedAfterMs = Date.now() - startedAt;
      },
      exit: () => {},
    });
    const done = shutdown();
    expect((await health.ready()).body.status).toBe('draining');
    await done;
    expect(closedAfterMs).toBeGreaterThanOrEqual(140);
  });

  it('exits 1 when closing overruns the grace period', async () => {
    const codes: number[] = [];
    const shutdown = handleShutdownSignals({
      logger,
      health: new Health('svc', 'i1'),
      graceMs: 20,
      signals: [],
      close: () => new Promise((resolve) => setTimeout(resolve, 200)),
      exit: (code) => codes.push(code),
    });
    await shutdown();
    expect(codes[0]).toBe(1);
  });
});
