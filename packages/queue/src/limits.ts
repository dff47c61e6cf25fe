import { DEFAULT_MEMORY_LIMIT, isMigmError, type Manifest } from '@migm/core';
import type { PromptTokenizer } from '@migm/core/backend';
import { QueueError } from './errors.js';
import { imageCount, validateRequest, type GenerationRequest, type QueuedRequest } from './request.js';

/**
 * What one request may ask of a worker. The client checks them before a job is queued and every worker checks
 * them again before it allocates anything, so a job written straight into Redis is held to the same bounds.
 * Give workers and clients the same limits (a worker refuses, with `OVER_LIMIT`, a job its clients accepted).
 */
export interface QueueLimits {
  /** Most images in one request. Default 1024 (`MAX_IMAGES`, the CLI's `--count` range too). */
  readonly maxImages?: number;
  /**
   * Most work in one request, in token-steps: images x steps x tokens per image (the bundle's `tokens.count`).
   * Default 1,048,576: on the default bundle (196 tokens) 334 images of 16 steps or 27 images of all 196
   * steps; about a minute and a half of one 2-core worker in the worst case measured (see docs/queue.md).
   */
  readonly maxCost?: number;
  /** Most pixels in one request's PNG grid (width x height after `columns` and `scale`). Default 4,194,304 (2048 x 2048). */
  readonly maxPixels?: number;
  /**
   * Most memory one request's generate() call may need by core's estimate (`estimateRunBytes`), bytes.
   * Default 4 GiB, core's own `memoryLimit` default, so the queue and `generate()` refuse the same batches
   * (on the default bundle: 496 images with guidance, measured 2.65 GB of worker memory).
   */
  readonly maxMemoryBytes?: number;
  /**
   * Longest `prompt` or `negativePrompt` string (each one, in UTF-16 code units), text-conditioned bundles only.
   * Default 2,000: CLIP reads 77 tokens (a few hundred characters) and truncates the rest, so this bounds what a
   * job stores in Redis and what a worker tokenizes, far below core's own bound (`MAX_PROMPT_CHARS`, 100,000).
   */
  readonly maxPromptChars?: number;
}

/** The largest image count of one request anywhere in migm's tools: `migm generate --count`, `migm submit --count`, the queue. */
export const MAX_IMAGES = 1024;

/** The limits used where none are given. */
export const DEFAULT_LIMITS: Required<QueueLimits> = Object.freeze({
  maxImages: MAX_IMAGES,
  maxCost: 1_048_576,
  maxPixels: 4_194_304,
  maxMemoryBytes: DEFAULT_MEMORY_LIMIT,
  maxPromptChars: 2000,
});

/** Pixels between images in the PNG grid (tileImages' default, which the worker uses). */
const PADDING = 2;

/** Checks and fills in limits given by an operator; throws core-style `INVALID_OPTION` on a bad value. */
export function resolveLimits(given: QueueLimits | undefined, where: string): Required<QueueLimits> {
  const out = { ...DEFAULT_LIMITS };
  if (given === undefined) return out;
  if (given === null || typeof given !== 'object') throw new QueueError('INVALID_CONFIG', `${where}: 'limits' must be an object, got ${String(given)}.`);
  for (const [key, value] of Object.entries(given)) {
    if (!(key in DEFAULT_LIMITS))
      throw new QueueError('INVALID_CONFIG', `${where}: unknown limit '${key}' (allowed: ${Object.keys(DEFAULT_LIMITS).join(', ')}).`);
    if (value === undefined) continue;
    const min = key === 'maxMemoryBytes' ? 1024 ** 2 : 1;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
      throw new QueueError('INVALID_CONFIG', `${where}: limit '${key}' must be an integer >= ${min}, got ${JSON.stringify(value)}.`);
    }
    out[key as keyof QueueLimits] = value;
  }
  return out;
}

/** What a request costs: its images, token-steps and output size. `request` must have passed `validateRequest`. */
export function requestCost(
  request: QueuedRequest,
  manifest: Manifest,
): { images: number; steps: number; cost: number; width: number; height: number; pixels: number } {
  const images = imageCount(request);
  const steps = request.steps ?? manifest.sampling.steps;
  const cost = images * steps * manifest.tokens.count;
  const scale = request.scale ?? 1;
  const columns = request.columns ?? Math.ceil(Math.sqrt(images));
  const rows = Math.ceil(images / columns);
  const width = columns * manifest.image.width * scale + (columns + 1) * PADDING;
  const height = rows * manifest.image.height * scale + (rows + 1) * PADDING;
  return { images, steps, cost, width, height, pixels: width * height };
}

