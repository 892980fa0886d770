import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { createFastifyApp } from '@lab/platform/fastify';
import { Health } from '@lab/platform/health';
import { createLogger } from '@lab/platform/logger';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { IngestBudget } from './ingest-budget.ts';
import { otlpReceiver } from './otlp-receiver.ts';
import { TraceStore } from './trace-store.ts';

const fixture = JSON.parse(readFileSync(new URL('./fixtures/otel-js-export.json', import.meta.url), 'utf8')) as {
  protobufBase64: string;
};
const GZIPPED_PROTOBUF = { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' };
const KiB = 1024;

/** The real bucket, with a record of every charge. */
class RecordingBudget extends IngestBudget {
  readonly charges: number[] = [];

  override spend(bytes: number): void {
    this.charges.push(bytes);
    super.spend(bytes);
  }
}

const apps: FastifyInstance[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

async function receiver(maxBodyBytes: number) {
  const logger = createLogger({ service: 'console', instance: 'console-test', logLevel: 'silent' });
  const app = createFastifyApp({ logger, health: new Health('console', 'console-test') });
  apps.push(app);
  const budget = new RecordingBudget(1024 * 1024 * KiB, () => 0);
  const store = new TraceStore({ maxTraces: 100, maxBytes: 1024 * KiB });
  await app.register(otlpReceiver, { store, budget, maxBodyBytes, logLevel: 'silent' });
  return { app, budget, store };
}

describe('the OTLP receiver and its ingest budget', () => {
  it('#21 finding 5: a gzip bomb is refused with 413 problem+json, inflated only to the limit, and charged what it inflated', async () => {
    const maxBodyBytes = 64 * KiB;
    const { app, budget } = await receiver(maxBodyBytes);
    // 64 MiB of zeros in about 64 KiB: a thousand times the body limit.
    const bomb = gzipSync(Buffer.alloc(1024 * maxBodyBytes));
    expect(bomb.length).toBeLessThanOrEqual(maxBodyBytes);

    const res = await app.inject({ method: 'POST', url: '/v1/traces', headers: GZIPPED_PROTOBUF, payload: bomb });
    expect(res.statusCode).toBe(413);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' });

    expect(budget.charges).toHaveLength(1);
    const [charged = 0] = budget.charges;
    // What was inflated before it stopped: past the limit by at most one chunk, not the whole 64 MiB.
    expect(charged).toBeGreaterThan(maxBodyBytes);
    expect(charged).toBeLessThanOrEqual(maxBodyBytes + 64 * KiB);
    expect(charged).toBeGreaterThan(bomb.length);
  });

  it('#21 finding 5: a gzipped export is charged its inflated size, not its compressed one', async () => {
    const { app, budget, store } = await receiver(4 * 1024 * KiB);
    // Repetitive, as span batches are: 32 copies of one export (protobuf concatenates into one message).
    const raw = Buffer.from(fixture.protobufBase64, 'base64');
    const export32 = Buffer.concat(Array.from({ length: 32 }, () => raw));
    const gzipped = gzipSync(export32);
    expect(gzipped.length * 4).toBeLessThan(export32.length);

    const res = await app.inject({ method: 'POST', url: '/v1/traces', headers: GZIPPED_PROTOBUF, payload: gzipped });
    expect(res.statusCode).toBe(200);
    expect(store.stats().count).toBe(1);
    expect(budget.charges).toEqual([export32.length]);
  });
});
