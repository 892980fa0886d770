import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listChapters } from './chapters.ts';
import { runChapter } from './docs.ts';
import { type EngineState, engineState } from './engine-state.ts';

const chapters = listChapters();
let before: EngineState;

beforeAll(async () => {
  before = await engineState();
});

describe('docs/workshop', () => {
  it('has one chapter per course topic, in the course order, each with a goal, a lesson and an exercise', () => {
    expect(chapters.map((c) => c.slug)).toEqual([
      'setup',
      'microservices-vs-monolith',
      'images-and-containers',
      'container-lifecycle',
      'attached-and-detached',
      'tags-and-ports',
      'debugging',
      'writing-a-dockerfile',
      'build-tag-push',
      'networks',
      'overlay-and-swarm',
      'macvlan-and-ipvlan',
    ]);
    for (const chapter of chapters.slice(1)) {
      const kinds = chapter.blocks.map((b) => b.kind);
      expect(kinds, chapter.slug).toContain('run');
      expect(kinds, chapter.slug).toContain('answer');
      expect(chapter.blocks.filter((b) => b.output).length, chapter.slug).toBeGreaterThan(0);
    }
  });

  // Each chapter's run blocks, in order, against the real engine: exit codes as the
  // chapter shows them, and every expect marker in both the real and the shown output.
  it.each(chapters.map((c) => [`${c.number}-${c.slug}`, c] as const))(
    '%s runs as written',
    async (_name, chapter) => {
      const log: string[] = [];
      const run = await runChapter(chapter, { log: (line) => log.push(line) });
      process.stdout.write(`${chapter.number}-${chapter.slug}\n${log.join('\n')}\n`);
      const problems = run.outcomes.filter((o) => o.problem).map((o) => `line ${o.block.line}: ${o.problem}`);
      expect(problems).toEqual([]);
      const ran = run.outcomes.filter((o) => o.result).length;
      expect(ran).toBe(chapter.blocks.filter((b) => b.kind === 'run').length);
      // Longer than any chapter's block timeouts added up, so a slow block fails with its
      // own message and the chapter still cleans up before the next one starts.
    },
    900_000,
  );

  afterAll(async () => {
    // Every chapter cleans up after itself (and the runner after it): nothing is left behind.
    const after = await engineState();
    for (const key of ['containers', 'networks', 'volumes', 'images', 'danglingImages'] as const)
      expect(
        [...after[key]].filter((item) => !before[key].has(item)),
        key,
      ).toEqual([]);
    expect(after.swarm).toBe(before.swarm);
  });
});
