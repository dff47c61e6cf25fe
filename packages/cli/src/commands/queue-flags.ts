import { intFlag } from '../args.js';
import { UsageError } from '../errors.js';

/** Flags every queue command takes. */
export const queueFlags = {
  redis: { type: 'string' },
  queue: { type: 'string' },
  bundle: { type: 'string' },
} as const;

/** The work limits of serve and worker (QueueLimits): give both the same ones. */
export const limitFlags = {
  'max-images': { type: 'string' },
  'max-cost': { type: 'string' },
  'max-pixels': { type: 'string' },
  'max-memory-mb': { type: 'string' },
  'max-prompt-chars': { type: 'string' },
} as const;

/** The QueueLimits the flags set; the queue's defaults for the others. */
export function limitsFrom(values: { [K in keyof typeof limitFlags]?: string | undefined }): {
  maxImages?: number;
  maxCost?: number;
  maxPixels?: number;
  maxMemoryBytes?: number;
  maxPromptChars?: number;
} {
  const limits: { maxImages?: number; maxCost?: number; maxPixels?: number; maxMemoryBytes?: number; maxPromptChars?: number } = {};
  const images = intFlag('max-images', values['max-images'], undefined, 1, 4096);
  const cost = intFlag('max-cost', values['max-cost'], undefined, 1, Number.MAX_SAFE_INTEGER);
  const pixels = intFlag('max-pixels', values['max-pixels'], undefined, 1, Number.MAX_SAFE_INTEGER);
  const memory = intFlag('max-memory-mb', values['max-memory-mb'], undefined, 1, 1024 * 1024);
  if (images !== undefined) limits.maxImages = images;
  if (cost !== undefined) limits.maxCost = cost;
  if (pixels !== undefined) limits.maxPixels = pixels;
  const promptChars = intFlag('max-prompt-chars', values['max-prompt-chars'], undefined, 1, 100_000);
  if (memory !== undefined) limits.maxMemoryBytes = memory * 1024 * 1024;
  if (promptChars !== undefined) limits.maxPromptChars = promptChars;
  return limits;
}

/** A job id argument: the first argument, shaped like the ids the queue hands out. */
export function jobIdArg(argv: string[], command: string): [string, string[]] {
  const [id, ...rest] = argv;
  if (id === undefined || id.startsWith('-')) throw new UsageError(`the job id comes first: migm ${command} ID --redis URL`);
  if (!/^migm-[0-9a-f]{64}$/.test(id)) throw new UsageError(`'${id.slice(0, 80)}' is not a job id (migm submit prints them: migm- and 64 hex digits)`);
  return [id, rest];
}

/** --redis: required, a redis:// or rediss:// URL. */
export function redisFlag(value: string | undefined): string {
  if (value === undefined) throw new UsageError('--redis is required: the Redis URL the queue lives on, e.g. redis://127.0.0.1:6379');
  if (!/^rediss?:\/\/[^\s]+$/.test(value)) throw new UsageError(`--redis must be a redis:// or rediss:// URL, got '${value}'`);
  return value;
}

/** --queue: the queue name (BullMQ refuses ':' in names). */
export function queueFlag(value: string | undefined): string {
  if (value === undefined) return 'migm';
  if (!/^[A-Za-z0-9_.-]{1,100}$/.test(value)) throw new UsageError(`--queue must be 1-100 letters, digits, '_', '.' or '-', got '${value}'`);
  return value;
}

/** Resolves when the process is asked to stop (SIGTERM or Ctrl-C). */
export function stopSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (signal: string) => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      resolve(signal);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}
