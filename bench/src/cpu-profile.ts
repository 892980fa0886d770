import { SourceMap, type SourceMapPayload } from 'node:module';

/** The parts of a V8 `.cpuprofile` (what `node --cpu-prof` writes) that a summary needs. */
export interface CpuProfile {
  nodes: CpuProfileNode[];
  /** µs */
  startTime: number;
  endTime: number;
  /** The node each sample landed in, in order. */
  samples?: number[];
  /** µs before each sample, the first one counted from startTime. */
  timeDeltas?: number[];
}

export interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
}

/** Maps a generated position (0-based) to where it came from; undefined leaves it as it is. */
export type LocationResolver = (
  url: string,
  lineNumber: number,
  columnNumber: number,
) => { url: string; lineNumber: number } | undefined;

export interface FunctionTime {
  functionName: string;
  /** `package/file:line`, or empty for V8's own entries ((program), (garbage collector)) and native code. */
  location: string;
  selfMs: number;
  /** Share of the time the thread was busy, that is not (idle). */
  selfPercent: number;
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  samples: number;
  top: FunctionTime[];
}

const IDLE = '(idle)';

/** Where a script lives, cut to what a reader needs: the package path after node_modules, or the repo path. */
export function shortLocation(url: string, lineNumber: number): string {
  if (!url) return '';
  const path = url.replace(/^file:\/\//, '');
  const packagePath = path.lastIndexOf('node_modules/');
  const short = packagePath >= 0 ? path.slice(packagePath + 'node_modules/'.length) : path.replace(/^(\.\.?\/)+/, '');
  return `${short}:${lineNumber + 1}`;
}

/**
 * Self time per function, summed over every stack it appeared in: each sample's time
 * (the gap to the next sample, as DevTools counts it) goes to the function on top of
 * the stack. Functions are told apart by name and (resolved) location.
 */
export function summariseCpuProfile(
  profile: CpuProfile,
  { top = 15, resolve }: { top?: number; resolve?: LocationResolver } = {},
): ProfileSummary {
  const selfUs = new Map<number, number>();
  const { samples = [], timeDeltas = [] } = profile;
  if (samples.length > 0) {
    let at = profile.startTime + (timeDeltas[0] ?? 0);
    samples.forEach((nodeId, i) => {
      const next = i + 1 < samples.length ? at + (timeDeltas[i + 1] ?? 0) : profile.endTime;
      selfUs.set(nodeId, (selfUs.get(nodeId) ?? 0) + Math.max(0, next - at));
      at = next;
    });
  } else {
    // No sample list: spread the profile's duration over the hit counts.
    const hits = profile.nodes.reduce((sum, node) => sum + (node.hitCount ?? 0), 0);
    const usPerHit = hits > 0 ? (profile.endTime - profile.startTime) / hits : 0;
    for (const node of profile.nodes) selfUs.set(node.id, (node.hitCount ?? 0) * usPerHit);
  }

  const byFunction = new Map<string, FunctionTime>();
  let totalUs = 0;
  let idleUs = 0;
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0;
    totalUs += us;
    const { functionName, url, lineNumber, columnNumber } = node.callFrame;
    if (functionName === IDLE) idleUs += us;
    if (us === 0 || functionName === IDLE) continue;
    const resolved = url ? (resolve?.(url, lineNumber, columnNumber) ?? { url, lineNumber }) : undefined;
    const location = resolved ? shortLocation(resolved.url, resolved.lineNumber) : '';
    const name = functionName || '(anonymous)';
    const key = `${name} ${location}`;
    const entry = byFunction.get(key) ?? { functionName: name, location, selfMs: 0, selfPercent: 0 };
    entry.selfMs += us / 1000;
    byFunction.set(key, entry);
  }
  const busyMs = (totalUs - idleUs) / 1000;
  const ranked = [...byFunction.values()].sort((a, b) => b.selfMs - a.selfMs).slice(0, top);
  for (const entry of ranked) entry.selfPercent = busyMs > 0 ? (100 * entry.selfMs) / busyMs : 0;
  return { totalMs: totalUs / 1000, idleMs: idleUs / 1000, samples: samples.length, top: ranked };
}

/**
 * Positions in a bundle (`bundleUrl` ends with the bundle's file name) mapped back
 * through its source map to the file and line they were bundled from.
 */
export function sourceMapResolver(payload: SourceMapPayload, bundleFile: string): LocationResolver {
  const map = new SourceMap(payload);
  return (url, lineNumber, columnNumber) => {
    if (!url.endsWith(`/${bundleFile}`)) return undefined;
    const entry = map.findEntry(lineNumber, columnNumber);
    return 'originalSource' in entry ? { url: entry.originalSource, lineNumber: entry.originalLine } : undefined;
  };
}
