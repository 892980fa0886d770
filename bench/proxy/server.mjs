// `/api/hello/*` to HELLO_URL with the prefix stripped, as the gateway does.
import { Agent } from 'node:http';
import express from 'express';
import { createProxyMiddleware } from 'http-proxy-middleware';

const port = Number(process.env.PORT ?? 8085);
const target = process.env.HELLO_URL ?? 'http://hello:8070';
const app = express();
app.get('/health/ready', (_req, res) => {
  res.json({ status: 'ready' });
});
// Keep-alive upstream sockets, like the gateway's undici pool: without them every
// request would pay a TCP handshake and the comparison would measure that instead.
// Express strips the mount path, so `/api/hello/uptime` reaches hello as `/uptime`.
app.use('/api/hello', createProxyMiddleware({ target, agent: new Agent({ keepAlive: true, maxSockets: 256 }) }));
const server = app.listen(port, '0.0.0.0', () => process.stdout.write(`proxy listening on ${port} -> ${target}\n`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
