import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConflictError } from '@lab/platform/problem';
import { context, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createSqliteUsersRepository } from './sqlite-repository.ts';
import { withDatabaseSpans } from './traced-repository.ts';
import type { UsersRepository } from './users-repository.ts';

const exporter = new InMemorySpanExporter();
let dataDir: string;
let repository: UsersRepository;

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] }));
  dataDir = mkdtempSync(join(tmpdir(), 'users-spans-'));
  repository = withDatabaseSpans(createSqliteUsersRepository({ dataDir, busyTimeoutMs: 1000 }));
});

afterAll(async () => {
  await repository.close();
  rmSync(dataDir, { recursive: true, force: true });
});

it('every statement or transaction is one database span under the request span, the error ones marked', async () => {
  const request = trace.getTracer('test').startSpan('handler');
  await context.with(trace.setSpan(context.active(), request), async () => {
    const ada = await repository.create({ name: 'Ada', email: 'ada@example.com' });
    await repository.get(ada.id);
    await repository.list({ limit: 10 });
    await repository.createOnce({ name: 'Bob', email: 'bob@example.com' }, 'key-1');
    await repository.update(ada.id, { name: 'Ada L.' });
    await expect(repository.create({ name: 'Ada again', email: 'ada@example.com' })).rejects.toThrow(ConflictError);
    await repository.remove(ada.id);
    await repository.ping();
  });
  request.end();

  const spans = exporter.getFinishedSpans().filter((span) => span.name !== 'handler');
  expect(spans.map((span) => span.name)).toEqual([
    'INSERT users',
    'SELECT users',
    'SELECT users',
    'INSERT users',
    'UPDATE users',
    'INSERT users',
    'DELETE users',
  ]);
  for (const span of spans) {
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(span.parentSpanContext?.spanId).toBe(request.spanContext().spanId);
    expect(span.attributes).toMatchObject({ 'db.system.name': 'sqlite', 'db.collection.name': 'users' });
  }
  expect(spans[3]?.attributes['db.transaction']).toBe(true);
  expect(spans.map((span) => span.status.code)).toEqual([0, 0, 0, 0, 0, 2, 0]);
});
