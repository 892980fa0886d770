import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import type { UsersRepository } from './users-repository.ts';

const tracer = trace.getTracer('@lab/users');

/** What each repository call does to the database, for the span's name (semconv: `{operation} {table}`). */
const OPERATION = {
  list: 'SELECT',
  get: 'SELECT',
  create: 'INSERT',
  createOnce: 'INSERT',
  update: 'UPDATE',
  remove: 'DELETE',
  counts: 'SELECT',
} as const satisfies Partial<Record<keyof UsersRepository, string>>;

type Traced = keyof typeof OPERATION;

/**
 * A repository whose every statement or transaction is a database span under the
 * request's span, named by the store's identity (db.system.name: sqlite, postgresql).
 * It wraps the interface, so any store behind it is traced alike. The health check's
 * ping is left out: probes are not traced either.
 */
export function withDatabaseSpans(repository: UsersRepository): UsersRepository {
  const { system, namespace } = repository.identity;
  const traced = <K extends Traced>(method: K): UsersRepository[K] => {
    const work = repository[method] as (...args: unknown[]) => Promise<unknown>;
    const attributes = {
      'db.system.name': system,
      'db.namespace': namespace,
      'db.operation.name': OPERATION[method],
      'db.collection.name': 'users',
      // createOnce reads and writes the idempotency key in one transaction.
      ...(method === 'createOnce' ? { 'db.transaction': true } : {}),
    };
    return (async (...args: unknown[]) => {
      const span = tracer.startSpan(`${OPERATION[method]} users`, { kind: SpanKind.CLIENT, attributes });
      try {
        return await work.apply(repository, args);
      } catch (error) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
        throw error;
      } finally {
        span.end();
      }
    }) as UsersRepository[K];
  };
  return {
    identity: repository.identity,
    migrationsApplied: repository.migrationsApplied,
    list: traced('list'),
    get: traced('get'),
    create: traced('create'),
    createOnce: traced('createOnce'),
    update: traced('update'),
    remove: traced('remove'),
    counts: traced('counts'),
    // A background sweep belongs to no request: a span here would be a root of its own every few minutes.
    sweepExpiredKeys: () => repository.sweepExpiredKeys(),
    ping: () => repository.ping(),
    close: () => repository.close(),
  };
}
