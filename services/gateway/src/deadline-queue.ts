export interface Expirable {
  /** performance.now() at which `expire` is due; set by the queue. */
  deadlineAt: number;
  /** The queue's links; only DeadlineQueue reads or writes them. */
  prevDeadline: Expirable | undefined;
  nextDeadline: Expirable | undefined;
  expire(): void;
}

/**
 * One timer for every in-flight attempt of an upstream. All of them wait the same
 * time, so the order they were added in is the order they expire in: the queue is
 * a list in insertion order, and its one timer is armed for the head. Per attempt
 * that is an append and an unlink, instead of a timer created, cancelled and collected.
 *
 * The list is linked through the items themselves. A Set did the same job, but
 * measured under load it made V8 keep ~16 MB of request objects alive through each
 * young-generation collection (20 ms pauses and a heap that grew to be compacted);
 * with the links in the items the heap stays flat.
 */
export class DeadlineQueue<T extends Expirable> {
  readonly #timeoutMs: number;
  #head: Expirable | undefined;
  #tail: Expirable | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  add(item: T): void {
    item.deadlineAt = performance.now() + this.#timeoutMs;
    item.prevDeadline = this.#tail;
    item.nextDeadline = undefined;
    if (this.#tail === undefined) this.#head = item;
    else this.#tail.nextDeadline = item;
    this.#tail = item;
    if (this.#timer === undefined) this.#arm(this.#timeoutMs);
  }

  /** Takes an item out (its answer came); a no-op for one that is not queued. */
  delete(item: T): void {
    const { prevDeadline, nextDeadline } = item;
    if (prevDeadline === undefined && this.#head !== item) return;
    if (prevDeadline === undefined) this.#head = nextDeadline;
    else prevDeadline.nextDeadline = nextDeadline;
    if (nextDeadline === undefined) this.#tail = prevDeadline;
    else nextDeadline.prevDeadline = prevDeadline;
    item.prevDeadline = undefined;
    item.nextDeadline = undefined;
  }

  #arm(delayMs: number): void {
    // Rounded up: a timer that fires a fraction early would find nothing due and re-arm for ~0 ms.
    this.#timer = setTimeout(this.#expireDue, Math.max(1, Math.ceil(delayMs)));
    this.#timer.unref();
  }

  readonly #expireDue = (): void => {
    this.#timer = undefined;
    const now = performance.now();
    for (let item = this.#head; item !== undefined; item = this.#head) {
      if (item.deadlineAt > now) {
        this.#arm(item.deadlineAt - now);
        return;
      }
      this.delete(item as T);
      item.expire();
    }
  };

  clear(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#head !== undefined) this.delete(this.#head as T);
  }
}
