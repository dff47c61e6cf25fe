import type { PromptTokenizer } from '../backend/types.js';
import { invalidOption, MigmError } from '../errors.js';
import type { Manifest, TextCondition } from '../manifest/types.js';

/** What one distinct prompt of a run became (the result's `text.prompts`). */
export interface PromptReport {
  readonly prompt: string;
  /** Tokens it needed with its start and end tokens, before truncation. */
  readonly length: number;
  /** Longer than the bundle's `maxLength` tokens: cut as the tokenizer does (CLIP keeps the end token). */
  readonly truncated: boolean;
}

/** The prompts of a text-conditioned run, tokenized: data the loop hands to `encodeText` and `forward`. */
export interface ResolvedText {
  /** Distinct prompts, in first-use order: the images' prompts, then the negative prompts. */
  readonly prompts: readonly PromptReport[];
  /** [prompts.length, maxLength] token ids. */
  readonly ids: Int32Array;
  /** [2B]: rows 0..B-1 use prompt `index[b]`, guidance rows B..2B-1 the negative prompt `index[B + b]`. */
  readonly index: Int32Array;
  /** [2B, M]: every row's micro-conditioning (M = 0 when the bundle has none). */
  readonly microConds: Float32Array;
  readonly microCount: number;
}

/** The resolved condition: class ids (class bundles) or tokenized prompts (text bundles). */
export type ResolvedCondition =
  | { readonly type: 'class'; readonly batch: number; readonly classes: Int32Array; readonly anyConditional: boolean }
  | {
      readonly type: 'text';
      readonly batch: number;
      /** The prompt and the negative prompt of each image. */
      readonly prompts: readonly string[];
      readonly negatives: readonly string[];
      /** The micro-conditioning values of every row (empty when the bundle has none). */
      readonly micro: readonly number[];
      readonly tokenizer: PromptTokenizer;
    };

/** The condition fields of `GenerateOptions`. */
export interface ConditionOptions {
  readonly condition?: unknown;
  readonly prompt?: unknown;
  readonly negativePrompt?: unknown;
  readonly microConditioning?: unknown;
  readonly batch?: unknown;
}

const MAX_BATCH = 4096;

/** Longest prompt string accepted, in UTF-16 units: far beyond any tokenizer's maxLength, and a bound on work. */
export const MAX_PROMPT_CHARS = 100_000;

/**
 * Resolves `condition` (class bundles) or `prompt` / `negativePrompt` / `microConditioning` (text bundles) and
 * the batch. A class option on a text bundle, a prompt on a class bundle, or a prompt that is not a string is
 * `INVALID_OPTION`; a text bundle on a backend without a tokenizer is `UNSUPPORTED`.
 */
export function resolveCondition(options: ConditionOptions, manifest: Manifest, tokenizer: PromptTokenizer | undefined): ResolvedCondition {
  const c = manifest.condition;
  if (c.type === 'class') {
    for (const key of ['prompt', 'negativePrompt', 'microConditioning'] as const) {
      if (options[key] !== undefined)
        throw invalidOption(key, options[key], `this bundle (${manifest.name}) is conditioned on a class id: give 'condition' (a class id), not a prompt`);
    }
    return resolveClasses(options, c.numClasses, c.nullClassId, c.classNames);
  }
  if (options.condition !== undefined)
    throw invalidOption(
      'condition',
      options.condition,
      `this bundle (${manifest.name}) is conditioned on text: give 'prompt' (a string, or one per image), not a class id`,
    );
  const prompt = options.prompt;
  if (prompt === undefined)
    throw invalidOption('prompt', prompt, `this bundle (${manifest.name}) is conditioned on text: a prompt string (or one per image) is required`);
  const list = Array.isArray(prompt) ? (prompt as readonly unknown[]) : null;
  const batch = resolveBatch(options.batch, list ? list.length : 1);
  const prompts = perImage('prompt', prompt, batch, 'a prompt');
  const negatives =
    options.negativePrompt === undefined
      ? new Array<string>(batch).fill(c.negativePrompt)
      : perImage('negativePrompt', options.negativePrompt, batch, 'a negative prompt');

  const M = c.microConditioning?.names.length ?? 0;
  let micro: readonly number[] = c.microConditioning?.default ?? [];
  if (options.microConditioning !== undefined) {
    const given = options.microConditioning;
    if (M === 0) throw invalidOption('microConditioning', given, `this bundle's base model takes no micro-conditioning`);
    if (!Array.isArray(given) || given.length !== M || !given.every((v) => typeof v === 'number' && Number.isFinite(v)))
      throw invalidOption('microConditioning', given, `${M} finite numbers (${c.microConditioning!.names.join(', ')}) are allowed`);
    micro = given as number[];
  }
  if (tokenizer === undefined)
    throw new MigmError('UNSUPPORTED', `This backend has no tokenizer for the text-conditioned bundle ${manifest.name} (capabilities.text).`, {
      details: { option: 'prompt' },
    });
  return { type: 'text', batch, prompts, negatives, micro, tokenizer };
}

