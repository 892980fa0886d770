import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { REPO_ROOT, resolveNodeImage } from './images.ts';

const run = promisify(execFile);

/** Compose v2 (`docker compose`) where it works, else docker-compose 1.x: the file serves both. */
async function composeCommand(): Promise<string[]> {
  try {
    await run('docker', ['compose', 'version']);
    return ['docker', 'compose'];
  } catch {
    return ['docker-compose'];
  }
}

/** A compose project of the repo's real docker-compose.yml under a throwaway project name. */
export async function composeProject(project: string, env: Record<string, string> = {}) {
  const [command = 'docker-compose', ...prefix] = await composeCommand();
  const nodeImage = resolveNodeImage();
  const options = {
    cwd: REPO_ROOT,
    env: { ...process.env, ...(nodeImage ? { NODE_IMAGE: nodeImage } : {}), ...env },
    maxBuffer: 32 * 1024 * 1024,
  };
  const compose = async (...args: string[]) =>
    (await run(command, [...prefix, '-p', project, '-f', 'docker-compose.yml', ...args], options)).stdout;
  return {
    variant: prefix.length > 0 ? 'Compose v2' : 'docker-compose v1',
    compose,
    /** The host address of a published container port, e.g. 0.0.0.0:49153 -> http://127.0.0.1:49153. */
    async url(service: string, port: number) {
      const published = (await compose('port', service, String(port))).trim().split('\n')[0] ?? '';
      return `http://127.0.0.1:${published.split(':').at(-1)}`;
    },
    down: () => compose('down', '--volumes', '--remove-orphans', '--timeout', '10'),
  };
}

/** Polls until `url` answers 200 or the deadline passes; compose v1 has no `up --wait`. */
export async function waitForOk(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (error) {
      last = (error as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms (${last})`);
}
