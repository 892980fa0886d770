import { composeUp } from '@lab/lab-kit/compose';
import { inspectContainer } from '@lab/lab-kit/docker';
import { fileFixture } from '@lab/lab-kit/fixture';
import { CONSOLE_PORT, labSetting, resolveNodeImage, SERVICE_PORTS } from '@lab/lab-kit/lab-env';
import { waitFor, waitForOk } from '@lab/lab-kit/wait';
import { GenericContainer, type StartedTestContainer } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The monolith twin's lab port in the real compose file, with the console and LAB_FAULTS=on:
 * the monolith sits on edge (for its published port) and on backend (for the console), and
 * anything on edge must not be able to slow, fail or crash it.
 */
const LAB_FAULTS_PORT = Number(labSetting('LAB_FAULTS_PORT'));
const stack = fileFixture(() =>
  composeUp('mslab-labport', { env: { COMPOSE_PROFILES: 'lab,monolith', LAB_FAULTS: 'on' } }),
);
let consoleUrl: string;
let monolith: { edge: string; backend: string };
let outsider: StartedTestContainer | undefined;

interface MonolithView {
  monolith: { replicas: { faultsAvailable: boolean; faults: { latencyMs: number } | null }[] } | null;
}

const monolithReplicas = async () =>
  ((await (await fetch(`${consoleUrl}/api/snapshot`)).json()) as MonolithView).monolith?.replicas ?? [];

/** A TCP connect attempt from the outsider; prints `connected` or the error code. */
async function connectFromOutsider(host: string, port: number): Promise<string> {
  const script =
    `const s=require('net').connect({host:${JSON.stringify(host)},port:${port},timeout:2000});` +
    "s.on('connect',()=>{console.log('connected');s.destroy()});s.on('timeout',()=>{console.log('TIMEOUT');s.destroy()});" +
    "s.on('error',e=>console.log(e.code))";
  return (await (outsider as StartedTestContainer).exec(['node', '-e', script])).output.trim();
}

beforeAll(async () => {
  const monolithUrl = await stack.url('monolith', SERVICE_PORTS.monolith);
  consoleUrl = await stack.url('console', CONSOLE_PORT);
  await waitForOk(`${monolithUrl}/health/ready`, 60_000, { intervalMs: 500 });
  await waitForOk(`${consoleUrl}/health/ready`, 60_000, { intervalMs: 500 });
  const [id = ''] = await stack.ids('monolith');
  const networks = (await inspectContainer(id)).NetworkSettings.Networks ?? {};
  monolith = {
    edge: networks[`${stack.project}_edge`]?.IPAddress ?? '',
    backend: networks[`${stack.project}_backend`]?.IPAddress ?? '',
  };
  // A client on the edge network, where the outside world meets the gateway and the twin.
  outsider = await new GenericContainer(resolveNodeImage())
    .withNetworkMode(`${stack.project}_edge`)
    .withCommand(['sleep', '300'])
    .withEntrypoint([])
    .start();
}, 180_000);

// Registered after the fixture, so it runs first: the outsider sits on the project's edge network.
afterAll(async () => {
  await outsider?.stop();
});

describe("the monolith's lab port in the real compose file", () => {
  it('#21 finding 7: a container on edge cannot reach it, by name or by address, though the main port answers there', async () => {
    expect(monolith.edge).toBeTruthy();
    expect(monolith.backend).toBeTruthy();
    // The main port is on edge: what is refused below is the lab port, not the network.
    expect(await connectFromOutsider('monolith', SERVICE_PORTS.monolith)).toBe('connected');
    expect(await connectFromOutsider(monolith.edge, SERVICE_PORTS.monolith)).toBe('connected');

    expect(await connectFromOutsider('monolith', LAB_FAULTS_PORT)).toBe('ECONNREFUSED');
    expect(await connectFromOutsider(monolith.edge, LAB_FAULTS_PORT)).toBe('ECONNREFUSED');
    // backend is internal and the outsider is not on it.
    expect(['ENETUNREACH', 'EHOSTUNREACH', 'TIMEOUT']).toContain(
      await connectFromOutsider(monolith.backend, LAB_FAULTS_PORT),
    );
    // Nor does the backend-only name resolve from edge.
    expect(await connectFromOutsider('monolith-backend', LAB_FAULTS_PORT)).toMatch(/^(ENOTFOUND|EAI_AGAIN)$/);
  });

  it("#21 finding 7: the console still sets and clears the monolith's faults, over backend", async () => {
    await waitFor(
      async () => (await monolithReplicas()).some((replica) => replica.faultsAvailable),
      30_000,
      "the console sees the monolith's lab port",
    );
    const set = await fetch(`${consoleUrl}/api/faults/monolith`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ latencyMs: 200 }),
    });
    expect(set.status).toBe(200);
    const { results } = (await set.json()) as { results: { ok: boolean; status: number }[] };
    expect(results).toEqual([expect.objectContaining({ ok: true, status: 200 })]);
    expect((await monolithReplicas())[0]?.faults).toMatchObject({ latencyMs: 200 });

    const cleared = await fetch(`${consoleUrl}/api/faults/monolith`, { method: 'DELETE' });
    expect(cleared.status).toBe(200);
    expect((await monolithReplicas())[0]?.faults).toBeNull();
  });
});
