import { createHash } from 'node:crypto';
import { checkOptionKeys } from '@migm/core/backend';
import { GENERATE_OPTION_KEYS, resolveOptions } from '@migm/core/sampling';
import { MigmError, type GenerateOptions, type Manifest } from '@migm/core';
import type { PromptTokenizer } from '@migm/core/backend';

/**
 * What a client asks for: the options of core's `generate()` that travel as JSON (no callbacks, signal or
 * streams), plus how the job's images are laid out in its PNG. `batch` is the number of images of this job.
 */
export type GenerationRequest = Omit<GenerateOptions, 'signal' | 'onStep' | 'onFeature' | 'streams' | 'memoryLimit'> & {
  /** Images per row of the job's PNG grid. Default: ceil(sqrt(batch)). */
  readonly columns?: number;
  /** Pixel upscale of the PNG, 1-32. Default 1. */
  readonly scale?: number;
};

/** A request as queued: validated, JSON, with its seed fixed (so a redelivered job gives the same images). */
export type QueuedRequest = GenerationRequest & { readonly seed: number };

/** What a job holds in Redis. */
export interface JobData {
  readonly request: QueuedRequest;
  /** The bundle id the client validated the request against. */
  readonly bundle: string;
}

const LAYOUT_KEYS = ['columns', 'scale'] as const;
/** Options a worker supplies itself: per-call machinery, never part of a request. */
const WORKER_KEYS: readonly string[] = ['signal', 'onStep', 'onFeature', 'streams', 'memoryLimit'];
/** Every key a request may hold. */
export const REQUEST_KEYS: readonly string[] = [...GENERATE_OPTION_KEYS.filter((k) => !WORKER_KEYS.includes(k)), ...LAYOUT_KEYS];
/**
 * Keys that differ between jobs a worker may still run in one generate() call: classes and prompts are per
 * image in core (each distinct prompt is encoded once per call), so jobs with other prompts share a call.
 */
const PER_JOB_KEYS: readonly string[] = ['condition', 'prompt', 'negativePrompt', 'batch', 'seed', ...LAYOUT_KEYS];

/** JSON with object keys sorted, so equal requests hash equally whatever order their keys were written in. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * The identity of a bundle: sha256 of its manifest as canonical JSON. The manifest lists every file's sha256,
 * so this pins the weights; client and worker compute it the same way from the manifest alone.
 */
export function bundleId(manifest: Manifest): string {
  return sha256(canonicalJson(manifest));
}

/** Images in a request. */
export function imageCount(request: GenerationRequest): number {
  return request.batch ?? (Array.isArray(request.condition) ? request.condition.length : Array.isArray(request.prompt) ? request.prompt.length : 1);
}

/** The class of each image of a request (null: unconditional). */
export function imageConditions(request: GenerationRequest): (number | null)[] {
  const n = imageCount(request);
  const c = request.condition ?? null;
  return Array.isArray(c) ? [...(c as readonly (number | null)[])] : Array.from({ length: n }, () => c as number | null);
}

/**
 * The prompt and the negative prompt of each image of a text request (`defaultNegative`: the bundle's
 * `condition.negativePrompt`, for a request that gives none). `request` must have passed `validateRequest`.
 */
export function imagePrompts(request: GenerationRequest, defaultNegative: string): { prompts: string[]; negatives: string[] } {
  const n = imageCount(request);
  const each = (v: string | readonly string[] | undefined, fallback: string) =>
    Array.isArray(v) ? [...(v as readonly string[])] : Array.from({ length: n }, () => (v as string | undefined) ?? fallback);
  return { prompts: each(request.prompt, ''), negatives: each(request.negativePrompt, defaultNegative) };
}

function checkInt(name: string, value: unknown, min: number, max: number): void {
  if (value !== undefined && (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)) {
    throw new MigmError('INVALID_OPTION', `Invalid option '${name}': got ${JSON.stringify(value)}; an integer from ${min} to ${max} is allowed.`, {
      details: { option: name, value },
    });
  }
}

