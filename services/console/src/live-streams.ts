import type { ServerResponse } from 'node:http';

/** One server-sent event: JSON.stringify writes no newline, so the data is one line. */
export const snapshotEvent = (json: string) => `event: snapshot\ndata: ${json}\n\n`;

/**
 * The open GET /api/live streams. A client that reads slower than snapshots come
 * skips snapshots until its socket drains, so no stream buffers more than one.
 */
export class LiveStreams {
  readonly max: number;
  readonly #open = new Set<ServerResponse>();
  readonly #draining = new Set<ServerResponse>();

  constructor(max: number) {
    this.max = max;
  }

  get size(): number {
    return this.#open.size;
  }

  get full(): boolean {
    return this.#open.size >= this.max;
  }

  /** Takes over a response whose headers the caller has written. */
  add(response: ServerResponse, firstEvent: string): void {
    // A client gone before its stream opened would never send the 'close' that removes it.
    if (response.socket === null || response.socket.destroyed) return;
    this.#open.add(response);
    response.on('close', () => {
      this.#open.delete(response);
      this.#draining.delete(response);
    });
    this.#write(response, firstEvent);
  }

  broadcast(event: string): void {
    for (const response of this.#open) if (!this.#draining.has(response)) this.#write(response, event);
  }

  #write(response: ServerResponse, event: string): void {
    if (response.write(event)) return;
    this.#draining.add(response);
    response.once('drain', () => this.#draining.delete(response));
  }

  /** Ends every stream, so that the server can close. */
  closeAll(): void {
    for (const response of this.#open) response.end();
    this.#open.clear();
    this.#draining.clear();
  }
}
