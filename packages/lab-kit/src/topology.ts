export interface UpstreamTopology {
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

export const healthyReplicas = async (gatewayUrl: string, upstream: string) =>
  (await upstreamTopology(gatewayUrl, upstream)).replicas.healthy;
