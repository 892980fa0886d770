import { composeUp } from '@lab/lab-kit/compose';
import { memoryMiB } from '@lab/lab-kit/docker';
import { fileFixture } from '@lab/lab-kit/fixture';
import {
  abortedChunkedUpload,
  expectContinuePost,
  type StalledUpload,
  slowReader,
  stalledUpload,
} from '@lab/lab-kit/hostile-clients';
import { MEMORY_LIMIT_MIB } from '@lab/lab-kit/lab-env';
import { report } from '@lab/lab-kit/load';
import { postUser, seedUsers } from '@lab/lab-kit/users-api';
import { describe, expect, it } from 'vitest';

/**
 * Issue #21 in compose: hundreds of clients that stall, leave, ask to continue or never read,
 * at once, beside ordinary clients, for longer than the edge's request timeout.
 */
const DURATION_MS = 32_000;
const STALLED = 200;
/**
 * The gateway's defaults: a stalled upload moves no bytes, so CLIENT_IDLE_TIMEOUT_MS ends it
 * before CLIENT_REQUEST_TIMEOUT_MS would (a client trickling bytes meets the latter, with a 408).
 */
const IDLE_TIMEOUT_MS = 15_000;
const REQUEST_TIMEOUT_MS = 30_000;

const stack = fileFixture(() =>
  composeUp('mslab-hostile', { upArgs: ['--scale', 'users=2'], readyPath: '/api/users' }),
);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `step` back to back until `deadline`, at most every `everyMs`; returns how many ran. */
async function repeat(deadline: number, everyMs: number, step: (n: number) => Promise<void>): Promise<number> {
  let n = 0;
  while (performance.now() < deadline) {
    const startedAt = performance.now();
    await step(n++);
    await sleep(Math.max(0, everyMs - (performance.now() - startedAt)));
  }
  return n;
}

async function gatewayMetric(name: string): Promise<number> {
  const text = await (await fetch(`${stack.gatewayUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{upstream="users"}`));
  return Number(line?.split(' ').at(-1));
}

describe('#21: hostile clients at the gateway in compose', () => {
  it('stalled, aborted, Expect and never-reading clients cost ordinary clients nothing, for 32 s', async () => {
    const ids = await seedUsers(stack.gatewayUrl, 20, 'Hostile');
    const [gatewayId] = await stack.ids('gateway');
    const ejectionsBefore = await gatewayMetric('gateway_upstream_ejections_total');
    const deadline = performance.now() + DURATION_MS;
    const uploadsUrl = `${stack.gatewayUrl}/api/users`;
    const ordinary = { ok: 0, failed: [] as string[] };
    let expectOk = 0;
    const expectFailed: number[] = [];
    let peakMiB = 0;

    const stalled: Promise<StalledUpload>[] = Array.from({ length: STALLED }, () => stalledUpload(uploadsUrl));
    const work = await Promise.all([
      repeat(deadline, 50, async () => abortedChunkedUpload(uploadsUrl)),
      repeat(deadline, 100, async (n) => {
        const status = await expectContinuePost(
          uploadsUrl,
          JSON.stringify({ name: `Expect ${n}`, email: `expect${n}@example.org` }),
        );
        if (status === 201) expectOk++;
        else expectFailed.push(status);
      }),
      repeat(deadline, 500, async () => {
        void slowReader(`${stack.gatewayUrl}/api/users?limit=50`, 10_000);
      }),
      repeat(deadline, 25, async (n) => {
        const res =
          n % 4 === 0
            ? await postUser(
                stack.gatewayUrl,
                { name: `Ordinary ${n}`, email: `ordinary${n}@example.org` },
                { headers: { 'content-type': 'application/json', 'idempotency-key': `ordinary-${n}` } },
              )
            : await fetch(`${stack.gatewayUrl}/api/users/${ids[n % ids.length]}`);
        await res.arrayBuffer();
        if (res.ok) ordinary.ok++;
        else ordinary.failed.push(`${res.status} ${res.headers.get('content-type')}`);
      }),
      repeat(deadline, 2000, async () => {
        peakMiB = Math.max(peakMiB, await memoryMiB([gatewayId as string]));
      }),
    ]);
    const closed = await Promise.all(stalled);
    const slowestCloseMs = Math.max(...closed.map((s) => s.closedAfterMs));
    const topology = (await (await fetch(`${stack.gatewayUrl}/api/_topology`)).json()) as {
      upstreams: { name: string; breaker: string; replicas: { healthy: number; ejected: number } }[];
    };
    const users = topology.upstreams.find((u) => u.name === 'users');
    const figures = {
      ordinaryOk: ordinary.ok,
      ordinaryFailed: ordinary.failed.length,
      expectOk,
      abortedUploads: work[0],
      slowReaders: work[2],
      stalledUploads: STALLED,
      slowestStalledCloseS: Math.round(slowestCloseMs / 100) / 10,
      gatewayPeakMiB: Math.round(peakMiB),
      gatewayLimitMiB: MEMORY_LIMIT_MIB.gateway,
    };
    report('hostile-clients-compose', figures);

    expect(ordinary.failed).toEqual([]);
    expect(ordinary.ok).toBeGreaterThan(DURATION_MS / 25 / 2);
    expect(expectFailed).toEqual([]);
    expect(expectOk).toBeGreaterThan(DURATION_MS / 100 / 2);
    expect(work[0]).toBeGreaterThan(300);
    // Every stalled upload was closed by the edge's idle timeout, within the request timeout, none sooner.
    expect(slowestCloseMs).toBeLessThan(Math.min(IDLE_TIMEOUT_MS, REQUEST_TIMEOUT_MS) + 2000);
    expect(Math.min(...closed.map((s) => s.closedAfterMs))).toBeGreaterThan(IDLE_TIMEOUT_MS - 1000);
    expect(closed.filter((s) => s.statusLine !== '' && !s.statusLine.startsWith('HTTP/1.1 408'))).toEqual([]);
    expect(users).toMatchObject({ breaker: 'closed', replicas: { healthy: 2, ejected: 0 } });
    expect(await gatewayMetric('gateway_upstream_ejections_total')).toBe(ejectionsBefore);
    // Headroom: at most three quarters of the limit.
    expect(peakMiB).toBeGreaterThan(0);
    expect(peakMiB).toBeLessThan(MEMORY_LIMIT_MIB.gateway * 0.75);
  }, 120_000);
});
