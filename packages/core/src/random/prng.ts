/**
 * The one PRNG of migm: **xoshiro128\*\*** (Blackman & Vigna, 2018), 32-bit integer arithmetic only, so the
 * same seed gives the same draws in every JavaScript engine, in workers and on every platform.
 *
 * Seeding: each image of a batch has its own stream, so image b of seed s is the same picture whatever the
 * batch size. The four state words come from SplitMix32 run over (seed low word, seed high word, b).
 * Uniforms are the top 24 bits of a draw, centred in their bin: u = (x >>> 8) * 2^-24 + 2^-25, so u is never
 * 0 or 1 (log and Gumbel transforms stay finite).
 */

const TWO_POW_M24 = 1 / 16777216;
const HALF_BIN = 1 / 33554432;

/** SplitMix32 step: returns [next state, output]. Used only for seeding. */
function splitmix32(state: number): [number, number] {
  const s = (state + 0x9e3779b9) | 0;
  let z = s;
  z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
  z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
  z ^= z >>> 15;
  return [s, z >>> 0];
}

/**
 * Seeds are integers 0 <= seed <= 2^53 - 1 (Number.MAX_SAFE_INTEGER). Returns true for valid seeds.
 */
export function isValidSeed(seed: unknown): seed is number {
  return typeof seed === 'number' && Number.isSafeInteger(seed) && seed >= 0;
}

/**
 * Writes the xoshiro128** state of stream `stream` for `seed` into `state[offset..offset+4)`.
 */
export function seedStream(state: Uint32Array, offset: number, seed: number, stream: number): void {
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 4294967296) >>> 0;
  let s = lo ^ 0x6a09e667;
  let out: number;
  [s, out] = splitmix32(s ^ Math.imul(hi, 0x85ebca6b));
  [s, out] = splitmix32(s ^ out ^ Math.imul(stream + 1, 0xc2b2ae35));
  for (let i = 0; i < 4; i++) {
    [s, out] = splitmix32(s);
    state[offset + i] = out;
  }
  // xoshiro must not start from the all-zero state.
  if ((state[offset]! | state[offset + 1]! | state[offset + 2]! | state[offset + 3]!) === 0) state[offset] = 1;
}

/** Next 32-bit output of the stream stored at state[offset..offset+4). */
export function nextUint32(state: Uint32Array, offset: number): number {
  const s0 = state[offset]!;
  const s1 = state[offset + 1]!;
  const s2 = state[offset + 2]!;
  const s3 = state[offset + 3]!;
  const m = Math.imul(s1, 5);
  const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
  const t = s1 << 9;
  const n2 = s2 ^ s0;
  const n3 = s3 ^ s1;
  const n1 = s1 ^ n2;
  const n0 = s0 ^ n3;
  state[offset] = n0;
  state[offset + 1] = n1;
  state[offset + 2] = n2 ^ t;
  state[offset + 3] = (n3 << 11) | (n3 >>> 21);
  return result;
}

/** Uniform in the open interval (0, 1) with 24-bit resolution. */
export function nextUniform(state: Uint32Array, offset: number): number {
  return (nextUint32(state, offset) >>> 8) * TWO_POW_M24 + HALF_BIN;
}

/** Standard Gumbel draw: -log(-log(u)). */
export function nextGumbel(state: Uint32Array, offset: number): number {
  return -Math.log(-Math.log(nextUniform(state, offset)));
}

/**
 * A batch of independent streams, one per image (4 words each).
 *
 * @example
 * const rng = new RandomStreams(42, 2);
 * rng.uniform(0); // first uniform of image 0
 */
export class RandomStreams {
  readonly state: Uint32Array;
  readonly count: number;

  /** `streams`, when given, names each image's (seed, stream index) instead of (seed, b). */
  constructor(seed: number, count: number, streams?: readonly (readonly [number, number])[] | null) {
    this.count = count;
    this.state = new Uint32Array(4 * count);
    for (let b = 0; b < count; b++) {
      const s = streams?.[b];
      seedStream(this.state, 4 * b, s ? s[0] : seed, s ? s[1] : b);
    }
  }

  uint32(stream: number): number {
    return nextUint32(this.state, 4 * stream);
  }

  uniform(stream: number): number {
    return nextUniform(this.state, 4 * stream);
  }

  gumbel(stream: number): number {
    return nextGumbel(this.state, 4 * stream);
  }
}
