import { createServer, request } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig, readServiceSettings } from './config.js';
import { createFastifyApp } from './fastify.js';
import { Faults } from './faults.js';
import { FAULTS_BODY_LIMIT, type LabPort, openLabPort, resolveListenAddress } from './faults-listener.js';
import { Health } from './health.js';
import { createLogger } from './logger.js';
import { serviceDeps } from './run-service.js';

const settingsFrom = (env: Record<string, string>) =>
  parseConfig({ HOST: '127.0.0.1', INSTANCE_NAME: 'svc-1', LOG_LEVEL: 'silent', ...env }, (read) =>
    readServiceSettings(read, { service: 'svc', port: 0, version: '1.0.0' }),
  );

function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger(
    { service: 'svc', instance: 'svc-1', logLevel: 'info' },
    { write: (line: string) => lines.push(JSON.parse(line)) },
  );
  return { logger, lines };
}

/** A port nothing listens on: taken from the OS, then given back. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function connectionRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
}

let lab: LabPort | undefined;

afterEach(async () => {
  await lab?.close();
  lab = undefined;
});

async function openLab(faults = new Faults(), exit: (code: number) => void = () => {}) {
  const { logger, lines } = capturingLogger();
  lab = await openLabPort(settingsFrom({ LAB_FAULTS: 'on', LAB_FAULTS_PORT: '0' }), { faults, logger, exit });
  if (lab === undefined) throw new Error('the lab port did not open');
  const url = `http://127.0.0.1:${lab.port}/faults`;
  return { faults, lines, url };
}

const put = (url: string, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
  fetch(url, { method: 'PUT', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });

/** A PUT with the Host and Origin a browser would send (fetch sets Host itself). */
function putAs(url: string, body: unknown, headers: { host: string; origin?: string }) {
  const text = JSON.stringify(body);
  return new Promise<{ status: number; type: string | undefined; body: { code?: string } }>((resolve, reject) => {
    const req = request(url, {
      method: 'PUT',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers },
    });
    req.once('response', async (res) => {
      let answer = '';
      for await (const chunk of res) answer += String(chunk);
      resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], body: JSON.parse(answer) });
    });
    req.once('error', reject);
    req.end(text);
  });
}

