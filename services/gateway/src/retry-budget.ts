/**
 * Caps retries at a fraction of traffic so that retrying can never multiply an
 * outage: every request earns `ratio` of a token, every retry spends a whole one.
 * The small reserve lets a quiet gateway still retry its first few failures.
 */
export class RetryBudget {
  readonly #ratio: number;
  readonly #reserve: number;
  #tokens: number;

  constructor(ratio: number, reserve = 5) {
    this.#ratio = ratio;
    this.#reserve = reserve;
    this.#tokens = reserve;
  }

  recordRequest(): void {
    this.#tokens = Math.min(this.#reserve, this.#tokens + this.#ratio);
  }

  tryWithdraw(): boolean {
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
