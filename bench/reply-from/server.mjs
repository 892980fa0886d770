// `/api/hello` and `/api/hello/*` to HELLO_URL with the prefix stripped, as the gateway does.
import replyFrom from '@fastify/reply-from';
import Fastify from 'fastify';

const PREFIX = '/api/hello';
const port = Number(process.env.PORT ?? 8087);
const target = process.env.HELLO_URL ?? 'http://hello:8070';
const app = Fastify({ logger: false });
// Bodies stream through untouched instead of being parsed and re-serialised.
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
// reply-from's undici pool keeps upstream sockets alive (128 connections, 60 s idle).
await app.register(replyFrom, { base: target, disableRequestLogging: true });

app.get('/health/ready', async () => ({ status: 'ready' }));
const forward = (request, reply) => {
  const rest = request.url.slice(PREFIX.length);
  return reply.from(rest.startsWith('/') ? rest : `/${rest}`);
};
app.all(PREFIX, forward);
app.all(`${PREFIX}/*`, forward);

await app.listen({ port, host: '0.0.0.0' });
process.stdout.write(`reply-from proxy listening on ${port} -> ${target}\n`);
process.on('SIGTERM', () => app.close().then(() => process.exit(0)));
