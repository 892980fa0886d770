import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { sleep } from '@lab/lab-kit/wait';
import { afterEach, describe, expect, it } from 'vitest';
import { findChapter } from './chapters.ts';
import { type EngineState, engineState, restoreEngine } from './engine-state.ts';
import { EXERCISES } from './exercises.ts';
import { type LocalRegistry, startLocalRegistry } from './registry.ts';
import { blockEnvironment, runBlock } from './run-block.ts';

const run = promisify(execFile);

/** `npm run workshop:check -- <chapter>` as a learner runs it: exit code and what it printed. */
async function checker(chapter: string, env: NodeJS.ProcessEnv): Promise<{ code: number; output: string }> {
  try {
    const { stdout } = await run('node', ['src/check.ts', chapter], { env, cwd: `${import.meta.dirname}/..` });
    return { code: 0, output: stdout };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, output: failed.stdout + failed.stderr };
  }
}

async function shell(code: string, env: NodeJS.ProcessEnv): Promise<void> {
  const result = await runBlock({ kind: 'run', code, line: 0, fails: false, timeoutS: 300, expects: [] }, env);
  expect(result.exitCode, `${code}\n${result.output}`).toBe(0);
}

/**
 * Per chapter: what the checker says on an engine where nothing was done yet, and a
 * plausible mistake made after the answer, with the line the checker must print for it.
 */
const CASES: Record<string, { fresh: string; mistake: string; mistakeEnv?: Record<string, string>; says: string }> = {
  '01': {
    fresh: 'no running gateway in project lab',
    mistake: 'docker compose -p lab up -d --scale users=1',
    says: 'project lab runs 1 users replica(s), not 3',
  },
  '02': {
    fresh: 'there is no container named users-a',
    mistake: 'docker stop users-b',
    says: 'users-b exists but is exited',
  },
  '03': {
    fresh: 'there is no container named users-p',
    mistake: 'docker rm -f users-p && docker run -d --name users-p microservices-lab/users:dev',
    says: 'users-p publishes nothing for 8090/tcp',
  },
  '04': {
    fresh: 'there is no container named users-bg',
    mistake:
      'docker rm -f users-bg && docker create --name users-bg microservices-lab/users:dev && docker start users-bg',
    says: 'users-bg was started attached',
  },
  '05': {
    fresh: 'there is no image microservices-lab/users:1.0',
    mistake: 'docker rm -f users-v2 && docker run -d --name users-v2 -p 9102:8090 microservices-lab/users:2.0',
    says: 'users-v2 publishes 8090/tcp on host port 9102, not 9101',
  },
  '06': {
    fresh: 'there is no container named users-try',
    mistake:
      'docker rm -f users-try && docker run -d --name users-try -e LOG_LEVEL=debug -v users-try-data:/srv microservices-lab/users:dev',
    says: 'nothing from volume users-try-data is mounted at /data',
  },
  '07': {
    fresh: 'there is no image hello-uptime:1.1',
    // Rebuilt from the chapter's Dockerfile, which has no HEALTHCHECK yet.
    mistake:
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, as in the chapter
      'docker build ${NODE_IMAGE:+--build-arg NODE_IMAGE=$NODE_IMAGE} -t hello-uptime:1.1 docs/workshop/hello-uptime',
    says: 'hello-uptime:1.1 has no HEALTHCHECK instruction',
  },
  '08': {
    fresh: 'the registry has no learner/users:1.0',
    mistake: 'true',
    mistakeEnv: { YOU: 'someone-else' },
    says: 'the registry has no someone-else/users:1.0',
  },
  '09': {
    fresh: 'there is no network named lab-net',
    mistake: 'docker network disconnect lab-net hello-net && docker network connect bridge hello-net',
    says: 'hello-net is on bridge, not lab-net',
  },
  '10': {
    fresh: 'swarm mode is inactive',
    mistake: 'docker service scale --detach lab_users=2',
    says: 'lab_users is set to 2 replicas, not 5',
  },
  '11': {
    fresh: 'there is no network named lab-macvlan',
    mistake:
      'docker rm -f hello-lan && docker run -d --name hello-lan --network lab-macvlan microservices-lab/hello:dev',
    says: 'not 192.168.77.20',
  },
};

let before: EngineState | undefined;
let registry: LocalRegistry | undefined;

afterEach(async () => {
  await registry?.stop();
  registry = undefined;
  if (before) await restoreEngine(before);
  before = undefined;
});

describe('npm run workshop:check', () => {
  it('has a case here for every chapter with an exercise, and an exercise for every chapter with an answer', () => {
    expect(Object.keys(CASES).sort()).toEqual(Object.keys(EXERCISES).sort());
    for (const number of Object.keys(EXERCISES))
      expect(findChapter(number).blocks.filter((b) => b.kind === 'answer').length, `chapter ${number}`).toBeGreaterThan(
        0,
      );
  });

  it.each(Object.keys(CASES).sort())(
    'chapter %s: says what is missing, passes on the answer, names a mistake',
    async (number) => {
      const chapter = findChapter(number);
      const testCase = CASES[number];
      if (!testCase) throw new Error(`no case for chapter ${number}`);
      const env = blockEnvironment();
      before = await engineState();
      if (number === '08') registry = await startLocalRegistry();

      const fresh = await checker(number, env);
      expect(fresh.code, fresh.output).toBe(1);
      expect(fresh.output).toContain(testCase.fresh);

      for (const answer of chapter.blocks.filter((b) => b.kind === 'answer')) await shell(answer.code, env);
      // Services take a moment to become ready (chapter 03 asks /health/ready, 07 waits for healthy, 10 for 5 tasks).
      let done = await checker(number, env);
      for (let attempt = 0; attempt < 30 && done.code !== 0; attempt++) {
        await sleep(1_000);
        done = await checker(number, env);
      }
      expect(done.code, done.output).toBe(0);
      expect(done.output).toContain(`All ${EXERCISES[number]?.length} right`);
      expect(done.output).not.toContain('✘');

      await shell(testCase.mistake, env);
      const wrong = await checker(number, { ...env, ...testCase.mistakeEnv });
      expect(wrong.code, wrong.output).toBe(1);
      expect(wrong.output).toContain(`✘`);
      expect(wrong.output).toContain(testCase.says);
    },
  );

  it('answers a chapter without an exercise, and an unknown chapter, in one line', async () => {
    const setup = await checker('00', process.env);
    expect(setup).toEqual({ code: 0, output: expect.stringContaining('This chapter has no exercise to check.') });
    const unknown = await checker('99', process.env);
    expect(unknown.code).toBe(2);
    expect(unknown.output).toContain('no chapter "99"; chapters: 00-setup, 01-microservices-vs-monolith');
  });
});
