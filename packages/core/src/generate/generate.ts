import { now } from '../clock.js';
import type { Backend } from '../backend/types.js';
import { checkCapabilities } from '../backend/capabilities.js';
import { invalidOption, throwIfAborted } from '../errors.js';
import { FeatureArena } from '../predictors/arena.js';
import { predictorDefinition } from '../predictors/registry.js';
import { RandomStreams } from '../random/prng.js';
import { BackendCalls, releaseQuietly } from '../loop/backend-calls.js';
import { LogitsBuffer } from '../loop/logits-buffer.js';
import { ModelCall } from '../loop/model-call.js';
import { PredictorSession } from '../loop/predictor-session.js';
import { refreshPolicy } from '../loop/refresh-policy.js';
import { encodeConditions, type RowConditions } from '../loop/row-conditions.js';
import { chooseSampler, deviceSampler, hostSampler } from '../loop/samplers.js';
import { handOverFeature, StepReporter } from '../loop/step-events.js';
import { stepSchedule } from '../loop/step-schedule.js';
import { TokenGrid } from '../loop/token-grid.js';
import { resolveOptions, type GenerateOptions } from './options.js';
import { textReport, type GenerateResult } from './result.js';

export type { CallCounts, GenerateResult, SamplerReport, TextReport } from './result.js';

/**
 * Generates a batch of token grids with a masked image generation model.
 *
 * The loop owns all model calls: full steps (from the plan) run the base model; skipped steps ask the
 * predictor for the feature, apply the head, and then guidance, sampling and commit run exactly as in a full
 * step. Memory for logits, tokens and sampling is allocated once per run, never per step. Each part of a step
 * is a piece of its own in `src/loop/`; this function is their sequence over a schedule fixed in advance.
 *
 * A class-conditioned bundle takes `condition` (class ids); a text-conditioned one takes `prompt` (and
 * `negativePrompt`): the prompts are tokenized by the backend's tokenizer and encoded once per run by
 * `backend.encodeText`, and every forward pass gets each row's prompt from that handle.
 *
 * @example
 * const result = await generate(backend, { condition: 3, batch: 4, steps: 16, budget: 6, seed: 1 });
 * const images = await backend.decode(result.tokens, result.batch);
 * // a text bundle (family amused):
 * const drawn = await generate(textBackend, { prompt: 'a red fox in the snow', seed: 1 });
 */
export async function generate(backend: Backend, options: GenerateOptions = {}): Promise<GenerateResult> {
  const start = now();
  if (backend === null || typeof backend !== 'object' || typeof backend.forward !== 'function' || backend.manifest == null) {
    throw invalidOption('backend', backend, 'a Backend (e.g. from createNodeBackend or createWebBackend) is required');
  }
  const caps = checkCapabilities(backend);
  const o = resolveOptions(options, backend.manifest, caps.velocity, caps.text === true ? backend.tokenizer : undefined);
  const { signal, onStep, onFeature } = options;
  throwIfAborted(signal);
  const samplerReport = chooseSampler(o, backend, caps.deviceSampling === true);

  // The run's state and pieces, each allocated once; nothing below allocates per step but small records.
  const { count: L, codebookSize: K, maskId } = backend.manifest.tokens;
  const B = o.batch;
  const maxRows = o.guided ? 2 * B : B;
  const schedule = stepSchedule(o);
  const grid = new TokenGrid(B, L, maskId, schedule.maxCount);
  const logits = new LogitsBuffer(backend, B, maxRows, L * K, samplerReport.device);
  const calls = new BackendCalls(backend, signal);
  const rng = new RandomStreams(o.seed, B, o.streams);
  const sampler = samplerReport.device ? deviceSampler(o, grid, logits, backend, calls, rng) : hostSampler(o, grid, logits, K, rng);
  // Every feature of this run lives in the arena; the predictor decides what fills skipped steps and what it keeps.
  const arena = new FeatureArena(backend);
  const predictor = new PredictorSession(predictorDefinition(o.predictor)!, { backend, taylorOrder: o.taylorOrder, arena, call: calls.call });
  const model = new ModelCall(backend, calls, arena, predictor, logits, grid, maxRows, o.guided && o.guidedHead && caps.guidedHead === true);
  const refresh = refreshPolicy(o);
  const report = new StepReporter(schedule.steps, start, onStep);
  let conditions: RowConditions | null = null;
  try {
    logits.open();
    conditions = await encodeConditions(backend, o, calls);
    for (let i = 0; i < schedule.steps; i++) {
      throwIfAborted(signal);
      const stepStart = now();
      calls.beginStep();
      const full = refresh.decide(i);
      const kind = full ? 'full' : 'skipped';
      const weight = schedule.weights[i]!;
      const fed = full ? await model.full(i, schedule.rows[i]!, conditions) : await model.skipped(i, weight);
      await handOverFeature(arena, i, kind, fed, B, onFeature, signal);
      const noiseScale = (full ? schedule.fullNoise : schedule.skippedNoise)[i]!;
      await sampler.sample({ count: schedule.counts[i]!, weight, guided: logits.guideAtSampling, noiseScale });
      refresh.observe(i, full, sampler);
      report.step(i, kind, grid, logits.guidance(weight), calls, stepStart);
    }
    // An abort raised by the last step's listener still ends the run: the caller asked for no result.
    throwIfAborted(signal);
  } finally {
    // Never let cleanup hide the error that ended the run (e.g. a backend disposed mid-run).
    arena.releaseAll();
    releaseQuietly(backend, [logits.device, conditions?.handle ?? null]);
  }

  const totalMs = now() - start;
  const { seed, predictor: method, steps, text } = o;
  const timings = { totalMs, backendMs: calls.backendMs, coreMs: totalMs - calls.backendMs };
  return {
    tokens: grid.state,
    batch: B,
    tokensPerImage: L,
    seed,
    predictor: method,
    steps,
    plan: refresh.plan(),
    trace: report.trace,
    calls: calls.counts,
    sampler: samplerReport,
    text: textReport(text),
    timings,
  };
}
