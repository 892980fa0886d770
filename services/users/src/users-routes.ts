import { NotFoundError, ValidationError } from '@lab/platform/problem';
import type { FastifyInstance } from 'fastify';
import type { NewUser, UsersRepository } from './users-repository.ts';
import { UUID_PATTERN } from './uuid-v7.ts';

const name = { type: 'string', minLength: 1, maxLength: 100 } as const;
const email = { type: 'string', format: 'email', maxLength: 254 } as const;
const user = {
  type: 'object',
  properties: { id: { type: 'string' }, name, email: { type: 'string' }, createdAt: { type: 'string' } },
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

interface IdParams {
  id: string;
}

/** The `users` resource. Handlers translate HTTP to plain calls on the repository. */
export async function usersRoutes(app: FastifyInstance, { repository }: { repository: UsersRepository }) {
  // JSON is the only representation; anything else is a 415, not a 400.
  app.removeContentTypeParser('text/plain');

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

  app.post<{ Body: NewUser }>(
    '/',
    {
      schema: {
        body: { type: 'object', additionalProperties: false, required: ['name', 'email'], properties: { name, email } },
        response: { 201: user },
      },
    },
    async (request, reply) => {
      const created = repository.create(request.body);
      return reply
        .code(201)
        .header('location', `${request.url.replace(/\/$/, '')}/${created.id}`)
        .send(created);
    },
  );

  app.get<{ Params: IdParams }>('/:id', { schema: { params: idParams, response: { 200: user } } }, async (request) => {
    const found = repository.get(request.params.id);
    if (!found) throw new NotFoundError(`No user with id ${request.params.id}`);
    return found;
  });

  const update = async (id: string, changes: Partial<NewUser>) => {
    const updated = repository.update(id, changes);
    if (!updated) throw new NotFoundError(`No user with id ${id}`);
    return updated;
  };

  app.put<{ Params: IdParams; Body: NewUser }>(
    '/:id',
    {
      schema: {
        params: idParams,
        body: { type: 'object', additionalProperties: false, required: ['name', 'email'], properties: { name, email } },
        response: { 200: user },
      },
    },
    async (request) => update(request.params.id, request.body),
  );

  app.patch<{ Params: IdParams; Body: Partial<NewUser> }>(
    '/:id',
    {
      schema: {
        params: idParams,
        body: { type: 'object', additionalProperties: false, minProperties: 1, properties: { name, email } },
        response: { 200: user },
      },
    },
    async (request) => update(request.params.id, request.body),
  );

  app.delete<{ Params: IdParams }>('/:id', { schema: { params: idParams } }, async (request, reply) => {
    if (!repository.remove(request.params.id)) throw new NotFoundError(`No user with id ${request.params.id}`);
    return reply.code(204).send();
  });
}
