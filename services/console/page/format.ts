import type { FaultSettings, Figures, HealthColour } from '../src/live-types.ts';

const HEALTH_LABELS: Record<HealthColour, string> = {
  green: 'healthy',
  amber: 'degraded',
  red: 'down',
  grey: 'no data',
};

export function healthLabel(health: HealthColour): string {
  return HEALTH_LABELS[health];
}

/** Docker's container ids are 64 hex digits; `docker ps` shows their first 12, and so do we. */
export function shortId(id: string): string {
  if (/^[0-9a-f]{13,}$/i.test(id)) return id.slice(0, 12);
  return id.length > 24 ? `${id.slice(0, 23)}…` : id;
}

export function roundToTenth(value: number): number {
  return Math.round(value * 10) / 10;
}

/** The value of a node's data-error-percent: at most one decimal, "" when the window saw no request. */
export function errorPercentAttribute(errorPercent: number | null): string {
  return errorPercent === null ? '' : String(roundToTenth(errorPercent));
}

export function formatErrorPercent(errorPercent: number | null): string {
  return errorPercent === null ? '–' : `${roundToTenth(errorPercent)}%`;
}

/** One decimal below 10 ms, where the decimal still says something; whole numbers above. */
export function formatMs(ms: number | null): string {
  if (ms === null) return '–';
  return ms < 10 ? ms.toFixed(1) : String(Math.round(ms));
}

export function formatRate(requestsPerSecond: number): string {
  return requestsPerSecond < 10 ? requestsPerSecond.toFixed(1) : String(Math.round(requestsPerSecond));
}

export function formatThroughput(figures: Figures): string {
  return `${formatRate(figures.requestsPerSecond)} req/s · ${formatErrorPercent(figures.errorPercent)} err`;
}

export function formatLatency(figures: Figures): string {
  return `p50 ${formatMs(figures.p50Ms)} · p99 ${formatMs(figures.p99Ms)} ms`;
}

/** "⚡ +200ms · 100% 503 · hang", or null when no fault is active. */
export function faultBadge(faults: FaultSettings | null): string | null {
  if (faults === null) return null;
  const parts: string[] = [];
  if (faults.latencyMs > 0) parts.push(`+${faults.latencyMs}ms`);
  if (faults.errorRate > 0) parts.push(`${roundToTenth(faults.errorRate * 100)}% ${faults.errorStatus}`);
  if (faults.hang) parts.push('hang');
  return parts.length === 0 ? null : `⚡ ${parts.join(' · ')}`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export function formatClock(epochMs: number): string {
  const at = new Date(epochMs);
  const pad = (value: number, width = 2) => String(value).padStart(width, '0');
  return `${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}.${pad(at.getMilliseconds(), 3)}`;
}

/**
 * The scale command for `count` replicas of users. The server's own command (for the current
 * count) is the template, so flags it adds (a profile, a compose file) survive.
 */
export function scaleCommandFor(template: string | null, count: number): string {
  const pattern = /(--scale\s+users=)\d+/;
  if (template !== null && pattern.test(template)) return template.replace(pattern, `$1${count}`);
  return `docker compose up -d --scale users=${count}`;
}
