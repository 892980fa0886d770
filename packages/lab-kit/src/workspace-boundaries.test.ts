import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './lab-env.ts';

/**
 * The repository's shape, checked: people copy it, so a shortcut taken once spreads.
 * Services and the platform are what ships; tests, bench and workshop only prove it.
 */
interface Workspace {
  dir: string;
  name: string;
  dependencies: Set<string>;
  devDependencies: Set<string>;
}

const TEST_WORKSPACES = new Set(['@lab/container-tests', '@lab/k8s-tests', '@lab/bench', '@lab/workshop']);
const SHIPPED = /^(services\/[^/]+|packages\/platform)$/;

function readJson(path: string): Record<string, unknown> {
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

function workspaces(): Workspace[] {
  const patterns = readJson(join(REPO_ROOT, 'package.json')).workspaces as string[];
  const dirs = patterns.flatMap((pattern) =>
    pattern.endsWith('/*')
      ? readdirSync(join(REPO_ROOT, pattern.slice(0, -2))).map((name) => `${pattern.slice(0, -2)}/${name}`)
      : [pattern],
  );
  return dirs
    .filter((dir) => existsSync(join(REPO_ROOT, dir, 'package.json')))
    .map((dir) => {
      const pkg = readJson(join(REPO_ROOT, dir, 'package.json'));
      const keys = (field: string) => new Set(Object.keys((pkg[field] as Record<string, string>) ?? {}));
      const peers = keys('peerDependencies');
      return {
        dir,
        name: pkg.name as string,
        dependencies: new Set([...keys('dependencies'), ...peers]),
        devDependencies: keys('devDependencies'),
      };
    });
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(REPO_ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((file) => /\.(ts|mts|mjs)$/.test(file) && !/(^|\/)(node_modules|dist|\.reports)\//.test(file))
    .map((file) => join(dir, file));
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?\sfrom\s+['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

function importsOf(file: string): string[] {
  const text = readFileSync(join(REPO_ROOT, file), 'utf8');
  return [...text.matchAll(IMPORT)].map((match) => match[1] ?? match[2] ?? '');
}

const packageOf = (specifier: string) =>
  specifier
    .split('/')
    .slice(0, specifier.startsWith('@') ? 2 : 1)
    .join('/');
const builtin = (specifier: string) => specifier.startsWith('node:') || builtinModules.includes(packageOf(specifier));

describe('workspace boundaries', () => {
  const all = workspaces();

  it('finds every workspace, services and kit included', () => {
    const names = all.map((workspace) => workspace.name);
    expect(names).toEqual(expect.arrayContaining(['@lab/platform', '@lab/lab-kit', '@lab/users', '@lab/monolith']));
  });

  it('no workspace depends on or imports a test workspace (tests, bench, workshop)', () => {
    const offenders = all.flatMap((workspace) => [
      ...[...workspace.dependencies, ...workspace.devDependencies]
        .filter((dep) => TEST_WORKSPACES.has(dep))
        .map((dep) => `${workspace.dir}/package.json lists ${dep}`),
      ...sourceFiles(workspace.dir).flatMap((file) =>
        importsOf(file)
          .filter((specifier) => TEST_WORKSPACES.has(packageOf(specifier)) && packageOf(specifier) !== workspace.name)
          .map((specifier) => `${file} imports ${specifier}`),
      ),
    ]);
    expect(offenders).toEqual([]);
  });

  it('shipped code (services, platform) imports only its dependencies, never a devDependency or the kit', () => {
    const offenders = all
      .filter((workspace) => SHIPPED.test(workspace.dir))
      .flatMap((workspace) =>
        sourceFiles(workspace.dir)
          // Test code: a test file, or a suite other workspaces run too (`*.test-suite.ts`:
          // users' repository contract), which no entry point imports.
          .filter((file) => file.includes('/src/') && !/\.test(-suite)?\.ts$/.test(file))
          .flatMap((file) =>
            importsOf(file)
              .filter((specifier) => !specifier.startsWith('.') && !builtin(specifier))
              .filter((specifier) => !workspace.dependencies.has(packageOf(specifier)))
              .map((specifier) => `${file} imports ${specifier}, not in its dependencies`),
          ),
      );
    expect(offenders).toEqual([]);
  });

  it('nothing reaches into another package with a relative path', () => {
    const offenders = all.flatMap((workspace) =>
      sourceFiles(workspace.dir).flatMap((file) =>
        importsOf(file)
          .filter((specifier) => specifier.startsWith('.'))
          .filter((specifier) => relative(workspace.dir, join(file, '..', specifier)).startsWith('..'))
          .map((specifier) => `${file} imports ${specifier}`),
      ),
    );
    expect(offenders).toEqual([]);
  });
});
