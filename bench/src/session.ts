import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { type AddressInfo, createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { docker, imagePresent, removeLabelled } from '@lab/lab-kit/docker';
import { labImage, REPO_ROOT } from '@lab/lab-kit/lab-env';

const run = promisify(execFile);

export const BENCH_ROOT = fileURLToPath(new URL('../', import.meta.url));

export const PROXY_IMAGE = labImage('bench-proxy');
export const REPLY_FROM_IMAGE = labImage('bench-reply-from');
export const NGINX_PROXY_IMAGE = labImage('bench-nginx');
export const OTLP_SINK_IMAGE = labImage('bench-otlp-sink');
export const OFFICIAL_NGINX_IMAGE = 'nginx:1.27-alpine';
export const LOCAL_NGINX_IMAGE = labImage('nginx', 'local');

/**
 * The base of the nginx baseline: the official image when Docker has it or can pull it,
 * else one made from Debian's nginx by infra/offline-base/build-nginx.sh (built once, then kept).
 */
export async function resolveNginxImage(): Promise<string> {
  if (await imagePresent(OFFICIAL_NGINX_IMAGE)) return OFFICIAL_NGINX_IMAGE;
  // As infra/dev/bootstrap.sh: a registry that does not answer should not hang the run.
  const pulled = await run('docker', ['pull', '--quiet', OFFICIAL_NGINX_IMAGE], { timeout: 60_000 }).then(
    () => true,
    () => false,
  );
  if (pulled) return OFFICIAL_NGINX_IMAGE;
  if (await imagePresent(LOCAL_NGINX_IMAGE)) return LOCAL_NGINX_IMAGE;
  try {
    await run('bash', [`${REPO_ROOT}infra/offline-base/build-nginx.sh`, LOCAL_NGINX_IMAGE], {
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr?.trim().split('\n').at(-1);
    throw new Error(`infra/offline-base/build-nginx.sh: ${stderr || (error as Error).message}`);
  }
  return LOCAL_NGINX_IMAGE;
}

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
  readonly #volumes: string[] = [];
  #networkCreated = false;

  constructor(name: string) {
    this.name = name;
    this.label = `mslab.bench.run=${this.runId}`;
    this.network = `mslab-bench-${name}-${this.runId}`;
  }

  async createNetwork(): Promise<void> {
    // Not --internal: the gateway and the monolith publish a port to 127.0.0.1 for host probes.
    await docker('network', 'create', '--label', this.label, this.network);
    this.#networkCreated = true;
  }

  async createVolume(suffix: string): Promise<string> {
    const volume = `mslab-bench-${this.runId}-${suffix}`;
    this.#volumes.push(volume);
    await docker('volume', 'create', '--label', this.label, volume);
    return volume;
  }

  async run(spec: ContainerSpec): Promise<Container> {
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
    const id = await docker(...args, spec.image, ...(spec.command ?? []));
    const container: Container = { id, role: spec.role };
    if (spec.publish) container.hostUrl = `http://127.0.0.1:${hostPort}`;
    return container;
  }

  /** Removes containers now, whatever state they are in. */
  async remove(containers: Container[]): Promise<void> {
    await docker('rm', '-f', ...containers.map((c) => c.id));
  }

  /** Removes this run's containers, network and volumes, whatever state they are in. */
  async teardown(): Promise<void> {
    await removeLabelled(this.label);
    if (this.#networkCreated) await docker('network', 'rm', this.network).catch(() => '');
    for (const volume of this.#volumes) await docker('volume', 'rm', '-f', volume).catch(() => '');
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
