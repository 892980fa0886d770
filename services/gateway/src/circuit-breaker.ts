export type BreakerState = 'closed' | 'open' | 'half-open';

/** What `acquire` granted: nothing, an ordinary call, or the one trial call of a half-open breaker. */
export const Permit = { Refused: 0, Call: 1, Trial: 2 } as const;
export type Permit = (typeof Permit)[keyof typeof Permit];

/**
 * A consecutive-failures circuit breaker: `failures` failed calls in a row open it,
 * and it answers at once for `halfOpenAfterMs`; then one trial call decides whether
 * it closes or opens again. The pool can also say that a replica just came back
 * (`halfOpenNow`), so a recovered service need not wait out the open period.
 *
 * Synchronous verbs and no promises: it runs on every proxied request.
 */
export class CircuitBreaker {
  readonly #failures: number;
  readonly #halfOpenAfterMs: number;
  readonly #onStateChange: (state: BreakerState) => void;
  #state: BreakerState = 'closed';
  #consecutiveFailures = 0;
  #openedAt = 0;
  #trialInFlight = false;

  constructor({
    failures,
    halfOpenAfterMs,
    onStateChange = () => {},
  }: {
    failures: number;
    halfOpenAfterMs: number;
    onStateChange?: (state: BreakerState) => void;
  }) {
    this.#failures = failures;
    this.#halfOpenAfterMs = halfOpenAfterMs;
    this.#onStateChange = onStateChange;
  }

  get state(): BreakerState {
    return this.#state;
  }

  acquire(): Permit {
    if (this.#state === 'closed') return Permit.Call;
    if (this.#state === 'open') {
      if (Date.now() - this.#openedAt < this.#halfOpenAfterMs) return Permit.Refused;
      this.#transition('half-open');
    }
    if (this.#trialInFlight) return Permit.Refused;
    this.#trialInFlight = true;
    return Permit.Trial;
  }

  /** The outcome of a call `acquire` let through. */
  release(permit: Permit, ok: boolean): void {
    if (permit === Permit.Trial) {
      this.#trialInFlight = false;
      if (ok) this.#close();
      else this.#open();
      return;
    }
    // Calls that started before the breaker opened do not decide anything now.
    if (permit !== Permit.Call || this.#state !== 'closed') return;
    if (ok) {
      this.#consecutiveFailures = 0;
      return;
    }
    this.#consecutiveFailures += 1;
    if (this.#consecutiveFailures >= this.#failures) this.#open();
  }

  /** A replica answered its readiness probe again: let the next call be the trial now. */
  halfOpenNow(): void {
    if (this.#state === 'open') this.#transition('half-open');
  }

  #open(): void {
    this.#openedAt = Date.now();
    this.#transition('open');
  }

  #close(): void {
    this.#consecutiveFailures = 0;
    this.#transition('closed');
  }

  #transition(next: BreakerState): void {
    if (next === this.#state) return;
    this.#state = next;
    this.#onStateChange(next);
  }
}
