export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `condition` every `intervalMs` (a throw counts as false); throws if it still fails after `timeoutMs`. */
export async function waitFor(
  condition: () => Promise<boolean> | boolean,
  timeoutMs: number,
  what = 'condition',
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (
      await Promise.resolve()
        .then(condition)
        .catch(() => false)
    )
      return;
    await sleep(intervalMs);
  }
  throw new Error(`${what} did not hold within ${timeoutMs} ms`);
}

export interface WaitForOkOptions {
  /** Also required of the 200's body, e.g. every upstream ready. */
  accept?: (body: string) => boolean;
  /** How long between polls; short where the moment of readiness is measured. */
  intervalMs?: number;
}

/**
 * Polls until `url` answers 200 (and `accept` agrees) or the deadline passes, as
 * compose v1, which has no `up --wait`, needs; returns when it did (performance.now()).
 */
export async function waitForOk(
  url: string,
  timeoutMs: number,
  { accept = () => true, intervalMs = 100 }: WaitForOkOptions = {},
): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  let last = 'no answer yet';
  while (performance.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      const body = await res.text();
      if (res.status === 200 && accept(body)) return performance.now();
      last = `HTTP ${res.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await sleep(intervalMs);
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms (${last})`);
}
