import { randomBytes } from 'node:crypto';
import { type AddressInfo, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { docker, removeLabelled } from '@lab/lab-kit/docker';
import type { ImageBuilds } from '@lab/lab-kit/images';

export const BENCH_ROOT = fileURLToPath(new URL('../', import.meta.url));

export interface ContainerSpec {
  /** Name suffix, unique within a run. */
  role: string;
  image: string;
  /** The DNS name other containers use; replicas share one. */
  alias?: string;
  env?: Record<string, string>;
  /** Which cores; see CPU_LAYOUT in deployments.ts. */
  cpuset: string;
  memoryMiB?: number;
  /** A CPU quota in cores (`--cpus`): the container gets at most this much CPU time, whatever its cpuset. */
  cpus?: number;
  /** A named volume mounted at /data. */
  volume?: string;
  /** A container port to publish on 127.0.0.1 (a random host port), for host-side probes. */
  publish?: number;
  /** The same least-privilege settings as docker-compose.yml. */
  hardened?: boolean;
  /** Replaces the image's CMD. */
  command?: string[];
}

export interface Container {
  id: string;
  role: string;
  /** `http://127.0.0.1:<port>` when the spec published a port. */
  hostUrl?: string;
}

/**
 * Everything one run creates, labelled with its run id so teardown removes exactly
 * that (and nothing another run or a CI job started), even after a failure.
 */
export class BenchSession {
  readonly name: string;
  readonly runId = randomBytes(4).toString('hex');
  readonly label: string;
  readonly network: string;
  /** Every container this session starts runs an image this run built (or bootstrap provided). */
  readonly images: ImageBuilds;
  readonly #cli: typeof docker;
  readonly #volumes: string[] = [];
  #networkCreated = false;

  constructor(name: string, { images, cli = docker }: { images: ImageBuilds; cli?: typeof docker }) {
    this.name = name;
    this.images = images;
    this.#cli = cli;
    this.label = `mslab.bench.run=${this.runId}`;
    this.network = `mslab-bench-${name}-${this.runId}`;
  }

  async createNetwork(): Promise<void> {
    // Not --internal: the gateway and the monolith publish a port to 127.0.0.1 for host probes.
    await this.#cli('network', 'create', '--label', this.label, this.network);
    this.#networkCreated = true;
  }

  async createVolume(suffix: string): Promise<string> {
    const volume = `mslab-bench-${this.runId}-${suffix}`;
    this.#volumes.push(volume);
    await this.#cli('volume', 'create', '--label', this.label, volume);
    return volume;
  }

  async run(spec: ContainerSpec): Promise<Container> {
    await this.images.ensure(spec.image);
    const args = ['run', '-d', '--name', `mslab-bench-${this.runId}-${spec.role}`, '--label', this.label];
    args.push('--network', this.network, '--init', '--cpuset-cpus', spec.cpuset);
    if (spec.alias) args.push('--network-alias', spec.alias);
    if (spec.memoryMiB) args.push('--memory', `${spec.memoryMiB}m`);
    if (spec.cpus) args.push('--cpus', String(spec.cpus));
    if (spec.hardened) {
      args.push('--read-only', '--tmpfs', '/tmp:rw,noexec,nosuid', '--cap-drop', 'ALL');
      args.push('--security-opt', 'no-new-privileges:true', '--pids-limit', '64');
      // A crashed process comes back, as under compose; `docker rm -f` still removes it.
      args.push('--restart', 'unless-stopped');
    }
    if (spec.volume) args.push('-v', `${spec.volume}:/data`);
    // A host port picked here, not by Docker: Docker picks a new one when a crashed container restarts.
    const hostPort = spec.publish ? await freePort() : 0;
    if (spec.publish) args.push('-p', `127.0.0.1:${hostPort}:${spec.publish}`);
    for (const [key, value] of Object.entries(spec.env ?? {})) args.push('-e', `${key}=${value}`);
    const id = await this.#cli(...args, spec.image, ...(spec.command ?? []));
    const container: Container = { id, role: spec.role };
    if (spec.publish) container.hostUrl = `http://127.0.0.1:${hostPort}`;
    return container;
  }

  /** Removes containers now, whatever state they are in. */
  async remove(containers: Container[]): Promise<void> {
    await this.#cli('rm', '-f', ...containers.map((c) => c.id));
  }

  /** Removes this run's containers, network and volumes, whatever state they are in. */
  async teardown(): Promise<void> {
    await removeLabelled(this.label);
    if (this.#networkCreated) await this.#cli('network', 'rm', this.network).catch(() => '');
    for (const volume of this.#volumes) await this.#cli('volume', 'rm', '-f', volume).catch(() => '');
  }
}

/** A port nothing on 127.0.0.1 listens on right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Moves running containers to other cores; a restart keeps the new setting. */
export async function setCpuset(containers: Container[], cpuset: string): Promise<void> {
  await docker('update', '--cpuset-cpus', cpuset, ...containers.map((c) => c.id));
}

/** Gives running containers a CPU quota in cores (`docker update --cpus`); a restart keeps it. */
export async function setCpus(containers: Container[], cpus: number): Promise<void> {
  await docker('update', '--cpus', String(cpus), ...containers.map((c) => c.id));
}
