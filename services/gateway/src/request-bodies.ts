import type { IncomingMessage } from 'node:http';
import { PayloadTooLargeError, UploadCapacityError } from '@lab/platform/problem';

/**
 * Each body's first bytes are free of the budget: an ordinary JSON request never waits on
 * another client's upload. What a client can hold that way is bounded by the connection
 * cap (MAX_CLIENT_CONNECTIONS x this); beyond it, bodies share BODY_BUFFER_BUDGET_BYTES.
 */
export const FREE_BODY_BYTES = 64 * 1024;

/**
 * Request bodies are read whole before anything goes upstream (nginx's
 * proxy_request_buffering): a client that uploads slowly, stalls or leaves half-way is
 * the edge's business and the edge's timeouts', and never reaches a replica, holds a
 * bulkhead slot or starts a response deadline. A whole body can also be sent again on a
 * retry. What the gateway holds is bounded: BODY_LIMIT_BYTES per body, and one shared
 * budget for what lies beyond each body's first FREE_BODY_BYTES, held until the answer
 * has gone (a retry may need the body until then).
 */
export class RequestBodies {
  readonly limitBytes: number;
  readonly budgetBytes: number;
  #spareBytes: number;
  readonly #charged = new WeakMap<IncomingMessage, number>();

  constructor(limitBytes: number, budgetBytes: number) {
    this.limitBytes = limitBytes;
    this.budgetBytes = budgetBytes;
    this.#spareBytes = budgetBytes;
  }

  /** Bytes of the budget not held by any body now. */
  get spareBytes(): number {
    return this.#spareBytes;
  }

  /** Fastify's content-type parser: the body as one Buffer, or a 413/503 before it is all read. */
  read(raw: IncomingMessage, done: (error: Error | null, body?: Buffer) => void): void {
    const announced = raw.headers['content-length'];
    const limit = this.limitBytes;
    if (announced !== undefined && Number(announced) > limit) {
      done(new PayloadTooLargeError(limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (error: Error | null, body?: Buffer) => {
      if (settled) return;
      settled = true;
      raw.off('data', onData);
      if (error !== null) this.release(raw);
      done(error, body);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        settle(new PayloadTooLargeError(limit));
        return;
      }
      const owed = size - FREE_BODY_BYTES - (this.#charged.get(raw) ?? 0);
      if (owed > 0) {
        if (owed > this.#spareBytes) {
          settle(new UploadCapacityError(this.budgetBytes));
          return;
        }
        this.#spareBytes -= owed;
        this.#charged.set(raw, (this.#charged.get(raw) ?? 0) + owed);
      }
      chunks.push(chunk);
    };
    raw.on('data', onData);
    raw.once('end', () => settle(null, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)));
    // Aborted, or cut by CLIENT_REQUEST_TIMEOUT_MS: the client's doing; no upstream saw any of it.
    raw.once('error', (error) => settle(error));
  }

  /** The answer has gone (or the client has): the body's share of the budget is free again. */
  release(raw: IncomingMessage): void {
    const charged = this.#charged.get(raw);
    if (charged === undefined) return;
    this.#charged.delete(raw);
    this.#spareBytes += charged;
  }
}
