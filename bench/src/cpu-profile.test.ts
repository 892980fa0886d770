import { expect, test } from 'vitest';
import { type CpuProfile, shortLocation, summariseCpuProfile } from './cpu-profile.ts';

const frame = (functionName: string, url = '', lineNumber = -1) => ({
  functionName,
  url,
  lineNumber,
  columnNumber: 0,
});

// 10 ms of samples, 1 ms apart: 4 in onRequest (3 from one stack, 1 from another),
// 2 in JSON.stringify's caller, 1 in GC, 3 idle.
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)') },
    { id: 2, callFrame: frame('(idle)') },
    { id: 3, callFrame: frame('onRequest', 'file:///app/main.js', 41) },
    { id: 4, callFrame: frame('onRequest', 'file:///app/main.js', 41) },
    { id: 5, callFrame: frame('', 'node:internal/streams/writable', 99) },
    { id: 6, callFrame: frame('(garbage collector)') },
  ],
  startTime: 1_000_000,
  endTime: 1_010_000,
  samples: [2, 3, 3, 5, 4, 3, 6, 5, 2, 2],
  timeDeltas: [0, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000],
};

test('self time is summed per function across stacks and shared out of the busy time', () => {
  const summary = summariseCpuProfile(profile);
  expect(summary.totalMs).toBe(10);
  expect(summary.idleMs).toBe(3);
  expect(summary.samples).toBe(10);
  expect(summary.top).toEqual([
    { functionName: 'onRequest', location: '/app/main.js:42', selfMs: 4, selfPercent: (100 * 4) / 7 },
    {
      functionName: '(anonymous)',
      location: 'node:internal/streams/writable:100',
      selfMs: 2,
      selfPercent: (100 * 2) / 7,
    },
    { functionName: '(garbage collector)', location: '', selfMs: 1, selfPercent: (100 * 1) / 7 },
  ]);
});

test('the last sample runs to the end of the profile, and top cuts the list', () => {
  const summary = summariseCpuProfile({ ...profile, samples: [2, 3], timeDeltas: [0, 1000] }, { top: 1 });
  expect(summary.top).toEqual([
    { functionName: 'onRequest', location: '/app/main.js:42', selfMs: 9, selfPercent: 100 },
  ]);
});

test('without samples, the duration is spread over the hit counts', () => {
  const nodes = profile.nodes.map((node) => ({ ...node, hitCount: node.id === 3 ? 3 : node.id === 2 ? 1 : 0 }));
  const summary = summariseCpuProfile({ nodes, startTime: 0, endTime: 4000 });
  expect(summary.idleMs).toBe(1);
  expect(summary.top.map((f) => [f.functionName, f.selfMs])).toEqual([['onRequest', 3]]);
});

test('a resolver maps bundle positions back to their sources', () => {
  const summary = summariseCpuProfile(profile, {
    resolve: (url, lineNumber) =>
      url.endsWith('/main.js') && lineNumber === 41
        ? { url: '../../../node_modules/fastify/lib/route.js', lineNumber: 7 }
        : undefined,
  });
  expect(summary.top[0]).toMatchObject({ functionName: 'onRequest', location: 'fastify/lib/route.js:8' });
});

test('locations keep the package path after node_modules, or the repo path', () => {
  expect(shortLocation('../../../node_modules/@fastify/reply-from/index.js', 0)).toBe('@fastify/reply-from/index.js:1');
  expect(shortLocation('../../../packages/platform/src/fastify.ts', 9)).toBe('packages/platform/src/fastify.ts:10');
  expect(shortLocation('node:internal/http', 4)).toBe('node:internal/http:5');
  expect(shortLocation('', 4)).toBe('');
});
