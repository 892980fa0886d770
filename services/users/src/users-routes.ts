import { FORWARDED_PREFIX_HEADER, resolveForwardedPrefix } from '@lab/platform/forwarded-prefix';
import { NotFoundError, ValidationError } from '@lab/platform/problem';
import { errorCodes, type FastifyInstance } from 'fastify';
import type { NewUser, UsersRepository } from './users-repository.ts';
import { UUID_PATTERN } from './uuid-v7.ts';

/**
 * No control characters (Cc) and no lone UTF-16 surrogates (Cs): SQLite would store those as
 * U+FFFD, not as sent, and PostgreSQL refuses the NUL character outright. No format characters
 * (Cf): bidi overrides, zero-width characters and U+FEFF make a name display as another one.
 * The one exception is the zero-width joiner between two emoji, which draws them as one (👩🏽‍💻).
 */
const PRINTABLE_TEXT_PATTERN =
  '^(?:[^\\p{Cc}\\p{Cf}\\p{Cs}]|(?<=\\p{Extended_Pictographic}[\\u{1F3FB}-\\u{1F3FF}\\uFE0F]?)\\u200D(?=\\p{Extended_Pictographic}))*$';
const name = { type: 'string', minLength: 1, maxLength: 100, pattern: PRINTABLE_TEXT_PATTERN } as const;
const email = { type: 'string', format: 'email', maxLength: 254 } as const;
// The response schema only serialises: it carries no pattern (fast-json-stringify's own check of a
// pattern reads it without the u flag, and would refuse \p{...}).
const user = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    email: { type: 'string' },
    createdAt: { type: 'string' },
  },
} as const;
const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: UUID_PATTERN } },
} as const;

export const MAX_PAGE_SIZE = 100;
const DEFAULT_PAGE_SIZE = 50;

/** Query strings arrive as text and type coercion is off, so numbers are checked by pattern. */
const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'string', pattern: '^[0-9]{1,3}$' },
    cursor: { type: 'string', pattern: UUID_PATTERN },
  },
} as const;

/** Only the list route takes query parameters; anywhere else one is a client mistake worth naming. */
const noQuery = { type: 'object', additionalProperties: false } as const;

const IDEMPOTENCY_KEY_HEADER = 'idempotency-key';
const createHeaders = {
  type: 'object',
  properties: { [IDEMPOTENCY_KEY_HEADER]: { type: 'string', pattern: '^[\\x20-\\x7E]{1,200}$' } },
} as const;

/** RFC 8259: JSON exchanged between systems is UTF-8; another declared charset would be misread. */
function declaresUtf8OrNothing(contentType: string | undefined): boolean {
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(contentType ?? '')?.[1];
  return charset === undefined || /^utf-?8$/i.test(charset);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

const wholeUser = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'email'],
  properties: { name, email },
} as const;

const noSuchUser = (id: string) => new NotFoundError(`No user with id ${id}`);

/** One spelling per name: "é" sent as e + U+0301 (NFD) is stored as U+00E9 (NFC), as most keyboards type it. */
const withNfcName = <T extends Partial<NewUser>>(body: T): T =>
  body.name === undefined ? body : { ...body, name: body.name.normalize('NFC') };

interface IdParams {
  id: string;
}

/** The `users` resource. Handlers translate HTTP to plain calls on the repository. */
export async function usersRoutes(app: FastifyInstance, { repository }: { repository: UsersRepository }) {
  // JSON is the only representation; anything else is a 415, not a 400.
  app.removeContentTypeParser(['text/plain', 'application/json']);
  // `error` on both: a body carrying __proto__ or constructor.prototype keys is refused whole.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body: Buffer, done) => {
    if (!declaresUtf8OrNothing(request.headers['content-type'])) {
      done(new errorCodes.FST_ERR_CTP_INVALID_MEDIA_TYPE(), undefined);
      return;
    }
    let text: string;
    try {
      text = strictUtf8.decode(body);
    } catch {
      done(new errorCodes.FST_ERR_CTP_INVALID_JSON_BODY(), undefined);
      return;
    }
    parseJson(request, text, done);
  });

  app.get<{ Querystring: { limit?: string; cursor?: string } }>(
    '/',
    { schema: { querystring: listQuery } },
    async (request) => {
      const limit = Number(request.query.limit ?? DEFAULT_PAGE_SIZE);
      if (limit < 1 || limit > MAX_PAGE_SIZE) {
        throw new ValidationError([{ field: 'querystring/limit', message: `must be from 1 to ${MAX_PAGE_SIZE}` }]);
      }
      return repository.list({ limit, ...(request.query.cursor ? { after: request.query.cursor } : {}) });
    },
  );

  app.post<{ Body: NewUser; Headers: { [IDEMPOTENCY_KEY_HEADER]?: string } }>(
    '/',
    {
      schema: {
        querystring: noQuery,
        headers: createHeaders,
        body: wholeUser,
        response: { 201: user },
      },
    },
    async (request, reply) => {
      const idempotencyKey = request.headers[IDEMPOTENCY_KEY_HEADER];
      const input = withNfcName(request.body);
      const { user: created, replayed } =
        idempotencyKey === undefined
          ? { user: await repository.create(input), replayed: false }
          : await repository.createOnce(input, idempotencyKey);
      if (replayed) reply.header('idempotent-replayed', 'true');
      const prefix = resolveForwardedPrefix(request.headers[FORWARDED_PREFIX_HEADER]);
      const collectionPath = (request.url.split('?')[0] ?? '').replace(/\/$/, '');
      return reply.code(201).header('location', `${prefix}${collectionPath}/${created.id}`).send(created);
    },
  );

  app.get<{ Params: IdParams }>(
    '/:id',
    { schema: { params: idParams, querystring: noQuery, response: { 200: user } } },
    async (request) => {
      const found = await repository.get(request.params.id);
      if (!found) throw noSuchUser(request.params.id);
      return found;
    },
  );

  const update = async (id: string, changes: Partial<NewUser>) => {
    const updated = await repository.update(id, withNfcName(changes));
    if (!updated) throw noSuchUser(id);
    return updated;
  };

  app.put<{ Params: IdParams; Body: NewUser }>(
    '/:id',
    { schema: { params: idParams, querystring: noQuery, body: wholeUser, response: { 200: user } } },
    async (request) => update(request.params.id, request.body),
  );

  app.patch<{ Params: IdParams; Body: Partial<NewUser> }>(
    '/:id',
    {
      schema: {
        params: idParams,
        querystring: noQuery,
        body: { type: 'object', additionalProperties: false, minProperties: 1, properties: { name, email } },
        response: { 200: user },
      },
    },
    async (request) => update(request.params.id, request.body),
  );

  app.delete<{ Params: IdParams }>(
    '/:id',
    { schema: { params: idParams, querystring: noQuery } },
    async (request, reply) => {
      if (!(await repository.remove(request.params.id))) throw noSuchUser(request.params.id);
      return reply.code(204).send();
    },
  );
}
