/** How even a load vector is: the two numbers the simulation reports for every distribution. */

export interface LoadStats {
  readonly total: number;
  readonly mean: number;
  readonly max: number;
  /** max / mean: 1 is perfectly even; 0 when nothing is loaded. */
  readonly maxOverMean: number;
  /** Coefficient of variation: population standard deviation / mean; 0 when nothing is loaded. */
  readonly cv: number;
}

export function loadStats(values: ArrayLike<number>): LoadStats {
  const n = values.length;
  if (n === 0) return { total: 0, mean: 0, max: 0, maxOverMean: 0, cv: 0 };
  let total = 0;
  let max = 0;
  for (let i = 0; i < n; i++) {
    total += values[i]!;
    if (values[i]! > max) max = values[i]!;
  }
  const mean = total / n;
  if (mean === 0) return { total, mean, max, maxOverMean: 0, cv: 0 };
  let sq = 0;
  for (let i = 0; i < n; i++) sq += (values[i]! - mean) ** 2;
  return { total, mean, max, maxOverMean: max / mean, cv: Math.sqrt(sq / n) / mean };
}
