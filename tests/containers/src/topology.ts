import { sleep } from './load.ts';

interface UpstreamTopology {
  name: string;
  breaker: string;
  requests: number;
  attempts: number;
  retries: number;
  replicas: { known: number; healthy: number; ejected: number };
}

/** The gateway's own view of an upstream (GET /api/_topology). */
export async function upstreamTopology(gatewayUrl: string, upstream: string): Promise<UpstreamTopology> {
  const res = await fetch(`${gatewayUrl}/api/_topology`);
  const body = (await res.json()) as { upstreams: UpstreamTopology[] };
  const found = body.upstreams.find((u) => u.name === upstream);
  if (!found) throw new Error(`the gateway reports no upstream named ${upstream}`);
  return found;
}

export const breakerState = async (gatewayUrl: string, upstream: string) =>
  (await upstreamTopology(gatewayUrl, upstream)).breaker;

/** Polls `condition` every 100 ms; throws if it is still false after `timeoutMs`. */
export async function waitFor(condition: () => Promise<boolean>, timeoutMs: number, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`${what} did not hold within ${timeoutMs} ms`);
}
