import { docker } from '@lab/lab-kit/docker';
import { fileFixture } from '@lab/lab-kit/fixture';
import { report } from '@lab/lab-kit/load';
import { healthyReplicas } from '@lab/lab-kit/topology';
import { listUsers, postUser } from '@lab/lab-kit/users-api';
import { sleep, waitFor } from '@lab/lab-kit/wait';
import { describe, expect, it } from 'vitest';
import { FAST_FAILOVER, startStack } from './stack.ts';

const KILL_CYCLES = 20;
const WRITERS = 6;
const stack = fileFixture(() => startStack({ usersReplicas: 2, gatewayEnv: FAST_FAILOVER }));

interface Acknowledged {
  id: string;
  email: string;
}

/** Writers create users until told to stop; only a 201 counts as acknowledged. */
function startWriters(gatewayUrl: string, cycle: number, acknowledged: Acknowledged[]) {
  let running = true;
  let attempted = 0;
  const writer = async (w: number) => {
    for (let n = 0; running; n++) {
      const email = `c${cycle}-w${w}-n${n}@example.org`;
      attempted++;
      try {
        const res = await postUser(gatewayUrl, { name: `Durable ${n}`, email }, { signal: AbortSignal.timeout(5_000) });
        if (res.status === 201) {
          acknowledged.push({ id: ((await res.json()) as { id: string }).id, email });
          continue;
        }
        await res.arrayBuffer();
      } catch {
        // A write cut off by the kill was never acknowledged, so it promises nothing.
      }
      // Back off while users is down, as a polite client would.
      await sleep(50);
      if (!running) break;
    }
  };
  const done = Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)));
  return {
    attempted: () => attempted,
    async stop() {
      running = false;
      await done;
    },
  };
}

describe('durability: SIGKILL during concurrent writes', () => {
  it(`keeps every acknowledged user, exactly once, across ${KILL_CYCLES} kill cycles`, async () => {
    const acknowledged: Acknowledged[] = [];
    let attempted = 0;
    for (let cycle = 0; cycle < KILL_CYCLES; cycle++) {
      const writers = startWriters(stack.gatewayUrl, cycle, acknowledged);
      await sleep(400 + Math.random() * 400);
      await docker('kill', '--signal', 'SIGKILL', ...stack.users.map((c) => c.getId()));
      await writers.stop();
      attempted += writers.attempted();
      await docker('rm', '-f', ...stack.users.map((c) => c.getId()));
      stack.users.length = 0;
      // Fresh replicas on the same volume: SQLite recovers the WAL when it opens the file.
      await Promise.all([stack.addUsersReplica(), stack.addUsersReplica()]);
      await waitFor(
        async () => (await healthyReplicas(stack.gatewayUrl, 'users')) === 2,
        15_000,
        'the gateway admitting both new replicas',
      );
    }

    const stored = await listUsers<Acknowledged>(stack.gatewayUrl);
    const storedIds = new Map<string, number>();
    for (const user of stored) storedIds.set(user.id, (storedIds.get(user.id) ?? 0) + 1);
    const missing = acknowledged.filter((a) => !storedIds.has(a.id));
    const duplicated = [...storedIds.values()].filter((count) => count > 1).length;
    const replica = stack.users[0];
    if (!replica) throw new Error('no users replica');
    const integrity = await replica.exec([
      'node',
      '-e',
      "const { DatabaseSync } = require('node:sqlite'); const db = new DatabaseSync('/data/users.db', { readOnly: true }); console.log(db.prepare('PRAGMA integrity_check').get().integrity_check)",
    ]);

    report('durability', {
      killCycles: KILL_CYCLES,
      writesAttempted: attempted,
      writesAcknowledged: acknowledged.length,
      usersStored: stored.length,
      acknowledgedMissing: missing.length,
      duplicated,
      integrityCheck: integrity.output.trim(),
    });

    expect(acknowledged.length).toBeGreaterThan(KILL_CYCLES * 10);
    expect(missing).toEqual([]);
    expect(duplicated).toBe(0);
    expect(new Set(stored.map((u) => u.email)).size).toBe(stored.length);
    expect(integrity.exitCode).toBe(0);
    expect(integrity.output.trim()).toBe('ok');
  });
});
