import type { IncomingHttpHeaders } from 'node:http';
import { Readable } from 'node:stream';
import type { HttpError } from '@lab/platform/problem';
import { SERVED_BY_HEADER } from '@lab/platform/request-id';
import { type Context, context } from '@opentelemetry/api';
import type { FastifyReply } from 'fastify';
import type { Dispatcher } from 'undici';
import type { Permit } from './circuit-breaker.ts';
import type { Expirable } from './deadline-queue.ts';
import { copyClientHeaders } from './header-policy.ts';
import type { Replica } from './replica-pool.ts';
import type { Upstream } from './upstream.ts';

/**
 * Answers up to this size that say so in Content-Length are gathered and sent in
 * one write (the common case: a JSON document in one TCP read); anything larger,
 * or of unknown length, is streamed to the client with backpressure. Either way
 * the gateway never holds more than this of one response.
 */
export const COLLECT_LIMIT_BYTES = 64 * 1024;

const WAITING = 0;
const COLLECTING = 1;
const STREAMING = 2;
/** A 502/503 that will be retried elsewhere: read to the end so the connection stays usable, then dropped. */
const DRAINING = 3;
const DONE = 4;
/** The deadline passed before undici had the request on a socket: answered 504 already. */
const EXPIRED = 5;

/** Given to undici when the deadline passes: the attempt becomes a 504. One instance: no stack per timeout. */
const DEADLINE_EXCEEDED = new Error('upstream response deadline passed');

/** A streamed answer's body: undici pushes into it, and pauses while the client is slow. */
class UpstreamBody extends Readable {
  readonly #controller: Dispatcher.DispatchController;

  constructor(controller: Dispatcher.DispatchController) {
    super();
    this.#controller = controller;
  }

  override _read(): void {
    this.#controller.resume();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // The client went away (Fastify destroys the stream): stop reading from the upstream.
    if (!this.readableEnded) this.#controller.abort(error ?? new Error('client closed the connection'));
    callback(error);
  }
}

export interface ProxyRequest {
  method: string;
  path: string;
  headers: string[];
  /** Read whole before the first attempt (request-bodies.ts), so a retry can send it again. */
  body: Buffer | null;
  /** The method (or an Idempotency-Key) makes it safe to send twice. */
  idempotent: boolean;
  /**
   * The request's trace context, when tracing. A retry is sent from undici's callback
   * for the failed attempt, outside the request's async context; entering this one
   * makes its attempt span a sibling of the first instead of the root of a new trace.
   */
  traceContext: Context | undefined;
}

/**
 * One proxied request, as undici's dispatch handler: it carries the request to a
 * replica and the answer straight into the Fastify reply, with no promise, no
 * intermediate response object and no body stream for answers that arrive whole.
 * The Upstream decides replicas, retries and failures; this moves the bytes.
 */
export class ProxyExchange implements Dispatcher.DispatchHandler, Expirable {
  readonly #upstream: Upstream;
  readonly #reply: FastifyReply;
  readonly #request: ProxyRequest;
  readonly retryable: boolean;
  permit: Permit = 0;
  retried = false;
  startedAt = 0;
  deadlineAt = 0;
  prevDeadline: Expirable | undefined;
  nextDeadline: Expirable | undefined;
  #replica: Replica | undefined;
  #controller: Dispatcher.DispatchController | undefined;
  #state = WAITING;
  #statusCode = 0;
  #headers: IncomingHttpHeaders | undefined;
  #chunks: Buffer[] = [];
  #body: UpstreamBody | undefined;

  constructor(upstream: Upstream, reply: FastifyReply, request: ProxyRequest) {
    this.#upstream = upstream;
    this.#reply = reply;
    this.#request = request;
    this.retryable = request.idempotent;
  }

