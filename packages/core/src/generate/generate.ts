import { now } from '../clock.js';
import type { Backend, DeviceLogits, FeatureTensor, ForwardInput, TextHandle, VelocityControl } from '../backend/types.js';
import type { PromptReport } from './condition.js';
import { invalidOption, MigmError, throwIfAborted } from '../errors.js';
import { checkCapabilities } from '../backend/capabilities.js';
import { FeatureArena } from '../predictors/arena.js';
import { predictorDefinition, type Predictor } from '../predictors/registry.js';
import { AdaptiveRefresh } from '../plan/adaptive-refresh.js';
import { RandomStreams } from '../random/prng.js';
import { commitTopConfidence, createSamplerScratch, sampleMaskedPositions } from '../sampling/step-sampler.js';
import { drawStepUniforms } from '../sampling/step-uniforms.js';
import type { StepTrace } from './events.js';
import { resolveOptions, type GenerateOptions, type ResolvedOptions } from './options.js';

/** Counts of backend calls made by one generate() run. */
export interface CallCounts {
  forward: number;
  head: number;
  velocity: number;
  combine: number;
  /** Device sampling steps (`sampleStep`). */
  sample: number;
  /** Prompt encodings (`encodeText`): one per text-conditioned run, of every distinct prompt at once. */
  encode: number;
}

/** What a text-conditioned run did with its prompts. */
export interface TextReport {
  /** The distinct prompts (images' prompts first, then negative prompts), each tokenized and encoded once. */
  readonly prompts: readonly PromptReport[];
  /** Some prompt was longer than the bundle's `condition.maxLength` tokens and was truncated. */
  readonly truncated: boolean;
}

/** Which sampler ran a generate() call, and why the host one when it was not the device. */
export interface SamplerReport {
  readonly device: boolean;
  /** Why sampling ran on the host (null when it ran on the device). */
  readonly reason: string | null;
}

/** What `generate()` returns. Decode `tokens` to pixels with `backend.decode(result.tokens, result.batch)`. */
export interface GenerateResult {
  /** Final token ids [batch, L], int32. */
  readonly tokens: Int32Array;
  readonly batch: number;
  /** L: tokens per image. */
  readonly tokensPerImage: number;
  /** The seed used (the one given, or the random one drawn when none was given). */
  readonly seed: number;
  readonly predictor: Predictor;
  readonly steps: number;
  /** Steps that ran the base model (the fixed plan, or where refresh 'adaptive' put them). */
  readonly plan: Int32Array;
  readonly trace: readonly StepTrace[];
  readonly calls: Readonly<CallCounts>;
  /** Where sampling ran (see the `sampler` option). */
  readonly sampler: SamplerReport;
  /** Text bundles: the prompts and whether any was truncated; null for class bundles. */
  readonly text: TextReport | null;
  readonly timings: {
    /** Wall time of the whole run, ms. */
    readonly totalMs: number;
    /** Time awaiting the backend, ms. */
    readonly backendMs: number;
    /** Time in core (sampling, guidance, selection, bookkeeping), ms. */
    readonly coreMs: number;
  };
}

