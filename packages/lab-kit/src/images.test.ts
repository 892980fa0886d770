import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createImageBuilds, IMAGE_RECIPES, type ImageRecipe, LOCAL_NGINX_IMAGE } from './images.ts';
import { labSetting, REPO_ROOT } from './lab-env.ts';

const recipeImages = IMAGE_RECIPES.map((recipe) => recipe.image);

function recordingBuilds(present: string[] = []) {
  const built: string[] = [];
  const builds = createImageBuilds({
    bootstrap: () => ['example/node:24-local'],
    build: async (recipe: ImageRecipe) => {
      built.push(recipe.image);
    },
    present: async (image) => present.includes(image),
    log: () => {},
  });
  return { builds, built };
}

describe('ensureImage: a script builds what it starts', () => {
  it('builds an image from its recipe even when an earlier run left the tag behind, and once per process', async () => {
    const otlpSink = recipeImages.find((image) => image.includes('/bench-otlp-sink:')) as string;
    const { builds, built } = recordingBuilds([otlpSink]);
    await Promise.all([builds.ensure(otlpSink), builds.ensure(otlpSink)]);
    await builds.ensure(otlpSink);
    expect(built).toEqual([otlpSink]);
  });

  it('takes a bootstrap image as it is, and says how to get it when it is missing', async () => {
    const { builds, built } = recordingBuilds(['example/node:24-local']);
    await builds.ensure('example/node:24-local');
    expect(built).toEqual([]);
    const { builds: bare } = recordingBuilds();
    await expect(bare.ensure('example/node:24-local')).rejects.toThrow(
      /missing; run: eval "\$\(bash infra\/dev\/bootstrap.sh\)"/,
    );
  });

  it('refuses an image nobody builds, in one line naming the catalogue', async () => {
    const { builds, built } = recordingBuilds(['microservices-lab/unknown:dev']);
    await expect(builds.ensure('microservices-lab/unknown:dev')).rejects.toThrow(
      /^microservices-lab\/unknown:dev is neither an image the project builds \(packages\/lab-kit\/src\/images.ts\)/,
    );
    expect(built).toEqual([]);
  });

  it('tries a failed build again instead of remembering the failure', async () => {
    let attempts = 0;
    const builds = createImageBuilds({
      build: async () => {
        attempts++;
        if (attempts === 1) throw new Error('npm ci: ECONNRESET');
      },
      log: () => {},
    });
    const [image] = recipeImages as [string];
    await expect(builds.ensure(image)).rejects.toThrow('ECONNRESET');
    await builds.ensure(image);
    expect(attempts).toBe(2);
  });
});

describe('the image catalogue covers every image the project starts', () => {
  it('has a Dockerfile for every recipe, each built on the lab base (ARG NODE_IMAGE) or given its base', () => {
    for (const recipe of IMAGE_RECIPES) {
      expect(existsSync(recipe.dockerfile), recipe.dockerfile).toBe(true);
      const dockerfile = readFileSync(recipe.dockerfile, 'utf8');
      expect(dockerfile, recipe.dockerfile).toMatch(/^ARG (NODE_IMAGE|NGINX_IMAGE)=/m);
    }
    expect(new Set(recipeImages).size).toBe(recipeImages.length);
  });

  it('has a recipe for each image docker-compose.yml runs, built from the same Dockerfile', () => {
    const compose = readFileSync(`${REPO_ROOT}docker-compose.yml`, 'utf8');
    const services = [
      ...compose.matchAll(
        /image: \$\{IMAGE_NAMESPACE\}\/([a-z-]+):\$\{IMAGE_TAG\}\n\s+build:\n(?:\s+\w+:.*\n)*?\s+dockerfile: (\S+)/g,
      ),
    ];
    const projectImages = [...compose.matchAll(/image: \$\{IMAGE_NAMESPACE\}\//g)];
    // Every project image in compose has a build section (so `compose up` builds what it runs).
    expect(services.length).toBe(projectImages.length);
    expect(services.length).toBeGreaterThanOrEqual(5);
    for (const [, name, dockerfile] of services) {
      const image = `${labSetting('IMAGE_NAMESPACE')}/${name}:${labSetting('IMAGE_TAG')}`;
      const recipe = IMAGE_RECIPES.find((r) => r.image === image);
      expect(recipe?.dockerfile, image).toBe(`${REPO_ROOT}${dockerfile}`);
    }
  });

  it('has a recipe for each lab image named in the scripts and tests (a tagged variant is built where it is named)', () => {
    const dirs = ['bench/src', 'workshop/src', 'tests/containers/src', 'packages/lab-kit/src'];
    const named = dirs.flatMap((dir) =>
      readdirSync(join(REPO_ROOT, dir))
        .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'))
        .flatMap((file) => [...readFileSync(join(REPO_ROOT, dir, file), 'utf8').matchAll(/labImage\('([a-z-]+)'\)/g)])
        .map(([, name]) => `${labSetting('IMAGE_NAMESPACE')}/${name}:${labSetting('IMAGE_TAG')}`),
    );
    expect(named.length).toBeGreaterThanOrEqual(6);
    expect(named.filter((image) => !recipeImages.includes(image))).toEqual([]);
    // The one base the kit builds itself (the nginx baseline's), named with its own tag.
    expect(LOCAL_NGINX_IMAGE).toMatch(/\/nginx:local$/);
  });
});
