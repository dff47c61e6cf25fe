import type { Backend } from '../backend/types.js';
import type { GenerateOptions } from '../generate/options.js';
import { generate, type GenerateResult } from '../generate/generate.js';

/** What {@link timeGenerate} measured. */
export interface GenerateTiming {
  /** generate() wall time per image, ms: median, min and max over the timed runs. */
  readonly msPerImage: number;
  readonly msPerImageMin: number;
  readonly msPerImageMax: number;
  /** Share of the timed runs' time spent awaiting the backend (the rest is core: sampling, guidance, bookkeeping). */
  readonly backendShare: number;
  /** The warm-up run's result (not timed), e.g. to compare its tokens across devices. */
  readonly warmup: GenerateResult;
}

/**
 * Runs `generate(backend, options)` once as a warm-up and then `runs` times, timing each run per image. For
 * device checks and benchmarks: the same options every run, so every run draws the same images.
 *
 * @example
 * const t = await timeGenerate(backend, { condition: 3, batch: 16, seed: 1 }, 5);
 * console.log(`${t.msPerImage.toFixed(1)} ms/image, ${(100 * t.backendShare).toFixed(0)}% in the backend`);
 */
export async function timeGenerate(backend: Backend, options: GenerateOptions, runs: number): Promise<GenerateTiming> {
  if (!Number.isInteger(runs) || runs < 1) throw new RangeError(`timeGenerate: runs must be an integer >= 1, got ${runs}`);
  const warmup = await generate(backend, options);
  const times: number[] = [];
  let backendMs = 0;
  let coreMs = 0;
  for (let i = 0; i < runs; i++) {
    const { timings, batch } = await generate(backend, options);
    times.push(timings.totalMs / batch);
    backendMs += timings.backendMs;
    coreMs += timings.coreMs;
  }
  const sorted = [...times].sort((a, b) => a - b);
  return {
    msPerImage: sorted[Math.floor(sorted.length / 2)]!,
    msPerImageMin: sorted[0]!,
    msPerImageMax: sorted[sorted.length - 1]!,
    backendShare: backendMs + coreMs > 0 ? backendMs / (backendMs + coreMs) : 0,
    warmup,
  };
}
