/** Chi-square statistic of observed counts against expected probabilities. */
export function chiSquare(observed: ArrayLike<number>, probs: ArrayLike<number>, n: number): number {
  let chi = 0;
  for (let k = 0; k < observed.length; k++) {
    const e = probs[k]! * n;
    chi += (observed[k]! - e) ** 2 / e;
  }
  return chi;
}

/** Upper critical value of chi-square with `df` degrees of freedom at z standard deviations (Wilson-Hilferty). */
export function chiSquareCritical(df: number, z = 3.72 /* p ~ 1e-4 */): number {
  const a = 2 / (9 * df);
  return df * (1 - a + z * Math.sqrt(a)) ** 3;
}
