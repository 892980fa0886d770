import type { ImageBuilds } from '@lab/lab-kit/images';
import { expect, it } from 'vitest';
import { BenchSession } from './session.ts';

/** A session whose docker CLI and image builds only record what they were asked, in order. */
function recordingSession(failBuild = false) {
  const calls: string[] = [];
  const images: ImageBuilds = {
    ensure: async (image) => {
      calls.push(`ensure ${image}`);
      if (failBuild) throw new Error(`${image} is neither an image the project builds`);
    },
  };
  const cli = async (...args: string[]) => {
    calls.push(`docker ${args[0]} ${args.at(-1)}`);
    return 'c0ffee';
  };
  return { session: new BenchSession('test', { images, cli }), calls };
}

// compare once started the OTLP sink on the strength of an image that only bench:gateway built.
it('builds (or checks) the image of every container before it starts it', async () => {
  const { session, calls } = recordingSession();
  await session.run({ role: 'otlp-sink', image: 'microservices-lab/bench-otlp-sink:dev', cpuset: '0' });
  expect(calls).toEqual([
    'ensure microservices-lab/bench-otlp-sink:dev',
    'docker run microservices-lab/bench-otlp-sink:dev',
  ]);
});

it('starts nothing when the image cannot be had', async () => {
  const { session, calls } = recordingSession(true);
  await expect(session.run({ role: 'x', image: 'example/unknown:1', cpuset: '0' })).rejects.toThrow(/neither an image/);
  expect(calls).toEqual(['ensure example/unknown:1']);
});
