import { composeUp } from '@lab/lab-kit/compose';
import { dockerHostname } from '@lab/lab-kit/docker';
import { fileFixture } from '@lab/lab-kit/fixture';
import { report, shareByReplica } from '@lab/lab-kit/load';
import { healthyReplicas } from '@lab/lab-kit/topology';
import { waitFor } from '@lab/lab-kit/wait';
import { describe, expect, it } from 'vitest';

const stack = fileFixture(() => composeUp('mslab-scale', { upArgs: ['--scale', 'users=3'], readyPath: '/api/users' }));

describe('compose --scale users=3', () => {
  it('has the gateway spread requests over all 3 replicas', async () => {
    // Discovery runs every 2 s by default; wait until the gateway admits all three.
    await waitFor(async () => (await healthyReplicas(stack.gatewayUrl, 'users')) === 3, 20_000, '3 healthy');
    const servedBy: { servedBy: string | null }[] = [];
    for (let i = 0; i < 300; i++) {
      const res = await fetch(`${stack.gatewayUrl}/api/users`);
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      servedBy.push({ servedBy: res.headers.get('x-served-by') });
    }
    const shares = shareByReplica(servedBy);
    const containers = await stack.ids('users');
    report('compose-scaling', { byReplica: Object.fromEntries(shares), containers: containers.length });

    expect(containers).toHaveLength(3);
    expect(new Set(shares.keys())).toEqual(new Set(containers.map(dockerHostname)));
    for (const count of shares.values()) expect(count).toBeGreaterThanOrEqual(60);
  });
});
