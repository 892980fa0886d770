/**
 * The ingest rate bound: a token bucket of bytes, one second deep. A request is let in
 * while the bucket holds anything and then pays for its body as decoded (a gzipped one
 * at its inflated size), which may leave the bucket in debt by up to one body limit;
 * later requests wait for the debt to refill. So the average stays at the rate, and a
 * request is refused before its body is read.
 */
export class IngestBudget {
  readonly bytesPerSecond: number;
  readonly #now: () => number;
  #tokens: number;
  #updatedAt: number;

  constructor(bytesPerSecond: number, now: () => number = Date.now) {
    this.bytesPerSecond = bytesPerSecond;
    this.#now = now;
    this.#tokens = bytesPerSecond;
    this.#updatedAt = now();
  }

  #refill(): void {
    const now = this.#now();
    const elapsedMs = Math.max(0, now - this.#updatedAt);
    this.#tokens = Math.min(this.bytesPerSecond, this.#tokens + (elapsedMs / 1000) * this.bytesPerSecond);
    this.#updatedAt = now;
  }

  /** 0 when a request may come in now, else the whole seconds until one may. */
  retryAfterSeconds(): number {
    this.#refill();
    if (this.#tokens > 0) return 0;
    return Math.max(1, Math.ceil(-this.#tokens / this.bytesPerSecond));
  }

  spend(bytes: number): void {
    this.#refill();
    this.#tokens -= bytes;
  }
}
