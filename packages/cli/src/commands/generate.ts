import { generate, tileImages, type GenerateResult, type Manifest, type SamplerChoice } from '@migm/core';
import type { OrtBackend } from '@migm/backend-node';
import { choiceFlag, intFlag, numberFlag, parse } from '../args.js';
import { resolveClass } from '../class-name.js';
import { backendFlags, fmtMs, loadBackend, printWarnings } from '../common.js';
import { ACCELERATED_METHODS, METHOD_NAMES, predictorOf, type Method } from '../methods.js';
import { encodePng } from '../png.js';
import { UsageError } from '../errors.js';
import { defaultCount, loadProgress, progressBar } from '../progress.js';
import { bundleJson, jsonFlag, output, plural, runJson } from '../output.js';

export const generateFlags = {
  ...backendFlags,
  dtype: { type: 'string' },
  class: { type: 'string' },
  prompt: { type: 'string' },
  'negative-prompt': { type: 'string' },
  count: { type: 'string' },
  steps: { type: 'string' },
  budget: { type: 'string' },
  method: { type: 'string' },
  seed: { type: 'string' },
  sampler: { type: 'string' },
  'guidance-cutoff': { type: 'string' },
  out: { type: 'string' },
  columns: { type: 'string' },
  scale: { type: 'string' },
  quiet: { type: 'boolean' },
  ...jsonFlag,
} as const;

export interface RunSpec {
  /** Class bundles: the class (null: unconditional); null for text bundles. */
  condition: number | null;
  /** Text bundles: --prompt and --negative-prompt; null for class bundles. */
  text: { prompt: string; negativePrompt: string | undefined } | null;
  count: number;
  steps: number;
  budget: number | undefined;
  method: Method;
  seed: number;
  sampler: SamplerChoice;
  guidanceCutoff: number | undefined;
}

/**
 * --class (class bundles) or --prompt / --negative-prompt (text bundles) for a manifest: the wrong one for the
 * bundle, or a text bundle without --prompt, is a usage error naming the right flag. Shared with `migm submit`.
 */
export function conditionFlags(m: Manifest, values: Record<string, string | boolean | undefined>): Pick<RunSpec, 'condition' | 'text'> {
  const prompt = values['prompt'] as string | undefined;
  const negativePrompt = values['negative-prompt'] as string | undefined;
  if (m.condition.type === 'text') {
    if (values['class'] !== undefined)
      throw new UsageError(`--class applies to class-conditioned bundles; ${m.name} is conditioned on text: give --prompt "..." instead`);
    if (prompt === undefined)
      throw new UsageError(
        `--prompt "..." is required: ${m.name} is conditioned on text${m.condition.examplePrompts?.length ? ` (e.g. --prompt ${JSON.stringify(m.condition.examplePrompts[0])})` : ''}`,
      );
    return { condition: null, text: { prompt, negativePrompt } };
  }
  for (const [flag, v] of [
    ['prompt', prompt],
    ['negative-prompt', negativePrompt],
  ] as const) {
    if (v !== undefined) throw new UsageError(`--${flag} applies to text-conditioned bundles; ${m.name} is conditioned on a class: give --class instead`);
  }
  return { condition: resolveClass(m, values['class'] as string | undefined), text: null };
}

/** Reads the flags shared by generate and compare into a run spec (validated against the bundle). */
export function runSpec(backend: OrtBackend, values: Record<string, string | boolean | undefined>, defaultMethod: Method): RunSpec {
  const m = backend.manifest;
  const { condition, text } = conditionFlags(m, values);
  const count = intFlag('count', values['count'] as string | undefined, defaultCount(m.image), 1, 1024)!;
  const steps = intFlag('steps', values['steps'] as string | undefined, m.sampling.steps, 1, m.tokens.count)!;
  const method = choiceFlag<Method>('method', values['method'] as string | undefined, defaultMethod, METHOD_NAMES);
  if (method === 'vanilla' && values['budget'] !== undefined) {
    throw new UsageError(`--budget applies to accelerated methods (${ACCELERATED_METHODS.join(', ')}); vanilla runs every step (use --steps to run fewer)`);
  }
  const budget = intFlag('budget', values['budget'] as string | undefined, Math.min(m.sampling.budget, steps), 1, steps);
  const seed = intFlag('seed', values['seed'] as string | undefined, Math.floor(Math.random() * 2 ** 31), 0, Number.MAX_SAFE_INTEGER)!;
  const sampler = samplerFlag(values);
  const guidanceCutoff = numberFlag('guidance-cutoff', values['guidance-cutoff'] as string | undefined, 0, 1000);
  return { condition, text, count, steps, budget, method, seed, sampler, guidanceCutoff };
}

/** The --sampler choice (checked before the model loads: 'device' loads the backend with its device sampler). */
export function samplerFlag(values: Record<string, string | boolean | undefined>): SamplerChoice {
  return choiceFlag<SamplerChoice>('sampler', values['sampler'] as string | undefined, 'auto', ['auto', 'host', 'device']);
}

/**
 * Backend options for a --sampler choice. The node backend offers its device sampler only when asked (on the CPU
 * it is slower than the host sampler: BENCHMARKS.md, "Device sampling"), so 'auto' and 'host' sample on the host.
 */
export function samplerBackendOptions(sampler: SamplerChoice): { deviceSampling?: boolean } {
  return sampler === 'device' ? { deviceSampling: true } : {};
}

