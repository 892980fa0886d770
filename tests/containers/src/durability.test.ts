import { docker } from '@lab/lab-kit/docker';
import { fileFixture } from '@lab/lab-kit/fixture';
import { report } from '@lab/lab-kit/load';
import { healthyReplicas } from '@lab/lab-kit/topology';
import { listUsers, postUser } from '@lab/lab-kit/users-api';
import { sleep, waitFor } from '@lab/lab-kit/wait';
import { describe, expect, it } from 'vitest';
import { psql } from './postgres.ts';
import { FAST_FAILOVER, type Stack, startStack } from './stack.ts';

const KILL_CYCLES = 20;
const WRITERS = 6;
/** On PostgreSQL, this cycle SIGKILLs the database server too, with the users replicas. */
const SERVER_KILL_CYCLE = 10;

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

/**
 * KILL_CYCLES times: writers create users through the gateway while every users replica
 * is SIGKILLed, then fresh replicas start. Afterwards every acknowledged create must be
 * stored exactly once. Returns the figures and what the store's own check said.
 */
async function killCycles(stack: Stack, { killServerInCycle }: { killServerInCycle?: number } = {}) {
  const acknowledged: Acknowledged[] = [];
  let attempted = 0;
  let serverRecoveryMs: number | undefined;
  for (let cycle = 0; cycle < KILL_CYCLES; cycle++) {
    const writers = startWriters(stack.gatewayUrl, cycle, acknowledged);
    await sleep(400 + Math.random() * 400);
    const server = cycle === killServerInCycle ? stack.postgres : undefined;
    const victims = [...stack.users.map((c) => c.getId()), ...(server ? [server.getId()] : [])];
    await docker('kill', '--signal', 'SIGKILL', ...victims);
    await writers.stop();
    attempted += writers.attempted();
    // Until the engine has seen them exit: removing a container while its exit is still being
    // processed can leave a stale endpoint behind, and then its network cannot be removed.
    await docker('wait', ...victims);
    await docker('rm', '-f', ...stack.users.map((c) => c.getId()));
    stack.users.length = 0;
    const restartedAt = performance.now();
    // The same container on the same volume: PostgreSQL replays its WAL when it starts.
    if (server) await docker('start', server.getId());
    // Fresh replicas: on SQLite, on the same volume, which recovers the WAL when it opens the file.
    await Promise.all([stack.addUsersReplica(), stack.addUsersReplica()]);
    await waitFor(
      async () => (await healthyReplicas(stack.gatewayUrl, 'users')) === 2,
      30_000,
      'the gateway admitting both new replicas',
    );
    if (server) serverRecoveryMs = Math.round(performance.now() - restartedAt);
  }

  const stored = await listUsers<Acknowledged>(stack.gatewayUrl);
  const storedIds = new Map<string, number>();
  for (const user of stored) storedIds.set(user.id, (storedIds.get(user.id) ?? 0) + 1);
  return {
    acknowledged,
    stored,
    figures: {
      killCycles: KILL_CYCLES,
      writesAttempted: attempted,
      writesAcknowledged: acknowledged.length,
      usersStored: stored.length,
      acknowledgedMissing: acknowledged.filter((a) => !storedIds.has(a.id)).length,
      duplicated: [...storedIds.values()].filter((count) => count > 1).length,
      ...(serverRecoveryMs === undefined ? {} : { serverKilledInCycle: killServerInCycle, serverRecoveryMs }),
    },
  };
}

function expectEveryAcknowledgedWriteOnce({ acknowledged, stored, figures }: Awaited<ReturnType<typeof killCycles>>) {
  expect(acknowledged.length).toBeGreaterThan(KILL_CYCLES * 10);
  expect(figures.acknowledgedMissing).toBe(0);
  expect(figures.duplicated).toBe(0);
  expect(new Set(stored.map((u) => u.email.toLowerCase())).size).toBe(stored.length);
}

describe('durability on SQLite: SIGKILL during concurrent writes', () => {
  const stack = fileFixture(() => startStack({ usersReplicas: 2, gatewayEnv: FAST_FAILOVER }));

  it(`keeps every acknowledged user, exactly once, across ${KILL_CYCLES} kill cycles`, async () => {
    const outcome = await killCycles(stack);
    const replica = stack.users[0];
    if (!replica) throw new Error('no users replica');
    const integrity = await replica.exec([
      'node',
      '-e',
      "const { DatabaseSync } = require('node:sqlite'); const db = new DatabaseSync('/data/users.db', { readOnly: true }); console.log(db.prepare('PRAGMA integrity_check').get().integrity_check)",
    ]);
    report('durability', { ...outcome.figures, integrityCheck: integrity.output.trim() });

    expectEveryAcknowledgedWriteOnce(outcome);
    expect(integrity.exitCode).toBe(0);
    expect(integrity.output.trim()).toBe('ok');
  });
});

describe('durability on PostgreSQL: SIGKILL of the users replicas, and once of the server itself', () => {
  const stack = fileFixture(() => startStack({ usersReplicas: 2, gatewayEnv: FAST_FAILOVER, database: 'postgres' }));

  it(`keeps every acknowledged user, exactly once, across ${KILL_CYCLES} kill cycles, one of them PostgreSQL's`, async () => {
    const postgres = stack.postgres;
    if (!postgres) throw new Error('the stack has no PostgreSQL');
    // The default that makes a commit wait for its WAL flush: what "acknowledged" relies on.
    expect(await psql(postgres, 'SHOW synchronous_commit')).toBe('on');
    expect(await psql(postgres, 'SHOW fsync')).toBe('on');
    const outcome = await killCycles(stack, { killServerInCycle: SERVER_KILL_CYCLE });
    // amcheck: both indexes agree with the table after the crash recovery.
    const indexes = await psql(
      postgres,
      "CREATE EXTENSION IF NOT EXISTS amcheck; SELECT bt_index_check('users_pkey', true), bt_index_check('users_email_lower_key', true); SELECT count(*) FROM users",
    );
    report('durability-postgres', { ...outcome.figures, usersInTable: Number(indexes.split('\n').at(-1)) });

    expectEveryAcknowledgedWriteOnce(outcome);
    expect(outcome.figures.serverRecoveryMs).toBeGreaterThan(0);
    expect(Number(indexes.split('\n').at(-1))).toBe(outcome.stored.length);
  });
});
