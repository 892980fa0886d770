// POST /v1/traces: read the body, answer an empty ExportTraceServiceResponse.
// GET /stats: what arrived, so a benchmark can show the spans were really exported.
import { createServer } from 'node:http';

const port = Number(process.env.PORT ?? 4318);
let exports = 0;
let bytes = 0;
createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ exports, bytes }));
    return;
  }
  req.on('data', (chunk) => {
    bytes += chunk.length;
  });
  req.on('end', () => {
    exports += 1;
    res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
  });
}).listen(port, '0.0.0.0', () => process.stdout.write(`otlp sink listening on ${port}\n`));