/**
 * Checks a request the way the worker will see it (after a JSON round trip) with core's own option checks for
 * this bundle (its memory estimate against `memoryLimit` when given, else core's default), and fixes its seed.
 * Throws core's `MigmError` (`INVALID_OPTION`, or `UNSUPPORTED` for a method the bundle cannot run); nothing
 * that fails here is ever queued. A text-conditioned bundle's prompts are tokenized with `tokenizer` (the
 * bundle's own, as the worker's backend has it); without one such a request is `UNSUPPORTED`.
 */
export function validateRequest(
  request: GenerationRequest,
  manifest: Manifest,
  hasShortcut: boolean,
  memoryLimit?: number,
  tokenizer?: PromptTokenizer,
): QueuedRequest {
  if (request === null || typeof request !== 'object' || Array.isArray(request)) {
    throw new MigmError('INVALID_OPTION', `Invalid request: got ${request === null ? 'null' : typeof request}; an object of generate() options is allowed.`);
  }
  const given = checkOptionKeys(request, REQUEST_KEYS, 'queue request', ['condition']);
  checkInt('scale', given.scale, 1, 32);
  checkInt('columns', given.columns, 1, 4096);
  // What a worker receives is JSON: validate that, not the caller's object (NaN would arrive as null).
  const json = JSON.parse(JSON.stringify({ ...given, seed: given.seed ?? Math.floor(Math.random() * 2 ** 32) })) as QueuedRequest;
  const { columns: _c, scale: _s, ...options } = json;
  // memoryLimit: core's own estimate of the call's memory, held to the operator's bound (QueueLimits.maxMemoryBytes).
  const resolved = resolveOptions(memoryLimit === undefined ? options : { ...options, memoryLimit }, manifest, hasShortcut, tokenizer);
  // One name per method: a legacy name ('learned') and the one name ('shortcut') are the same job.
  return json.predictor === undefined ? json : { ...json, predictor: resolved.predictor };
}

/**
 * The deterministic job id of a request on a bundle: sha256 of the bundle id and the canonical request, seed
 * included. The same request submitted twice is one job.
 */
export function requestJobId(bundle: string, request: QueuedRequest): string {
  return `migm-${sha256(canonicalJson({ bundle, request }))}`;
}

/**
 * Jobs with equal keys differ only in classes, image counts, seeds and layout: one generate() call can hold them.
 * A job with `refresh: 'adaptive'` runs alone: its full steps follow a signal averaged over the whole batch, so
 * batch-mates would change its pictures (every other option acts per image, or per step alike for all).
 */
export function compatibilityKey(request: QueuedRequest): string {
  if (request.refresh === 'adaptive') return canonicalJson({ alone: request });
  return canonicalJson(Object.fromEntries(Object.entries(request).filter(([k]) => !PER_JOB_KEYS.includes(k))));
}

/**
 * The generate() options of several compatible requests in one call: per-image classes (class bundles) or
 * prompts and negative prompts (text bundles, whose manifest's default negative prompt fills in for a job that
 * gives none), and seed streams.
 */
export function batchedOptions(requests: readonly QueuedRequest[], manifest: Manifest): GenerateOptions {
  const first = requests[0]!;
  const shared = Object.fromEntries(Object.entries(first).filter(([k]) => !PER_JOB_KEYS.includes(k)));
  const streams = requests.flatMap((r) => Array.from({ length: imageCount(r) }, (_, i) => [r.seed, i] as const));
  const c = manifest.condition;
  if (c.type === 'text') {
    const each = requests.map((r) => imagePrompts(r, c.negativePrompt));
    const prompt = each.flatMap((e) => e.prompts);
    return { ...shared, prompt, negativePrompt: each.flatMap((e) => e.negatives), batch: prompt.length, streams };
  }
  const condition = requests.flatMap(imageConditions);
  return { ...shared, condition, batch: condition.length, streams };
}