describe('the lab port', () => {
  it('is not opened with LAB_FAULTS off: nothing listens on LAB_FAULTS_PORT', async () => {
    const port = await freePort();
    const config = settingsFrom({ LAB_FAULTS_PORT: String(port) });
    const deps = serviceDeps(config);
    expect(deps.faults).toBeUndefined();
    expect(await openLabPort(config, deps)).toBeUndefined();
    expect(await connectionRefused(port)).toBe(true);
  });

  it('is opened with LAB_FAULTS on, on HOST:LAB_FAULTS_PORT, and closes', async () => {
    const config = settingsFrom({ LAB_FAULTS: 'on', LAB_FAULTS_PORT: '0' });
    const deps = serviceDeps(config);
    expect(deps.faults).toBeInstanceOf(Faults);
    lab = await openLabPort(config, deps);
    const port = lab?.port ?? 0;
    const res = await fetch(`http://127.0.0.1:${port}/faults`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ service: 'svc', instance: 'svc-1', faults: null });
    await lab?.close();
    lab = undefined;
    expect(await connectionRefused(port)).toBe(true);
  });

  it('sets, reports and clears faults, logging one line per change', async () => {
    const { faults, lines, url } = await openLab();

    const set = await put(url, { latencyMs: 150, errorRate: 0.2 });
    expect(set.status).toBe(200);
    const expected = { latencyMs: 150, errorRate: 0.2, errorStatus: 500, hang: false };
    expect(await set.json()).toEqual({ service: 'svc', instance: 'svc-1', faults: expected });
    expect(faults.current).toEqual(expected);
    expect(await (await fetch(url)).json()).toMatchObject({ faults: expected });

    // A PUT replaces the settings: what it omits is off.
    expect(await (await put(url, { hang: true, errorStatus: 504 })).json()).toMatchObject({
      faults: { latencyMs: 0, errorRate: 0, errorStatus: 504, hang: true },
    });

    const cleared = await fetch(url, { method: 'DELETE' });
    expect(cleared.status).toBe(200);
    expect(await cleared.json()).toEqual({ service: 'svc', instance: 'svc-1', faults: null });
    expect(faults.current).toBeNull();

    // Settings with every fault off are a DELETE.
    await put(url, { errorRate: 1 });
    expect(await (await put(url, { errorRate: 0, latencyMs: 0 })).json()).toMatchObject({ faults: null });

    expect(lines.map((line) => line.msg)).toEqual([
      'lab faults listening',
      'lab faults set',
      'lab faults set',
      'lab faults cleared',
      'lab faults set',
      'lab faults cleared',
    ]);
    expect(lines[1]).toMatchObject({ level: 'warn', faults: expected });
  });

  it('drives the faults of the app it sits beside', async () => {
    const { faults, url } = await openLab();
    const app = createFastifyApp({
      logger: createLogger(settingsFrom({})),
      health: new Health('svc', 'svc-1'),
      faults,
    });
    app.get('/api/items', async () => []);
    try {
      await put(url, { errorRate: 1, errorStatus: 503 });
      expect((await app.inject({ url: '/api/items' })).statusCode).toBe(503);
      await fetch(url, { method: 'DELETE' });
      expect((await app.inject({ url: '/api/items' })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('answers crash with 202, logs it and then exits the process with 1', async () => {
    const exits: number[] = [];
    let exited: () => void = () => {};
    const exitCalled = new Promise<void>((resolve) => {
      exited = resolve;
    });
    const { faults, lines, url } = await openLab(new Faults(), (code) => {
      exits.push(code);
      exited();
    });
    faults.set({ latencyMs: 10 });

    const res = await put(url, { crash: true });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({
      crashing: true,
      service: 'svc',
      instance: 'svc-1',
      faults: { latencyMs: 10, errorRate: 0, errorStatus: 500, hang: false },
    });
    await exitCalled;
    expect(exits).toEqual([1]);
    expect(lines.find((line) => line.msg === 'lab fault: crash')).toMatchObject({ level: 'fatal' });
  });

  it.each([
    ['malformed JSON', '{"errorRate": ', 400, 'body is not valid JSON'],
    ['an empty body', '', 400, 'body is not valid JSON'],
    ['an array', [], 400, 'body must be a JSON object'],
    ['a wrong type', { hang: 'yes' }, 400, 'body/hang must be true or false'],
    ['a fraction of a ms', { latencyMs: 2.5 }, 400, 'body/latencyMs must be an integer from 0 to 60000'],
    ['a latency over a minute', { latencyMs: 60_001 }, 400, 'body/latencyMs must be an integer from 0 to 60000'],
    ['an error rate over 1', { errorRate: 1.5 }, 400, 'body/errorRate must be a number from 0 to 1'],
    ['a status that is no error', { errorStatus: 200 }, 400, 'body/errorStatus must be an integer from 400 to 599'],
    ['an unknown field', { errorRate: 0.1, delay: 5 }, 400, 'body/delay is not an allowed field'],
    ['a body over 4 KiB', { errorRate: 0.1, pad: 'x'.repeat(FAULTS_BODY_LIMIT) }, 413, `${FAULTS_BODY_LIMIT} bytes`],
  ])('refuses %s with a problem+json naming it, and changes nothing', async (_case, body, status, detail) => {
    const { faults, url } = await openLab();
    faults.set({ latencyMs: 5 });
    const res = await put(url, body);
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(((await res.json()) as { detail: string }).detail).toContain(detail);
    expect(faults.current).toMatchObject({ latencyMs: 5 });
  });

  it('#21 finding 7: takes settings only for an IP or single-label Host and from no other origin, so a DNS-rebound page cannot crash it', async () => {
    const exits: number[] = [];
    const { faults, url } = await openLab(new Faults(), (code) => exits.push(code));
    const port = new URL(url).port;
    for (const headers of [
      { host: `rebind.evil.example:${port}` },
      { host: 'evil.example' },
      { host: `127.0.0.1:${port}`, origin: 'https://evil.example' },
      { host: `localhost:${port}`, origin: 'null' },
    ]) {
      const refused = await putAs(url, { crash: true }, headers);
      expect(refused.status, JSON.stringify(headers)).toBe(403);
      expect(refused.type).toBe('application/problem+json');
      expect(refused.body.code).toBe('UNTRUSTED_ORIGIN');
    }
    expect(exits).toEqual([]);

    // The console calls each replica by IP; a compose service name or localhost are single labels.
    for (const host of [`127.0.0.1:${port}`, `monolith-backend:${port}`, `localhost:${port}`]) {
      expect((await putAs(url, { latencyMs: 5 }, { host })).status, host).toBe(200);
    }
    expect(faults.current).toMatchObject({ latencyMs: 5 });
  });

  it('#21 finding 7: listens on LAB_FAULTS_HOST only (HOST by default): nothing answers on the other addresses', async () => {
    expect(settingsFrom({}).labFaultsHost).toBe('127.0.0.1');
    const { logger } = capturingLogger();
    // Linux answers on all of 127.0.0.0/8: two addresses of one host, as a container has one per network.
    const config = settingsFrom({ LAB_FAULTS: 'on', LAB_FAULTS_PORT: '0', LAB_FAULTS_HOST: '127.0.0.2' });
    lab = await openLabPort(config, { faults: new Faults(), logger });
    const port = lab?.port ?? 0;
    expect((await fetch(`http://127.0.0.2:${port}/faults`)).status).toBe(200);
    expect(await connectionRefused(port)).toBe(true);
  });

  it("resolves a LAB_FAULTS_HOST name to the address of it that is this host's own", async () => {
    expect(['127.0.0.1', '::1']).toContain(await resolveListenAddress('localhost'));
    expect(await resolveListenAddress('127.0.0.2')).toBe('127.0.0.2');
  });

  it('refuses a body that is not JSON, unknown paths and other methods with problem+json', async () => {
    const { url } = await openLab();
    const text = await put(url, 'errorRate=1', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(text.status).toBe(415);
    expect(await text.json()).toMatchObject({ status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });

    const chunked = await fetch(url, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: new Blob([JSON.stringify({ pad: 'y'.repeat(FAULTS_BODY_LIMIT * 4) })]).stream(),
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(413);

    const unknownPath = await fetch(url.replace('/faults', '/health/live'));
    expect(unknownPath.status).toBe(404);
    expect(await unknownPath.json()).toMatchObject({ code: 'NOT_FOUND' });

    const wrongMethod = await fetch(url, { method: 'POST', body: '{}' });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('DELETE, GET, HEAD, PUT');
    expect(wrongMethod.headers.get('content-type')).toBe('application/problem+json');

    // Still answering after all that.
    expect((await fetch(url)).status).toBe(200);
  });
});