/** One generate() run for a spec and method, with progress (a bar on a terminal, plain lines off one) and a per-image estimate. */
export async function runOnce(backend: OrtBackend, spec: RunSpec, method: Method, quiet: boolean): Promise<GenerateResult> {
  const bar = progressBar(process.stderr, method, { fullSteps: method === 'vanilla' ? spec.steps : spec.budget!, batch: spec.count });
  try {
    return await generate(backend, {
      ...conditionOptions(spec),
      batch: spec.count,
      steps: spec.steps,
      predictor: predictorOf(method),
      seed: spec.seed,
      sampler: spec.sampler,
      ...(spec.guidanceCutoff !== undefined ? { guidanceCutoff: spec.guidanceCutoff } : {}),
      ...(method === 'vanilla' ? {} : { budget: spec.budget! }),
      ...(quiet ? {} : { onStep: bar.onStep }),
    });
  } finally {
    bar.done();
  }
}

/** The condition options of generate() for a spec: a class, or a prompt and negative prompt. */
export function conditionOptions(spec: Pick<RunSpec, 'condition' | 'text'>): { condition: number | null } | { prompt: string; negativePrompt?: string } {
  if (spec.text === null) return { condition: spec.condition };
  return { prompt: spec.text.prompt, ...(spec.text.negativePrompt !== undefined ? { negativePrompt: spec.text.negativePrompt } : {}) };
}

export function describeRun(backend: OrtBackend, spec: RunSpec, method: Method): string {
  const c = backend.manifest.condition;
  const cls =
    spec.text !== null
      ? `prompt ${JSON.stringify(spec.text.prompt)}${spec.text.negativePrompt ? `, negative prompt ${JSON.stringify(spec.text.negativePrompt)}` : ''}`
      : spec.condition === null || c.type !== 'class'
        ? 'unconditional'
        : `${c.classNames[spec.condition]} (${spec.condition})`;
  return `${method} N=${spec.steps}${method === 'vanilla' ? '' : ` B=${spec.budget}`}, ${cls}, seed ${spec.seed}`;
}

/** A warning line when a prompt was longer than the bundle's tokenizer takes (null when none was). */
export function truncationLine(r: GenerateResult, maxLength: number): string | null {
  const cut = r.text?.prompts.filter((p) => p.truncated) ?? [];
  if (cut.length === 0) return null;
  return `migm: warning: ${cut.map((p) => `${JSON.stringify(p.prompt.length > 60 ? `${p.prompt.slice(0, 57)}...` : p.prompt)} (${p.length} tokens)`).join(', ')} truncated to ${maxLength} tokens, as CLIP does`;
}

export function timingLine(r: GenerateResult): string {
  const t = r.timings;
  // Where it sampled; why (r.sampler.reason) is in --json: on every CPU run it would be the same sentence.
  const sampling = r.sampler.device ? 'sampling on the device' : 'sampling on the host';
  return `${fmtMs(t.totalMs)} (${fmtMs(t.totalMs / r.batch)}/image): ${fmtMs(t.backendMs)} onnxruntime, ${fmtMs(t.coreMs)} core; ${r.calls.forward} base + ${r.calls.head} head + ${r.calls.velocity} shortcut calls; ${sampling}`;
}

/** Decodes a run and lays it out as a grid. */
export async function gridOf(backend: OrtBackend, r: GenerateResult, columns: number | undefined, scale: number) {
  const images = await backend.decode(r.tokens, r.batch);
  return tileImages(images, { ...(columns !== undefined ? { columns } : {}), scale, range: backend.manifest.image.range ?? [0, 1] });
}

export async function generateCommand(argv: string[]): Promise<void> {
  const values = parse(argv, generateFlags);
  const columns = intFlag('columns', values.columns, undefined, 1, 1024);
  const scaleFlag = intFlag('scale', values.scale, undefined, 1, 32);
  const o = output(values, 'migm.png');
  const quiet = values.quiet === true || o.json;
  // A paper-size bundle takes tens of seconds to read, verify and load: say so, and show how far it got.
  const progress = quiet ? undefined : loadProgress(process.stderr, values.bundle ?? 'the default bundle');
  let backend: OrtBackend;
  try {
    backend = await loadBackend(values, { ...samplerBackendOptions(samplerFlag(values)), ...(progress ? { onProgress: progress.onProgress } : {}) });
  } catch (err) {
    progress?.done(); // clear a half-drawn terminal line before the error is printed
    throw err;
  }
  const summary = progress?.done();
  if (summary) process.stderr.write(`migm: loaded ${backend.manifest.name} on ${backend.device}: ${summary}\n`);
  if (progress) printWarnings(backend);
  // Default: 4x for small images (the 28 px default bundle), 1x from 256 px up (a 512 px image stays 512 px).
  const scale = scaleFlag ?? Math.max(1, Math.min(4, Math.floor(256 / backend.manifest.image.width)));
  try {
    const spec = runSpec(backend, values, backend.capabilities.velocity ? 'shortcut' : 'vanilla');
    const r = await runOnce(backend, spec, spec.method, quiet);
    await o.writePng(encodePng(await gridOf(backend, r, columns, scale)));
    const c = backend.manifest.condition;
    const cut = c.type === 'text' ? truncationLine(r, c.maxLength) : null;
    if (cut !== null) process.stderr.write(`${cut}\n`);
    o.line(
      `wrote ${o.out === '-' ? 'the PNG to stdout' : o.out}: ${plural(r.batch, 'image')}, ${describeRun(backend, spec, spec.method)} on ${backend.device}`,
    );
    o.line(timingLine(r));
    o.result({ command: 'generate', out: o.out, ...bundleJson(backend), ...runJson(backend, spec, spec.method, r) });
  } finally {
    await backend.dispose();
  }
}
