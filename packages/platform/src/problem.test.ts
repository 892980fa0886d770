import { describe, expect, it } from 'vitest';
import {
  ConflictError,
  IdempotencyKeyReusedError,
  InternalError,
  MethodNotAllowedError,
  ProtocolError,
  toHttpError,
} from './problem.js';

describe('toHttpError', () => {
  it('keeps catalogue errors as they are', () => {
    const error = new ConflictError('taken');
    expect(toHttpError(error)).toBe(error);
    expect(error.toProblem('/x')).toMatchObject({ status: 409, title: 'Conflict', detail: 'taken', instance: '/x' });
  });

  it('keeps the status and message of a framework 4xx (body-parser and Fastify shapes)', () => {
    expect(toHttpError({ status: 413, type: 'entity.too.large', message: 'request entity too large' })).toMatchObject({
      status: 413,
      message: 'request entity too large',
    });
    expect(
      toHttpError({ statusCode: 415, code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', message: 'Unsupported' }),
    ).toMatchObject({
      status: 415,
      code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE',
    });
  });

  it('turns validation issues into field errors', () => {
    const error = toHttpError({
      validation: [
        { instancePath: '/email', message: 'must match format "email"', params: {} },
        { instancePath: '', message: 'x', params: { additionalProperty: 'role' } },
      ],
      validationContext: 'body',
    });
    expect(error.toProblem().errors).toEqual([
      { field: 'body/email', message: 'must match format "email"' },
      { field: 'body/role', message: 'is not an allowed field' },
    ]);
  });

  it('carries the headers its status requires, outside the body', () => {
    const error = new MethodNotAllowedError('PATCH', '/users', ['GET', 'HEAD', 'POST']);
    expect(error.headers).toEqual({ allow: 'GET, HEAD, POST' });
    expect(error.toProblem('/users')).toMatchObject({ status: 405, code: 'METHOD_NOT_ALLOWED' });
    expect(new IdempotencyKeyReusedError().toProblem()).toMatchObject({ status: 422, code: 'IDEMPOTENCY_KEY_REUSED' });
    expect(new ProtocolError('URL_TOO_LONG').toProblem()).toMatchObject({ status: 414, title: 'URI Too Long' });
  });

  it('hides everything about unknown errors and 5xx from clients', () => {
    for (const thrown of [
      new Error('SQLITE_CORRUPT at /data/users.db'),
      'a string',
      { statusCode: 503, message: 'db down' },
    ]) {
      const problem = toHttpError(thrown).toProblem();
      expect(toHttpError(thrown)).toBeInstanceOf(InternalError);
      expect(JSON.stringify(problem)).not.toMatch(/SQLITE|users\.db|db down|string/);
    }
  });
});
