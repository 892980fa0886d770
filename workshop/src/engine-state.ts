import { docker } from '@lab/lab-kit/docker';
import { leaveSwarm } from '@lab/lab-kit/swarm';

/** What the engine held before a chapter ran, so the run can leave it exactly so. */
export interface EngineState {
  containers: Set<string>;
  networks: Set<string>;
  volumes: Set<string>;
  images: Set<string>;
  /** Untagged images, such as the one a rebuild under the same tag leaves behind. */
  danglingImages: Set<string>;
  swarm: boolean;
}

// Throwaway compose projects of other test files (mslab-*) clean up after themselves;
// leaving them alone lets a chapter run beside them while someone works.
const lines = (text: string) => new Set(text.split('\n').filter((line) => line && !line.includes('mslab-')));

export async function engineState(): Promise<EngineState> {
  return {
    containers: lines(await docker('ps', '--all', '--no-trunc', '--format', '{{.ID}} {{.Names}}')),
    networks: lines(await docker('network', 'ls', '--no-trunc', '--format', '{{.ID}} {{.Name}}')),
    volumes: lines(await docker('volume', 'ls', '--quiet')),
    images: lines(await docker('image', 'ls', '--format', '{{.Repository}}:{{.Tag}}')),
    danglingImages: lines(await docker('image', 'ls', '--quiet', '--no-trunc', '--filter', 'dangling=true')),
    swarm: (await docker('info', '--format', '{{.Swarm.LocalNodeState}}')) === 'active',
  };
}

/** Removes every container, network, volume and image tag added since `before`, and leaves swarm mode if it was off. */
export async function restoreEngine(before: EngineState): Promise<string[]> {
  const removed: string[] = [];
  const now = await engineState();
  if (now.swarm && !before.swarm) {
    await leaveSwarm();
    removed.push('swarm mode');
  }
  const added = (key: Exclude<keyof EngineState, 'swarm'>, current: Set<string>) =>
    [...current].filter((item) => !before[key].has(item));
  const containers = added('containers', (await engineState()).containers);
  if (containers.length > 0) {
    await docker('rm', '--force', '--volumes', ...containers.map((line) => line.split(' ')[0] ?? line));
    removed.push(`${containers.length} container(s)`);
  }
  // Swarm's own networks (ingress, docker_gwbridge) go with `swarm leave`, or stay when it was on before.
  for (const network of added('networks', (await engineState()).networks)) {
    const [id = network, name = id] = network.split(' ');
    if (name === 'docker_gwbridge' && before.swarm) continue;
    await docker('network', 'rm', id).catch(() => undefined);
    removed.push(`network ${name}`);
  }
  const volumes = added('volumes', now.volumes);
  if (volumes.length > 0) {
    await docker('volume', 'rm', '--force', ...volumes);
    removed.push(`${volumes.length} volume(s)`);
  }
  const images = added('images', now.images).filter((ref) => !ref.endsWith(':<none>'));
  if (images.length > 0) {
    await docker('rmi', '--force', ...images);
    removed.push(`image tags ${images.join(', ')}`);
  }
  const dangling = added('danglingImages', (await engineState()).danglingImages);
  if (dangling.length > 0) {
    await docker('rmi', '--force', ...dangling).catch(() => undefined);
    removed.push(`${dangling.length} untagged image(s)`);
  }
  return removed;
}
