import { describe, MigmError } from './errors.js';

/** Closest known key by edit distance (case-insensitive), for "did you mean" messages; null when nothing is close. */
export function closestKey(key: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestDistance = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = k;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  if (a.length > 64 || b.length > 64) return Math.abs(a.length - b.length) + 64;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * Refuses keys outside `known` with an `INVALID_OPTION` that names the closest valid key, and returns a copy
 * without null values except where null has its own meaning (`keepNull`): null and undefined both mean
 * "the default" everywhere else, so a JSON request can leave any option null.
 */
export function checkOptionKeys<T extends object>(options: T, known: readonly string[], what: string, keepNull: readonly string[] = []): T {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      const near = closestKey(key, known);
      throw new MigmError(
        'INVALID_OPTION',
        `Unknown ${what} option ${describe(key)}${near ? `; did you mean '${near}'?` : '.'} Allowed: ${known.join(', ')}.`,
        {
          details: { option: key, ...(near ? { suggestion: near } : {}) },
        },
      );
    }
    const value = (options as Record<string, unknown>)[key];
    if (value !== null || keepNull.includes(key)) out[key] = value;
  }
  return out as T;
}