/**
 * Generates a batch of token grids with a masked image generation model.
 *
 * The loop owns all model calls: full steps (from the plan) run the base model; skipped steps ask the
 * predictor for the feature, apply the head, and then guidance, sampling and commit run exactly as in a full
 * step. Memory for logits, tokens and sampling is allocated once per run, never per step.
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
  const manifest = backend.manifest;
  const caps = checkCapabilities(backend);
  const o = resolveOptions(options, manifest, caps.velocity, caps.text === true ? backend.tokenizer : undefined);
  const { signal, onStep, onFeature } = options;
  throwIfAborted(signal);
  const hostReason = hostSamplerReason(o, backend, caps.deviceSampling === true);
  if (o.sampler === 'device' && hostReason !== null)
    throw new MigmError('UNSUPPORTED', `sampler 'device' cannot run this call: ${hostReason}. Use sampler 'auto' (falls back to the host) or 'host'.`, {
      details: { option: 'sampler' },
    });
  const onDevice = hostReason === null;

  const B = o.batch;
  const L = manifest.tokens.count;
  const K = manifest.tokens.codebookSize;
  const maskId = manifest.tokens.maskId;
  const maxRows = o.guided ? 2 * B : B;
  const N = o.steps;

  const state = new Int32Array(B * L).fill(maskId);
  const rowTokens = new Int32Array(maxRows * L);
  // The condition of each row: class ids, or (text bundles) the row's prompt in the encoded handle. Guidance
  // rows B..2B-1 hold the null class or the negative prompt.
  const rowClasses = new Int32Array(o.text === null ? maxRows : 0);
  rowClasses.set(o.classes);
  if (o.guided && manifest.condition.type === 'class') rowClasses.fill(manifest.condition.nullClassId, B);
  let textHandle: TextHandle | null = null;
  // Logits live on the device (a handle made below) or in this host buffer; never both.
  const logits = new Float32Array(onDevice ? 0 : maxRows * L * K);
  let deviceLogits: DeviceLogits | null = null;
  const uniforms = new Float64Array(onDevice ? 2 * B * L : 0);
  const scratch = createSamplerScratch(onDevice ? 0 : B, onDevice ? 0 : L, onDevice ? 0 : K);
  let maxCount = 0;
  for (let i = 0; i < N; i++) maxCount = Math.max(maxCount, o.counts[i]!);
  const revealedPositions = new Int32Array(B * maxCount);
  const revealedTokens = new Int32Array(B * maxCount);
  const controlTokens = new Int32Array(maxRows * maxCount);
  const controlPositions = new Int32Array(maxRows * maxCount);
  const controlRatio = new Float32Array(maxRows);
  const rng = new RandomStreams(o.seed, B, o.streams);
  // Guided logits of a predicted feature from one head call on B rows (an affine head; see guidedHead).
  const headGuides = o.guided && o.guidedHead && caps.guidedHead === true;
  /** Where a call writes `n` rows of logits. */
  const logitsFor = (n: number): Float32Array | DeviceLogits => deviceLogits ?? logits.subarray(0, n * L * K);
  /** The weight already applied to the logits (rows 0..B-1) by guidedHead, or null when they are raw. */
  let logitsWeight: number | null = null;
  /** Rows of raw logits held (2B: [cond; uncond], guided at sampling; B: conditional only). */
  let logitsRows = maxRows;
  /** The head of a skipped step's feature into the logits, guided there when the backend can. */
  const headOf = async (f: FeatureTensor, weight: number): Promise<void> => {
    const fRows = f.dims[0];
    if (headGuides && fRows === 2 * B) {
      await call('head', () => backend.guidedHead!(f, weight, logitsFor(B)));
      logitsWeight = weight;
    } else {
      await call('head', () => backend.head(f, logitsFor(fRows)));
      logitsWeight = null;
    }
    logitsRows = fRows;
  };

  const calls: CallCounts = { forward: 0, head: 0, velocity: 0, combine: 0, sample: 0, encode: 0 };
  const trace: StepTrace[] = [];
  let backendMs = 0;
  let stepBackendMs = 0;
  let stepCalls = 0;
  /** Awaits a backend call, timing it and releasing its result if the run was aborted meanwhile. */
  const call = async <T>(kind: keyof CallCounts, p: () => Promise<T>): Promise<T> => {
    const t0 = now();
    let value: T;
    try {
      value = await p();
    } catch (err) {
      if (err instanceof MigmError) throw err;
      throw new MigmError('BACKEND_FAILURE', `Backend ${backend.name} failed in ${kind}(): ${err instanceof Error ? err.message : String(err)}`, {
        cause: err,
      });
    } finally {
      const dt = now() - t0;
      backendMs += dt;
      stepBackendMs += dt;
      calls[kind]++;
      stepCalls++;
    }
    if (signal?.aborted && value !== null && typeof value === 'object' && ('dims' in value || (value as { kind?: unknown }).kind === 'text')) {
      backend.release(value as unknown as FeatureTensor | TextHandle);
    }
    throwIfAborted(signal);
    return value;
  };

  // Every feature of this run lives in the arena; the predictor decides what fills skipped steps and what it keeps.
  const arena = new FeatureArena(backend);
  const definition = predictorDefinition(o.predictor)!;
  let run = definition.create({ backend, taylorOrder: o.taylorOrder, arena, call });
  /** Rows of the features the predictor run holds (changes only at a full step, under guidanceCutoff). */
  let runRows = 0;
  let masked = L;
  let lastRevealed = 0;
  const skippedStep = { step: 0, lastRevealed: 0, control: () => control(lastRevealed, masked / L, runRows) };
  const adaptive = o.refresh === 'adaptive' ? new AdaptiveRefresh(N, o.plan.length, o.refreshTolerance) : null;
  const fullSteps: number[] = [];
  try {
    if (onDevice) deviceLogits = backend.createLogits!(maxRows);
    const text = o.text;
    if (text !== null) {
      // Every distinct prompt once, for the whole run: the handle stays where the backend keeps it until the end.
      textHandle = await call('encode', () => backend.encodeText!(text.ids, text.prompts.length));
    }
    /** The condition fields of a forward on `rows` rows (B conditional, or 2B with the guidance rows). */
    const conditionFor = (rows: number): Pick<ForwardInput, 'classes' | 'text'> =>
      text === null
        ? { classes: rowClasses.subarray(0, rows) }
        : { text: { handle: textHandle!, index: text.index.subarray(0, rows), microConds: text.microConds.subarray(0, rows * text.microCount) } };
    for (let i = 0; i < N; i++) {
      throwIfAborted(signal);
      const stepStart = now();
      stepBackendMs = 0;
      stepCalls = 0;
      const full = adaptive ? adaptive.decide(i) : o.fullMask[i] === 1;
      if (full) fullSteps.push(i);
      let stepFeature: FeatureTensor | null = null;
      let kept = false;
      if (full) {
        const rows = o.unconditional[i] === 1 ? 2 * B : B;
        if (runRows !== 0 && rows !== runRows) {
          // The guidance cutoff switched branches: features of the other row count cannot be combined with
          // these, so the predictor starts over (only predictors that keep no full-step history get here).
          arena.releaseAll();
          run = definition.create({ backend, taylorOrder: o.taylorOrder, arena, call });
        }
        runRows = rows;
        rowTokens.set(state);
        if (rows === 2 * B) rowTokens.set(state, B * L);
        const input = { tokens: rowTokens.subarray(0, rows * L), ...conditionFor(rows), rows, logits: logitsFor(rows) };
        stepFeature = arena.hold(await call('forward', () => backend.forward(input)));
        logitsWeight = null;
        logitsRows = rows;
        kept = run.full(i, stepFeature);
      } else {
        skippedStep.step = i;
        skippedStep.lastRevealed = lastRevealed;
        const p = await run.skipped(skippedStep);
        if (p !== null) {
          stepFeature = p.feature;
          kept = p.kept;
          await headOf(p.feature, o.weights[i]!);
        } else if (logitsWeight !== null && logitsWeight !== o.weights[i]) {
          // The buffer holds logits guided at another step's weight (after a step that revealed nothing): guide again.
          const latest = run.latest();
          if (latest !== null) await headOf(latest, o.weights[i]!);
        }
      }
      // A feature nobody keeps goes as soon as nothing needs it: now, or after onFeature has seen it.
      if (!kept && !onFeature) arena.drop(stepFeature);
      if (onFeature) {
        await onFeature({
          step: i,
          kind: full ? 'full' : 'skipped',
          feature: stepFeature,
          guided: stepFeature !== null && stepFeature.dims[0] === 2 * B,
          batch: B,
        });
        throwIfAborted(signal);
        if (!kept) arena.drop(stepFeature);
      }

      const count = o.counts[i]!;
      const anneal = o.confidenceNoise === 'constant' ? 1 : N === 1 ? 0 : 1 - i / (N - 1);
      const guided = logitsWeight === null && logitsRows === 2 * B;
      const noiseScale = (full ? o.randomizeTemperature : o.skippedRandomizeTemperature) * anneal;
      if (deviceLogits !== null) {
        // The same uniforms, in the same order, as the host sampler takes from the streams.
        drawStepUniforms(state, maskId, B, L, rng, uniforms);
        const k = Math.min(count, masked);
        if (k > 0) {
          const step = {
            batch: B,
            guided,
            weight: o.weights[i]!,
            invTemp: o.inverseTemperature,
            noiseScale,
            state,
            uniforms,
            count: k,
            revealedPositions: revealedPositions.subarray(0, B * k),
            revealedTokens: revealedTokens.subarray(0, B * k),
          };
          await call('sample', () => backend.sampleStep!(deviceLogits!, step));
          for (let b = 0; b < B; b++) for (let j = 0; j < k; j++) state[b * L + revealedPositions[b * k + j]!] = revealedTokens[b * k + j]!;
        }
        lastRevealed = k;
      } else {
        sampleMaskedPositions(
          {
            logits,
            guided,
            batch: B,
            tokens: L,
            vocab: K,
            state,
            maskId,
            weight: o.weights[i]!,
            invTemp: o.inverseTemperature,
            noiseScale,
            draw: o.draw,
            topK: o.topK,
            topP: o.topP,
            rng,
          },
          scratch,
        );
        lastRevealed = commitTopConfidence(state, maskId, B, L, count, scratch, revealedPositions, revealedTokens);
        if (adaptive) adaptive.observe(i, full, meanCommittedLogProb(lastRevealed));
      }
      masked -= lastRevealed;

      const stepMs = now() - stepStart;
      trace.push({
        step: i,
        kind: full ? 'full' : 'skipped',
        revealed: lastRevealed,
        masked,
        guidance: guided || logitsWeight !== null ? o.weights[i]! : 0,
        backendCalls: stepCalls,
        backendMs: stepBackendMs,
        coreMs: stepMs - stepBackendMs,
      });
      onStep?.({
        type: 'step',
        step: i,
        steps: N,
        kind: full ? 'full' : 'skipped',
        revealed: lastRevealed,
        masked,
        tokens: state,
        batch: B,
        revealedPositions: revealedPositions.subarray(0, B * lastRevealed),
        revealedTokens: revealedTokens.subarray(0, B * lastRevealed),
        elapsedMs: now() - start,
      });
    }
    // An abort raised by the last step's listener still ends the run: the caller asked for no result.
    throwIfAborted(signal);
  } finally {
    // Never let cleanup hide the error that ended the run (e.g. a backend disposed mid-run).
    arena.releaseAll();
    for (const handle of [deviceLogits, textHandle]) {
      if (handle === null) continue;
      try {
        backend.release(handle);
      } catch {
        /* gone with its backend */
      }
    }
  }

  const totalMs = now() - start;
  return {
    tokens: state,
    batch: B,
    tokensPerImage: L,
    seed: o.seed,
    predictor: o.predictor,
    steps: N,
    plan: Int32Array.from(fullSteps),
    trace,
    calls,
    sampler: { device: onDevice, reason: hostReason },
    text: o.text === null ? null : { prompts: o.text.prompts, truncated: o.text.prompts.some((p) => p.truncated) },
    timings: { totalMs, backendMs, coreMs: totalMs - backendMs },
  };

  /** Mean log p (without noise) of the k tokens each image committed at this step; NaN when k is 0. */
  function meanCommittedLogProb(k: number): number {
    let sum = 0;
    for (let b = 0; b < B; b++) for (let j = 0; j < k; j++) sum += scratch.logProb[b * L + revealedPositions[b * k + j]!]!;
    return sum / (B * k);
  }

  /** The shortcut's control: last step's revealed tokens and positions for every row (both CFG halves). */
  function control(n: number, ratio: number, rows: number): VelocityControl {
    controlTokens.set(revealedTokens.subarray(0, B * n));
    controlPositions.set(revealedPositions.subarray(0, B * n));
    if (rows === 2 * B) {
      controlTokens.copyWithin(B * n, 0, B * n);
      controlPositions.copyWithin(B * n, 0, B * n);
    }
    controlRatio.fill(ratio);
    return { tokens: controlTokens.subarray(0, rows * n), positions: controlPositions.subarray(0, rows * n), count: n, ratio: controlRatio.subarray(0, rows) };
  }
}

/** Why this call samples on the host, or null when the device sampler runs it. */
function hostSamplerReason(o: ResolvedOptions, backend: Backend, deviceSampling: boolean): string | null {
  if (o.sampler === 'host') return "sampler 'host' was asked for";
  if (!deviceSampling) return `backend ${backend.name} (${backend.device}) has no device sampler (capabilities.deviceSampling)`;
  if (o.draw !== 'inverse-cdf') return `draw '${o.draw}' runs on the host only (the device sampler draws by inverse CDF)`;
  if (o.topK > 0) return 'topK filtering runs on the host only';
  if (o.topP < 1) return 'topP filtering runs on the host only';
  if (o.refresh === 'adaptive') return "refresh 'adaptive' reads the committed tokens' log-probabilities, which the host sampler computes";
  return null;
}
