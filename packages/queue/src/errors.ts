/**
 * Stable codes of the queue's own errors (a bad request is core's `MigmError` with `INVALID_OPTION`, raised by
 * core's own option checks before anything is queued).
 * - `QUEUE_FULL`: the queue holds its configured limit of waiting jobs; nothing was queued.
 * - `CONNECTION_LOST`: Redis cannot be reached, or the connection dropped while waiting. Nothing is reported
 *   done unless Redis said so; the job's state is unknown until Redis is back.
 * - `NOT_FOUND`: no job with that id (never submitted, or removed after its result's time to live).
 * - `CANCELLED`: the job was cancelled before it finished.
 * - `JOB_FAILED`: a worker failed the job; `details.cause` holds the worker's error code when it had one.
 * - `TIMEOUT`: `result()` waited longer than its `timeoutMs`; the job may still finish.
 * - `OVER_LIMIT`: the request is valid but over an operator's limit (`QueueLimits`: images, token-steps or
 *   output pixels); nothing was queued. `details` holds `limit`, `value` and `max`.
 * - `INVALID_CONFIG`: an option of the client, worker or server itself is wrong (not a request's).
 *
 * A worker fails a job it cannot run with a reason code the client reports as `JOB_FAILED` with
 * `details.cause`: `MALFORMED_JOB` (its stored data is not a job of this queue: broken JSON, wrong shape),
 * `INVALID_OPTION` or `OVER_LIMIT` (checked again by the worker), `BUNDLE_MISMATCH`.
 */
export type QueueErrorCode = 'QUEUE_FULL' | 'CONNECTION_LOST' | 'NOT_FOUND' | 'CANCELLED' | 'JOB_FAILED' | 'TIMEOUT' | 'OVER_LIMIT' | 'INVALID_CONFIG';

/**
 * A mark every QueueError carries. The package's entries (`/client`, `/http`, `/worker`) are separate CommonJS
 * bundles, each with its own copy of the class; `Symbol.for` is one symbol for all copies, so `instanceof
 * QueueError` and `isQueueError` recognise an error from any entry (as core does for MigmError).
 */
const QUEUE_ERROR_BRAND: unique symbol = Symbol.for('@migm/queue.QueueError') as never;

/** The error class of @migm/queue, shaped like core's `MigmError`: check `error.code`, not the message. */
export class QueueError extends Error {
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    return this === QueueError && typeof value === 'object' && value !== null && (value as { [QUEUE_ERROR_BRAND]?: unknown })[QUEUE_ERROR_BRAND] === true;
  }

  override readonly name = 'QueueError';
  readonly code: QueueErrorCode;
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: QueueErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details;
  }
}

Object.defineProperty(QueueError.prototype, QUEUE_ERROR_BRAND, { value: true });

/** True when `value` is a QueueError (from any entry of the package), optionally with the given code. */
export function isQueueError(value: unknown, code?: QueueErrorCode): value is QueueError {
  return value instanceof QueueError && (code === undefined || value.code === code);
}

/**
 * How a worker's failure travels through Redis: BullMQ keeps only a reason string, so the code leads it in
 * brackets (`[CANCELLED] ...`) and the client turns it back into a typed error.
 */
export function encodeFailure(code: string, message: string): string {
  return `[${code}] ${message}`;
}

/** The client's typed error for a failed job's stored reason. */
export function decodeFailure(id: string, reason: string | undefined): QueueError {
  const m = /^\[([A-Z_]+)\] ([\s\S]*)$/.exec(reason ?? '');
  const code = m?.[1];
  const message = m?.[2] ?? reason ?? 'no reason recorded';
  if (code === 'CANCELLED') return new QueueError('CANCELLED', `Job ${id} was cancelled: ${message}`, { details: { id } });
  return new QueueError('JOB_FAILED', `Job ${id} failed${code ? ` (${code})` : ''}: ${message}`, { details: { id, ...(code ? { cause: code } : {}) } });
}