  /** Sends this attempt to `replica` (called by the Upstream). */
  send(replica: Replica): void {
    const { traceContext } = this.#request;
    if (traceContext === undefined) this.#dispatch(replica);
    else context.with(traceContext, this.#dispatch, this, replica);
  }

  #dispatch(replica: Replica): void {
    this.#replica = replica;
    this.#state = WAITING;
    this.#controller = undefined;
    const { method, path, headers, body } = this.#request;
    replica.dispatcher.dispatch(
      {
        method,
        path,
        headers,
        body,
        // The time to headers is the DeadlineQueue's; undici's body timeout (between
        // chunks, ~0.5 s resolution) only stops a response that stalls half-way.
        headersTimeout: 0,
        bodyTimeout: this.#upstream.responseTimeoutMs,
      },
      this,
    );
  }

  /** The request could not be served: a problem+json answer through Fastify's error handler. */
  fail(error: HttpError): void {
    this.#state = DONE;
    // The client may still be sending a body nobody will read: the connection cannot be reused.
    if (!this.#reply.request.raw.complete) this.#reply.header('connection', 'close');
    this.#reply.send(error);
  }

  /** The DeadlineQueue's verdict: no headers in time. */
  expire(): void {
    if (this.#controller !== undefined) {
      this.#controller.abort(DEADLINE_EXCEEDED);
      return;
    }
    // Still connecting: answer now (504); undici's late callbacks then find the exchange expired.
    this.#upstream.attemptFailed(this, this.#replica as Replica, 'timeout');
    this.#state = EXPIRED;
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller;
    if (this.#state === EXPIRED) controller.abort(DEADLINE_EXCEEDED);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (this.#state === EXPIRED) return;
    this.#statusCode = statusCode;
    if (this.#upstream.responded(this, statusCode)) {
      this.#state = DRAINING;
      return;
    }
    this.#headers = headers;
    const bodiless = statusCode === 204 || statusCode === 304 || this.#request.method === 'HEAD';
    if (bodiless || Number(headers['content-length']) <= COLLECT_LIMIT_BYTES) {
      // Headers go out with the body, so an answer cut short can still become a clean 502.
      this.#state = COLLECTING;
      return;
    }
    this.#state = STREAMING;
    this.#body = new UpstreamBody(controller);
    this.#writeHead();
    this.#reply.send(this.#body);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#state === COLLECTING) this.#chunks.push(chunk);
    else if (this.#state === STREAMING && !(this.#body as UpstreamBody).push(chunk)) controller.pause();
  }

  onResponseEnd(): void {
    const replica = this.#replica as Replica;
    const state = this.#state;
    if (state === EXPIRED) return;
    this.#state = DONE;
    this.#upstream.attemptEnded(replica, this.#statusCode);
    if (state === COLLECTING) {
      this.#writeHead();
      const chunks = this.#chunks;
      this.#reply.send(chunks.length === 0 ? undefined : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    } else if (state === STREAMING) {
      (this.#body as UpstreamBody).push(null);
    } else if (state === DRAINING) {
      this.#upstream.retry(this, replica);
    }
  }

  onResponseError(_controller: Dispatcher.DispatchController | null, error: Error): void {
    const replica = this.#replica as Replica;
    const state = this.#state;
    if (state === EXPIRED) return;
    this.#state = DONE;
    if (state === WAITING) {
      this.#upstream.attemptFailed(this, replica, error === DEADLINE_EXCEEDED ? 'timeout' : error);
    } else if (state === STREAMING) {
      this.#upstream.attemptEnded(replica, 502);
      // Headers are out already: all that can be done is to cut the client's answer short.
      (this.#body as UpstreamBody).destroy(error);
    } else if (state === DRAINING) {
      this.#upstream.attemptEnded(replica, 502);
      this.#upstream.retry(this, replica);
    } else if (state === COLLECTING) {
      this.#upstream.responseCutShort(this, replica);
    }
  }

  #writeHead(): void {
    const reply = this.#reply;
    const headers = this.#headers as IncomingHttpHeaders;
    reply.code(this.#statusCode);
    copyClientHeaders(headers, reply);
    if (headers[SERVED_BY_HEADER] === undefined) reply.header(SERVED_BY_HEADER, (this.#replica as Replica).address);
  }
}
