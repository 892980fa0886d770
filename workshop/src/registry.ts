import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@lab/lab-kit/lab-env';
import { waitFor } from '@lab/lab-kit/wait';

export const REGISTRY_URL = 'http://127.0.0.1:5000';

async function answers(): Promise<boolean> {
  try {
    return (await fetch(`${REGISTRY_URL}/v2/`, { signal: AbortSignal.timeout(1_000) })).ok;
  } catch {
    return false;
  }
}

export interface LocalRegistry {
  /** How it runs: ours (Debian's docker-registry) or one that was already there. */
  origin: string;
  stop(): Promise<void>;
}

/**
 * A registry on localhost:5000 for chapter 08. One already answering (a learner's
 * `registry:2` container) is used as it is and left running; otherwise Debian's
 * docker-registry serves from a temp dir that goes when it stops.
 */
export async function startLocalRegistry(): Promise<LocalRegistry> {
  if (await answers()) return { origin: 'the registry already on localhost:5000', stop: async () => undefined };
  const storage = mkdtempSync(join(tmpdir(), 'workshop-registry-'));
  const child: ChildProcess = spawn('docker-registry', ['serve', join(REPO_ROOT, 'infra/workshop/registry.yml')], {
    env: { ...process.env, REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: storage },
    stdio: 'ignore',
  });
  const failed = new Promise<never>((_, reject) =>
    child.once('error', (error) =>
      reject(new Error(`cannot start docker-registry (${error.message}); bash infra/dev/bootstrap.sh installs it`)),
    ),
  );
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    }
    rmSync(storage, { recursive: true, force: true });
  };
  try {
    await Promise.race([waitFor(answers, 15_000, 'docker-registry answering on localhost:5000', 200), failed]);
  } catch (error) {
    await stop();
    throw error;
  }
  return { origin: "Debian's docker-registry", stop };
}
