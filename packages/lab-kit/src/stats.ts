/** The middle value; the mean of the two middle ones for an even count. NaN when empty. */
export function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** The median of each numeric field over several rounds of the same run. */
export function medianOf<T extends object>(rounds: T[], fields: (keyof T)[]): Record<keyof T, number> {
  const result = {} as Record<keyof T, number>;
  for (const field of fields) result[field] = median(rounds.map((round) => Number(round[field])));
  return result;
}

export function ratio(numerator: number, denominator: number): number {
  return denominator === 0 || !Number.isFinite(denominator) ? Number.NaN : numerator / denominator;
}

/** The smallest, middle and largest of several samples (NaN ones left out). */
export function spread(values: number[]): { min: number; median: number; max: number } {
  const finite = values.filter((v) => Number.isFinite(v));
  return {
    min: finite.length ? Math.min(...finite) : Number.NaN,
    median: median(finite),
    max: finite.length ? Math.max(...finite) : Number.NaN,
  };
}
