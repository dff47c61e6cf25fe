import { UsageError } from '../errors.js';

/** Flags every queue command takes. */
export const queueFlags = {
  redis: { type: 'string' },
  queue: { type: 'string' },
  bundle: { type: 'string' },
} as const;

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