/** Refuses a validated request that is over a limit, with `OVER_LIMIT` naming the limit, the value and what fits. */
export function checkLimits(request: QueuedRequest, manifest: Manifest, limits: Required<QueueLimits>): void {
  const c = requestCost(request, manifest);
  const over = (limit: keyof QueueLimits, value: number, what: string): never => {
    throw new QueueError('OVER_LIMIT', `The request is over the limit '${limit}' of ${limits[limit].toLocaleString('en-US')}: ${what}. Nothing was queued.`, {
      details: { limit, value, max: limits[limit] },
    });
  };
  if (c.images > limits.maxImages) over('maxImages', c.images, `it asks for ${c.images} images`);
  if (c.cost > limits.maxCost) {
    const fits = Math.max(0, Math.floor(limits.maxCost / (c.steps * manifest.tokens.count)));
    over(
      'maxCost',
      c.cost,
      `${c.images} images x ${c.steps} steps x ${manifest.tokens.count} tokens = ${c.cost.toLocaleString('en-US')} token-steps; at ${c.steps} steps at most ${fits} images fit`,
    );
  }
  if (c.pixels > limits.maxPixels)
    over('maxPixels', c.pixels, `its PNG would be ${c.width} x ${c.height} pixels (columns ${request.columns ?? 'default'}, scale ${request.scale ?? 1})`);
}

/**
 * Refuses a prompt string over `maxPromptChars` with `OVER_LIMIT` (before anything tokenizes it). Only strings
 * are measured: a prompt of the wrong type, or one sent to a class bundle, is left to core's checks, which name it.
 */
function checkPromptLengths(request: GenerationRequest, manifest: Manifest, limits: Required<QueueLimits>): void {
  const c = manifest.condition;
  if (c.type !== 'text' || request === null || typeof request !== 'object') return;
  for (const option of ['prompt', 'negativePrompt'] as const) {
    const value = (request as Record<string, unknown>)[option];
    const list: unknown[] = Array.isArray(value) ? value : [value];
    list.forEach((p, i) => {
      if (typeof p !== 'string' || p.length <= limits.maxPromptChars) return;
      const name = Array.isArray(value) ? `${option}[${i}]` : option;
      throw new QueueError(
        'OVER_LIMIT',
        `The request is over the limit 'maxPromptChars' of ${limits.maxPromptChars.toLocaleString('en-US')}: '${name}' has ${p.length.toLocaleString('en-US')} characters (the bundle's tokenizer reads ${c.maxLength} tokens). Nothing was queued.`,
        { details: { limit: 'maxPromptChars', value: p.length, max: limits.maxPromptChars, option: name } },
      );
    });
  }
}

/**
 * `validateRequest` and `checkLimits` in one: what the client runs before queueing and every worker runs again
 * before allocating. Core's memory refusal under `maxMemoryBytes` becomes `OVER_LIMIT` like the other limits.
 * `tokenizer`: the bundle's prompt tokenizer (text-conditioned bundles; core tokenizes every prompt with it).
 */
export function checkRequest(
  request: GenerationRequest,
  manifest: Manifest,
  hasShortcut: boolean,
  limits: Required<QueueLimits>,
  tokenizer?: PromptTokenizer,
): QueuedRequest {
  // The count first: core's memory check would otherwise answer for a batch that is simply too many images.
  const n = request !== null && typeof request === 'object' ? (request as { batch?: unknown }).batch : undefined;
  if (typeof n === 'number' && n > limits.maxImages) {
    throw new QueueError('OVER_LIMIT', `The request is over the limit 'maxImages' of ${limits.maxImages}: it asks for ${n} images. Nothing was queued.`, {
      details: { limit: 'maxImages', value: n, max: limits.maxImages },
    });
  }
  checkPromptLengths(request, manifest, limits);
  let queued: QueuedRequest;
  try {
    queued = validateRequest(request, manifest, hasShortcut, limits.maxMemoryBytes, tokenizer);
  } catch (err) {
    const d = isMigmError(err) ? err.details : undefined;
    if (d?.['estimateBytes'] === undefined || d['memoryLimit'] !== limits.maxMemoryBytes) throw err;
    throw new QueueError(
      'OVER_LIMIT',
      `The request is over the limit 'maxMemoryBytes' of ${limits.maxMemoryBytes.toLocaleString('en-US')}: ${String(d['value'])} images need an estimated ${Number(d['estimateBytes']).toLocaleString('en-US')} bytes; at most ${String(d['maxBatch'])} fit. Nothing was queued.`,
      { details: { limit: 'maxMemoryBytes', value: d['estimateBytes'], max: limits.maxMemoryBytes, maxImages: d['maxBatch'] } },
    );
  }
  checkLimits(queued, manifest, limits);
  return queued;
}
