import Fastify from 'fastify';
import { pino } from 'pino';
import { Pool } from 'undici';

const pool = new Pool('http://127.0.0.1:18070');
const withLogger = process.env.MINI_LOGGER === '1';
const app = Fastify(withLogger ? { loggerInstance: pino({ level: 'warn' }) } : {});
app.get('/api/hello', (request, reply) => {
  const chunks = [];
  pool.dispatch(
    { method: 'GET', path: '/', headers: ['x-request-id', 'a'] },
    {
      onRequestStart() {},
      onResponseStart(c, status) {
        reply.code(status);
      },
      onResponseData(c, chunk) {
        chunks.push(chunk);
      },
      onResponseEnd() {
        reply.send(Buffer.concat(chunks));
      },
      onResponseError() {
        reply.code(502).send();
      },
    },
  );
});
await app.listen({ port: 18080 });
