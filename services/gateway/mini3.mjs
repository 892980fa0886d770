import { createFastifyApp } from '@lab/platform/fastify';
import { Health } from '@lab/platform/health';
import { createLogger } from '@lab/platform/logger';
import { Pool } from 'undici';

const pool = new Pool('http://127.0.0.1:18070');
const logger = createLogger({ service: 'g', instance: 'i', logLevel: 'warn' });
const app = createFastifyApp({ logger, health: new Health('g', 'i') });
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
