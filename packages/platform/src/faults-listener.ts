import { lookup } from 'node:dns/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { type AddressInfo, isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Logger } from 'pino';
import { answerClientError } from './client-errors.js';
import { type FaultSettings, type Faults, parseFaultRequest, untrustedOrigin } from './faults.js';
import { flushLogger } from './logger.js';
import {
  HttpError,
  MethodNotAllowedError,
  NotFoundError,
  PayloadTooLargeError,
  PROBLEM_CONTENT_TYPE,
  toHttpError,
  ValidationError,
} from './problem.js';

/** Settings are a handful of fields; anything bigger is not a settings body. */
export const FAULTS_BODY_LIMIT = 4096;

const FAULTS_PATH = '/faults';
const FAULTS_METHODS = ['DELETE', 'GET', 'HEAD', 'PUT'] as const;
const JSON_CONTENT_TYPE = /^application\/json\s*(;|$)/i;

export interface LabPortSettings {
  service: string;
  instance: string;
  /** An address, or a name that resolves to one of this host's own (LAB_FAULTS_HOST). */
  labFaultsHost: string;
  labFaultsPort: number;
}

export interface LabPortDeps {
  /** Present when LAB_FAULTS is on (see serviceDeps); without it no lab port opens. */
  faults?: Faults | undefined;
  logger: Logger;
  /** What `crash` ends the process with once its answer is sent; tests pass their own. */
  exit?: (code: number) => void;
}

export interface LabPort {
  port: number;
  close(): Promise<void>;
}

interface FaultsReport {
  service: string;
  instance: string;
  faults: Readonly<FaultSettings> | null;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res
    .writeHead(status, { 'content-type': 'application/json', ...headers, 'content-length': Buffer.byteLength(text) })
    .end(text);
}

/** At most FAULTS_BODY_LIMIT bytes; past that the rest is drained unread and the request refused. */
function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const refuse = () => {
      req.removeAllListeners('data').removeAllListeners('end').resume();
      reject(new PayloadTooLargeError(FAULTS_BODY_LIMIT));
    };
    if (Number(req.headers['content-length']) > FAULTS_BODY_LIMIT) return refuse();
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > FAULTS_BODY_LIMIT) return refuse();
      chunks.push(chunk);
    });
    req.once('end', () => resolve(Buffer.concat(chunks)));
    req.once('error', reject);
  });
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  if (!JSON_CONTENT_TYPE.test(req.headers['content-type'] ?? '')) {
    req.resume();
    throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', `PUT ${FAULTS_PATH} takes a body of type application/json`);
  }
  const body = await readBody(req);
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    throw new ValidationError([{ field: 'body', message: 'is not valid JSON' }]);
  }
}

/**
 * The address to listen on. A name may be one this container has on a single network (a
 * compose network alias), so that the lab port is not on its other networks; with replicas
 * the name resolves to each of them, and the one that is this container's own is taken.
 */
export async function resolveListenAddress(host: string): Promise<string> {
  if (isIP(host) !== 0) return host;
  const own = new Set(
    Object.values(networkInterfaces())
      .flat()
      .map((entry) => entry?.address),
  );
  const resolved = (await lookup(host, { all: true })).map(({ address }) => address);
  const address = resolved.find((candidate) => own.has(candidate));
  if (address === undefined) {
    throw new Error(`LAB_FAULTS_HOST ${host} resolves to ${resolved.join(', ')}, none of them an address of this host`);
  }
  return address;
}

/**
 * The lab port: a plain node:http listener beside the main one, serving only
 * `/faults` (GET, PUT, DELETE). The gateway never routes to it and compose publishes
 * only main ports, so only the networks it listens on reach it (LAB_FAULTS_HOST), and
 * it answers only requests the lab's own callers make (untrustedOrigin). Opened only
 * with LAB_FAULTS on.
 */
export async function openLabPort(
  { service, instance, labFaultsHost, labFaultsPort }: LabPortSettings,
  { faults, logger, exit = (code) => process.exit(code) }: LabPortDeps,
): Promise<LabPort | undefined> {
  if (faults === undefined) return undefined;
  const report = (): FaultsReport => ({ service, instance, faults: faults.current });

  const crash = (res: ServerResponse): void => {
    // The answer first, then a real exit: the container's restart policy and the gateway are what the learner watches.
    res.once('close', () => void flushLogger(logger).finally(() => exit(1)));
    sendJson(res, 202, { crashing: true, ...report() });
    logger.fatal({ faults: faults.current }, 'lab fault: crash');
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const method = req.method ?? 'GET';
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const refused = untrustedOrigin(req.headers.host, req.headers.origin);
    if (refused) {
      req.resume();
      throw refused;
    }
    if (path !== FAULTS_PATH)
      throw new NotFoundError(`No route for ${method} ${path}; this port serves ${FAULTS_PATH}`);
    if (method === 'GET' || method === 'HEAD') return sendJson(res, 200, report());
    if (method === 'DELETE') {
      faults.clear();
      logger.info('lab faults cleared');
      return sendJson(res, 200, report());
    }
    if (method !== 'PUT') throw new MethodNotAllowedError(method, FAULTS_PATH, FAULTS_METHODS);
    const request = parseFaultRequest(await readJson(req));
    if (request.crash) return crash(res);
    const active = faults.set(request.settings);
    if (active) logger.warn({ faults: active }, 'lab faults set');
    else logger.info('lab faults cleared');
    sendJson(res, 200, report());
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      const httpError = toHttpError(error);
      if (httpError.status >= 500) logger.error({ err: error }, 'lab faults request failed');
      if (res.headersSent) return void res.destroy();
      const headers = { ...httpError.headers, 'content-type': PROBLEM_CONTENT_TYPE };
      sendJson(res, httpError.status, httpError.toProblem(req.url), headers);
    });
  });
  server.on('clientError', (error, socket) => answerClientError(logger, error, socket));
  const address = await resolveListenAddress(labFaultsHost);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(labFaultsPort, address, resolve);
  });
  const { port } = server.address() as AddressInfo;
  // Anyone on the network of this address can now slow, fail or crash this process.
  logger.warn({ address, port }, 'lab faults listening');
  return {
    port,
    close: () => new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve()))),
  };
}