/**
 * Tokenizes a text run's prompts: each distinct prompt once (the images' prompts, then, when the run is guided,
 * the negative prompts), into the ids `encodeText` takes and each row's index into them.
 */
export function tokenizePrompts(c: Extract<ResolvedCondition, { type: 'text' }>, manifest: Manifest, guided: boolean): ResolvedText {
  const T = (manifest.condition as TextCondition).maxLength;
  const B = c.batch;
  const M = c.micro.length;
  const distinct = new Map<string, number>();
  const reports: PromptReport[] = [];
  const encoded: Int32Array[] = [];
  const index = new Int32Array(2 * B);
  // Without guidance no row uses a negative prompt: it is not tokenized or encoded.
  const all = guided ? [...c.prompts, ...c.negatives] : c.prompts;
  for (let r = 0; r < all.length; r++) {
    const p = all[r]!;
    let at = distinct.get(p);
    if (at === undefined) {
      const t = c.tokenizer.encode(p);
      if (!(t.ids instanceof Int32Array) || t.ids.length !== T)
        throw new MigmError('BACKEND_FAILURE', `The tokenizer gave ${t.ids?.length} ids for a prompt; the bundle's maxLength is ${T}.`);
      at = reports.length;
      distinct.set(p, at);
      reports.push({ prompt: p, length: t.length, truncated: t.truncated });
      encoded.push(t.ids);
    }
    index[r] = at;
  }
  const ids = new Int32Array(reports.length * T);
  encoded.forEach((e, i) => ids.set(e, i * T));
  const microConds = new Float32Array(2 * B * M);
  for (let r = 0; r < 2 * B; r++) microConds.set(c.micro, r * M);
  return { prompts: reports, ids, index, microConds, microCount: M };
}

function resolveBatch(given: unknown, fallback: number): number {
  const batch = given ?? fallback;
  if (typeof batch !== 'number' || !Number.isInteger(batch) || batch < 1 || batch > MAX_BATCH)
    throw invalidOption('batch', batch, `an integer from 1 to ${MAX_BATCH} is allowed`);
  return batch;
}

/** One string per image from a string or an array of `batch` strings. */
function perImage(option: string, value: unknown, batch: number, what: string): string[] {
  if (typeof value === 'string') return new Array<string>(batch).fill(checkPrompt(option, value, what));
  if (!Array.isArray(value)) throw invalidOption(option, value, `${what} string, or an array of one per image, is allowed`);
  if (value.length !== batch) throw invalidOption(option, value, `one ${what.replace(/^an? /, '')} per image is required (batch is ${batch})`);
  return value.map((v: unknown, b) => checkPrompt(`${option}[${b}]`, v, what));
}

function checkPrompt(option: string, value: unknown, what: string): string {
  if (typeof value !== 'string') throw invalidOption(option, value, `${what} must be a string`);
  if (value.length > MAX_PROMPT_CHARS)
    throw invalidOption(option, `a string of ${value.length} characters`, `at most ${MAX_PROMPT_CHARS} characters are allowed`);
  return value;
}

function resolveClasses(options: ConditionOptions, numClasses: number, nullClassId: number, classNames: readonly string[]): ResolvedCondition {
  const condition = options.condition ?? null;
  const conditionList = Array.isArray(condition) ? (condition as readonly (number | null)[]) : null;
  const batch = resolveBatch(options.batch, conditionList ? conditionList.length : 1);
  if (conditionList && conditionList.length !== batch) {
    throw invalidOption('condition', condition, `one class per image is required (batch is ${batch})`);
  }
  const classes = new Int32Array(batch);
  let anyConditional = false;
  for (let b = 0; b < batch; b++) {
    const c = conditionList ? conditionList[b] : (condition as unknown);
    if (c === null || c === undefined) classes[b] = nullClassId;
    else if (typeof c === 'number' && Number.isInteger(c) && c >= 0 && c < numClasses) {
      classes[b] = c;
      anyConditional = true;
    } else {
      throw invalidOption(
        conditionList ? `condition[${b}]` : 'condition',
        c,
        `a class id from 0 to ${numClasses - 1} (${classNames.join(', ')}) or null is allowed`,
      );
    }
  }
  return { type: 'class', batch, classes, anyConditional };
}
