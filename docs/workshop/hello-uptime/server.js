// The smallest useful service: one route with its uptime, and a clean stop on SIGTERM
// (the signal `docker stop` sends) so a container exits at once instead of being killed.
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 3000);
const startedAt = new Date();

const server = createServer((req, res) => {
  if (req.url !== '/') {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ hello: 'world', startedAt, uptimeSeconds: Math.floor(process.uptime()) }));
});

server.listen(port, () => console.log(`hello-uptime listening on ${port}`));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
