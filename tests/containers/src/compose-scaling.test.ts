import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { composeProject, waitForOk } from './compose.ts';
import { report, shareByReplica } from './load.ts';
import { upstreamTopology, waitFor } from './topology.ts';

const project = `mslab-scale-${randomBytes(3).toString('hex')}`;
let stack: Awaited<ReturnType<typeof composeProject>>;
let gatewayUrl: string;

beforeAll(async () => {
  stack = await composeProject(project, { GATEWAY_PORT: '0' });
  await stack.compose('up', '--detach', '--scale', 'users=3');
  gatewayUrl = await stack.url('gateway', 8080);
  await waitForOk(`${gatewayUrl}/api/users`, 90_000);
});

afterAll(async () => {
  await stack?.down();
});

describe('compose --scale users=3', () => {
  it('has the gateway spread requests over all 3 replicas', async () => {
    // Discovery runs every 2 s by default; wait until the gateway admits all three.
    await waitFor(
      async () => (await upstreamTopology(gatewayUrl, 'users')).replicas.healthy === 3,
      20_000,
      '3 healthy',
    );
    const servedBy: { servedBy: string | null }[] = [];
    for (let i = 0; i < 300; i++) {
      const res = await fetch(`${gatewayUrl}/api/users`);
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      servedBy.push({ servedBy: res.headers.get('x-served-by') });
    }
    const shares = shareByReplica(servedBy as never);
    const containers = (await stack.compose('ps', '-q', 'users')).trim().split('\n');
    report('compose-scaling', { byReplica: Object.fromEntries(shares), containers: containers.length });

    expect(containers).toHaveLength(3);
    expect(new Set(shares.keys())).toEqual(new Set(containers.map((id) => id.slice(0, 12))));
    for (const count of shares.values()) expect(count).toBeGreaterThanOrEqual(60);
  });
});
