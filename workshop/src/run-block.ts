import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '@lab/lab-kit/lab-env';
import type { ShellBlock } from './chapters.ts';

export interface BlockResult {
  exitCode: number | null;
  output: string;
  durationMs: number;
  timedOut: boolean;
}

// The chapters write `docker compose` (Compose v2, what learners have). Where only
// docker-compose 1.x exists, a CLI plugin in a private DOCKER_CONFIG forwards to it;
// the private config also keeps the learner's own logins out of the test.
const COMPOSE_SHIM = `#!/bin/sh
if [ "$1" = docker-cli-plugin-metadata ]; then
  echo '{"SchemaVersion":"0.1.0","Vendor":"microservices-lab","Version":"1-shim","ShortDescription":"docker-compose 1.x as docker compose"}'
  exit 0
fi
shift
exec docker-compose "$@"
`;

/** The environment every block runs in: YOU set, `docker compose` available. */
export function blockEnvironment(base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, YOU: base.YOU || 'learner' };
  if (spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status !== 0) {
    const config = mkdtempSync(join(tmpdir(), 'workshop-docker-config-'));
    mkdirSync(join(config, 'cli-plugins'));
    writeFileSync(join(config, 'cli-plugins', 'docker-compose'), COMPOSE_SHIM);
    chmodSync(join(config, 'cli-plugins', 'docker-compose'), 0o755);
    writeFileSync(join(config, 'config.json'), '{}');
    env.DOCKER_CONFIG = config;
  }
  return env;
}

// Colour codes from tools that think they write to a terminal; built from a string so the regex holds no raw control character.
const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;?]*[A-Za-z]`, 'g');

/** Runs one block with bash (-e -o pipefail) from the repo root, stdout and stderr interleaved. */
export function runBlock(block: ShellBlock, env: NodeJS.ProcessEnv): Promise<BlockResult> {
  const startedAt = Date.now();
  return new Promise((resolve) => {
    const child = spawn('bash', ['-eo', 'pipefail', '-c', block.code], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => chunks.push(chunk));
    const signalGroup = (signal: NodeJS.Signals) => {
      try {
        if (child.pid) process.kill(-child.pid, signal);
      } catch {
        // already gone
      }
    };
    const interrupt =
      block.interruptAfterS === undefined
        ? undefined
        : setTimeout(() => signalGroup('SIGINT'), block.interruptAfterS * 1000);
    let timedOut = false;
    const timeout = setTimeout(() => {
      timedOut = true;
      signalGroup('SIGKILL');
    }, block.timeoutS * 1000);
    child.on('close', (exitCode) => {
      clearTimeout(interrupt);
      clearTimeout(timeout);
      resolve({
        exitCode,
        output: Buffer.concat(chunks).toString('utf8').replace(ANSI, '').replace(/\r/g, ''),
        durationMs: Date.now() - startedAt,
        timedOut,
      });
    });
  });
}

/** Whether the block did what its chapter says: succeeded, or failed when marked `fails`. */
export function blockProblem(block: ShellBlock, result: BlockResult): string | undefined {
  if (result.timedOut) return `did not finish within ${block.timeoutS} s`;
  const interrupted = block.interruptAfterS !== undefined && (result.exitCode === 130 || result.exitCode === 0);
  if (block.fails && result.exitCode === 0) return 'succeeded, but the chapter shows it failing';
  if (!block.fails && result.exitCode !== 0 && !interrupted) return `exited with ${result.exitCode}`;
  const missing = block.expects.filter((marker) => !result.output.includes(marker));
  if (missing.length > 0) return `output lacks ${missing.map((m) => JSON.stringify(m)).join(', ')}`;
  const unshown = block.expects.filter((marker) => !block.output?.text.includes(marker));
  if (unshown.length > 0)
    return `the chapter's recorded output lacks ${unshown.map((m) => JSON.stringify(m)).join(', ')}`;
  return undefined;
}
