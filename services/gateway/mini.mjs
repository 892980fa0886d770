import { createServer } from 'node:http';
import { Pool } from 'undici';

const pool = new Pool('http://127.0.0.1:18070');
createServer((req, res) => {
  const chunks = [];
  pool.dispatch(
    { method: 'GET', path: '/', headers: ['x-request-id', 'a'] },
    {
      onRequestStart() {},
      onResponseStart(c, status, headers) {
        res.statusCode = status;
      },
      onResponseData(c, chunk) {
        chunks.push(chunk);
      },
      onResponseEnd() {
        res.end(Buffer.concat(chunks));
      },
      onResponseError(c, e) {
        res.statusCode = 502;
        res.end();
      },
    },
  );
}).listen(18080);
