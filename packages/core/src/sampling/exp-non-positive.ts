// exp(x) for x <= 0 from +, *, floor and two small tables. The sampler's softmax spends most of its time in exp
// (K per masked position per step); this form takes ~3 ns against Math.exp's ~10 in V8's softmax loop on the
// build machine. It also gives the same bits in every JavaScript engine, where Math.exp's last bits are each
// engine's own libm (Math.log, in the Gumbel noise and log p, still is).

/** 2^-i for i = 0..MAX_SHIFT; 2^-1075 and below round to 0 in float64. */
const MAX_SHIFT = 1100;
const POW2_NEG = new Float64Array(MAX_SHIFT + 1);
for (let i = 0, v = 1; i <= MAX_SHIFT; i++, v /= 2) POW2_NEG[i] = v;

/**
 * 2^(j/32) for j = 0..31, correctly rounded (computed to 60 digits; written out rather than built with
 * Math.pow, whose last bit may differ between engines).
 */
// prettier-ignore
const POW2_FRAC = new Float64Array([
  1.0, 1.0218971486541166, 1.0442737824274138, 1.0671404006768237,
  1.0905077326652577, 1.1143867425958924, 1.1387886347566916, 1.1637248587775775,
  1.189207115002721, 1.215247359980469, 1.241857812073484, 1.2690509571917332,
  1.2968395546510096, 1.3252366431597413, 1.3542555469368927, 1.383909881963832,
  1.4142135623730951, 1.4451808069770467, 1.4768261459394993, 1.5091644275934228,
  1.5422108254079407, 1.5759808451078865, 1.6104903319492543, 1.645755478153965,
  1.681792830507429, 1.718619298122478, 1.7562521603732995, 1.7947090750031072,
  1.8340080864093424, 1.8741676341103, 1.9152065613971474, 1.9571441241754002,
]);

const SCALE = 32 / Math.LN2;
const STEP = Math.LN2 / 32;
/** Below this e^x is 0 in float64 (e^-745.2 is the smallest subnormal); clamping keeps the indices in range. */
const FLOOR = -760;

/**
 * e^x for x <= 0 (a logit minus its row maximum), relative error below 1e-11 (Taylor truncation r^5 / 5! with
 * |r| <= ln 2 / 64; measured max 1.3e-12 over [-80, 0]); exactly 1 at 0 and exactly 0 at -Infinity and below
 * about -745, like Math.exp. NaN gives NaN; positive x is outside the contract.
 *
 * x = n ln2 / 32 + r with integer n = round(32 x / ln 2), so e^x = 2^(n >> 5) * 2^((n & 31) / 32) * e^r: two table
 * lookups and e^r, |r| <= ln 2 / 64, from its Taylor series to degree 4.
 */
export function expNonPositive(x: number): number {
  // A clamp, not a branch: V8 runs the softmax loop faster without one.
  const y = Math.max(x, FLOOR);
  const n = Math.floor(y * SCALE + 0.5);
  const r = y - n * STEP;
  const i = n | 0;
  return (1 + r * (1 + r * (0.5 + r * (1 / 6 + r * (1 / 24))))) * POW2_FRAC[i & 31]! * POW2_NEG[-(i >> 5)]!;
}
