import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';

/**
 * Clients that are slow, silent or leave half-way (issue #21), over raw sockets: what no
 * well-behaved HTTP library sends. Each resolves with what the server did about it.
 */

function socketTo(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  socket.on('error', () => {});
  return once(socket, 'connect').then(() => socket);
}

const requestHead = (url: string, lines: string[]) =>
  `POST ${new URL(url).pathname} HTTP/1.1\r\nHost: ${new URL(url).host}\r\n${lines.join('\r\n')}\r\n\r\n`;

export interface StalledUpload {
  /** ms from sending the headers until the server closed the socket. */
  closedAfterMs: number;
  /** The first line the server wrote, if any (a 408 from the edge's request timeout). */
  statusLine: string;
}

/** Headers announcing `announcedBytes`, `sentBytes` of them, then silence until the server closes. */
export async function stalledUpload(url: string, announcedBytes = 200_000, sentBytes = 10_000): Promise<StalledUpload> {
  const socket = await socketTo(url);
  const startedAt = performance.now();
  let text = '';
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1');
  });
  socket.write(requestHead(url, ['Content-Type: application/json', `Content-Length: ${announcedBytes}`]));
  socket.write(Buffer.alloc(sentBytes, 0x20));
  await once(socket, 'close');
  return { closedAfterMs: performance.now() - startedAt, statusLine: text.split('\r\n')[0] ?? '' };
}

/** A chunked upload that sends one chunk and then drops the connection. */
export async function abortedChunkedUpload(url: string, afterMs = 20): Promise<void> {
  const socket = await socketTo(url);
  socket.write(requestHead(url, ['Content-Type: application/json', 'Transfer-Encoding: chunked']));
  socket.write(`400\r\n${' '.repeat(0x400)}\r\n`);
  await new Promise((resolve) => setTimeout(resolve, afterMs));
  socket.destroy();
}

/** A request whose answer is never read: the socket stays open, paused, until `holdMs` has passed. */
export async function slowReader(url: string, holdMs: number): Promise<void> {
  const { pathname, search, host } = new URL(url);
  const socket = await socketTo(url);
  socket.pause();
  socket.write(`GET ${pathname}${search} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
  await new Promise((resolve) => setTimeout(resolve, holdMs));
  socket.destroy();
}

/** A POST with `Expect: 100-continue`, its body sent once the server says so, as curl does; returns the status. */
export function expectContinuePost(url: string, body: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const payload = Buffer.from(body);
    const req = httpRequest(
      url,
      {
        method: 'POST',
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': String(payload.length),
          expect: '100-continue',
        },
        timeout: 10_000,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
    req.once('continue', () => req.end(payload));
  });
}
