export interface Expirable {
  /** performance.now() at which `expire` is due. */
  deadlineAt: number;
  expire(): void;
}

/**
 * One timer for every in-flight attempt of an upstream. All of them wait the same
 * time, so the order they were added in is the order they expire in: the queue is
 * a Set in insertion order, and its one timer is armed for the head. Per attempt
 * that is an add and a delete, instead of a timer created, cancelled and collected.
 */
export class DeadlineQueue<T extends Expirable> {
  readonly #timeoutMs: number;
  readonly #waiting = new Set<T>();
  #timer: NodeJS.Timeout | undefined;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  add(item: T): void {
    item.deadlineAt = performance.now() + this.#timeoutMs;
    this.#waiting.add(item);
    if (this.#timer === undefined) this.#arm(this.#timeoutMs);
  }

  delete(item: T): void {
    this.#waiting.delete(item);
  }

  #arm(delayMs: number): void {
    // Rounded up: a timer that fires a fraction early would find nothing due and re-arm for ~0 ms.
    this.#timer = setTimeout(this.#expireDue, Math.max(1, Math.ceil(delayMs)));
    this.#timer.unref();
  }

  readonly #expireDue = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    for (const item of this.#waiting) {
      if (item.deadlineAt > now) {
        this.#arm(item.deadlineAt - now);
        return;
      }
      this.#waiting.delete(item);
      item.expire();
    }
  };

  clear(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#waiting.clear();
  }
}
