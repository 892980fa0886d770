import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import {
  CPU_QUOTA,
  imageFor,
  labSetting,
  MEMORY_LIMIT_MIB,
  REPO_ROOT,
  resolveNodeImage,
  SERVICE_PORTS,
} from './lab-env.ts';

it('reads the settings from the repo .env, and lets the environment win', () => {
  expect(labSetting('IMAGE_TAG', {})).toBe('dev');
  // node:24.x-alpine, or the local Node 24 base that infra/dev/bootstrap.sh records on an offline machine.
  expect(resolveNodeImage({})).toMatch(/(^|\/)node:24[.-]/);
  expect(resolveNodeImage({ NODE_IMAGE: 'example/node:24' })).toBe('example/node:24');
  expect(SERVICE_PORTS).toEqual({ hello: 8070, users: 8090, gateway: 8080, monolith: 8060 });
  expect(MEMORY_LIMIT_MIB).toEqual({ hello: 160, users: 192, gateway: 256, monolith: 256 });
  // A monolith replica carries both services, so its quota is theirs together.
  expect(CPU_QUOTA).toEqual({ hello: 0.1, users: 0.1, gateway: 0.5, monolith: 0.2 });
  expect(CPU_QUOTA.monolith).toBeCloseTo(CPU_QUOTA.users + CPU_QUOTA.hello);
  expect(imageFor('users', '2.0.0')).toBe('microservices-lab/users:2.0.0');
});

it('names a missing setting in one line', () => {
  expect(() => labSetting('NO_SUCH_SETTING', {})).toThrow(/^NO_SUCH_SETTING is set neither in the environment nor in /);
});

it('leaves docker-compose.yml no default of its own for what .env defines', () => {
  const compose = readFileSync(`${REPO_ROOT}docker-compose.yml`, 'utf8').replace(/#.*$/gm, '');
  expect(compose).not.toMatch(/node:24|:-80\d\d|\b80[6-9]0\b|mem_limit: \d/);
});
