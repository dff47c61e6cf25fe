import type { Backend } from '../backend/types.js';
import { MigmError } from '../errors.js';
import type { ResolvedOptions } from '../generate/options.js';
import type { RandomStreams } from '../random/prng.js';
import { createSamplerScratch, sampleMaskedPositions } from '../sampling/step-sampler.js';
import { drawStepUniforms } from '../sampling/step-uniforms.js';
import type { BackendCalls } from './backend-calls.js';
import type { LogitsBuffer } from './logits-buffer.js';
import type { TokenGrid } from './token-grid.js';

/** What one step's sampling needs from the schedule and the logits. */
export interface StepSampling {
  /** Tokens to reveal per image (fewer when fewer are masked). */
  readonly count: number;
  /** Guidance weight, applied here when `guided`. */
  readonly weight: number;
  /** The logits are raw [cond; uncond] rows, to guide at `weight`. */
  readonly guided: boolean;
  /** Scale of the confidence's Gumbel noise. */
  readonly noiseScale: number;
}

/**
 * One step's sampling: a candidate and a confidence for every masked position of the grid, and the commit of
 * the most confident `count` per image. The host and device samplers draw the same random numbers, in the same
 * order, from the run's streams, so a seed gives the same tokens whichever runs.
 */
export interface StepSampler {
  readonly device: boolean;
  sample(s: StepSampling): Promise<void>;
  /** Mean log p (without noise) of the tokens the last step committed; NaN when it committed none. Host only. */
  meanCommittedLogProb(): number;
}

/** Core's sampler on host logits [rows, L, K]: the reference every device sampler matches. */
export function hostSampler(o: ResolvedOptions, grid: TokenGrid, logits: LogitsBuffer, vocab: number, rng: RandomStreams): StepSampler {
  const { batch: B, tokens: L, maskId, state } = grid;
  const scratch = createSamplerScratch(B, L, vocab);
  const { inverseTemperature: invTemp, draw, topK, topP } = o;
  return {
    device: false,
    async sample(s) {
      const { guided, weight, noiseScale } = s;
      sampleMaskedPositions(
        { logits: logits.host, guided, batch: B, tokens: L, vocab, state, maskId, weight, invTemp, noiseScale, draw, topK, topP, rng },
        scratch,
      );
      grid.commitTopConfidence(s.count, scratch);
    },
    meanCommittedLogProb() {
      const k = grid.lastRevealed;
      let sum = 0;
      for (let b = 0; b < B; b++) for (let j = 0; j < k; j++) sum += scratch.logProb[b * L + grid.revealedPositions[b * k + j]!]!;
      return sum / (B * k);
    },
  };
}

/** The backend's `sampleStep` next to device logits: core draws the uniforms, only the revealed tokens come back. */
export function deviceSampler(
  o: ResolvedOptions,
  grid: TokenGrid,
  logits: LogitsBuffer,
  backend: Backend,
  calls: BackendCalls,
  rng: RandomStreams,
): StepSampler {
  const { batch: B, tokens: L, maskId, state } = grid;
  const uniforms = new Float64Array(2 * B * L);
  return {
    device: true,
    async sample(s) {
      // The same uniforms, in the same order, as the host sampler takes from the streams (drawn even when
      // nothing is committed, as the host sampler draws at every masked position).
      drawStepUniforms(state, maskId, B, L, rng, uniforms);
      const k = Math.min(s.count, grid.masked);
      if (k > 0) {
        const step = {
          batch: B,
          guided: s.guided,
          weight: s.weight,
          invTemp: o.inverseTemperature,
          noiseScale: s.noiseScale,
          state,
          uniforms,
          count: k,
          revealedPositions: grid.revealedPositions.subarray(0, B * k),
          revealedTokens: grid.revealedTokens.subarray(0, B * k),
        };
        await calls.call('sample', () => backend.sampleStep!(logits.device!, step));
      }
      grid.commitRevealed(k);
    },
    meanCommittedLogProb: () => Number.NaN,
  };
}

/** Why a call samples on the host, or null when the device sampler runs it. */
export function hostSamplerReason(o: ResolvedOptions, backend: Backend, deviceSampling: boolean): string | null {
  if (o.sampler === 'host') return "sampler 'host' was asked for";
  if (!deviceSampling) return `backend ${backend.name} (${backend.device}) has no device sampler (capabilities.deviceSampling)`;
  if (o.draw !== 'inverse-cdf') return `draw '${o.draw}' runs on the host only (the device sampler draws by inverse CDF)`;
  if (o.topK > 0) return 'topK filtering runs on the host only';
  if (o.topP < 1) return 'topP filtering runs on the host only';
  if (o.refresh === 'adaptive') return "refresh 'adaptive' reads the committed tokens' log-probabilities, which the host sampler computes";
  return null;
}

/** Where this call samples, and why the host when not the device; `sampler: 'device'` that cannot run is `UNSUPPORTED`. */
export function chooseSampler(o: ResolvedOptions, backend: Backend, deviceSampling: boolean): { readonly device: boolean; readonly reason: string | null } {
  const reason = hostSamplerReason(o, backend, deviceSampling);
  if (o.sampler === 'device' && reason !== null)
    throw new MigmError('UNSUPPORTED', `sampler 'device' cannot run this call: ${reason}. Use sampler 'auto' (falls back to the host) or 'host'.`, {
      details: { option: 'sampler' },
    });
  return { device: reason === null, reason };
}
