import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/**
 * The swarm test last: after `docker swarm leave`, Docker 20.10 sometimes cannot remove a
 * local network whose container was just removed ("has active endpoints", no container
 * attached), so the files that create and remove bridge networks all run before it.
 */
class SwarmLast extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    const swarm = (file: TestSpecification) => file.moduleId.endsWith('swarm-stack.test.ts');
    return [...sorted.filter((file) => !swarm(file)), ...sorted.filter(swarm)];
  }
}

export default defineConfig({
  test: {
    include: ['src/**/*.test.ts'],
    globalSetup: ['src/global-setup.ts'],
    // Containers share 2 cores and one engine: one file at a time keeps timings honest.
    fileParallelism: false,
    sequence: { sequencer: SwarmLast },
    testTimeout: 120_000,
    hookTimeout: 300_000,
    teardownTimeout: 120_000,
  },
});
