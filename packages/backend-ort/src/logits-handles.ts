import { checkFloats, MigmError, type DeviceLogits } from '@migm/core/backend';
import { checkLength } from './sessions.js';

/** A backend's `DeviceLogits`: dims, plus where the backend keeps the values (`store`, backend-specific). */
export class LogitsHandle<S> implements DeviceLogits {
  readonly kind = 'logits' as const;
  released = false;
  constructor(
    readonly dims: readonly [rows: number, tokens: number, vocab: number],
    readonly store: S,
  ) {}
}

/** The most rows one logits handle may have (as core's test backend allows). */
export const MAX_LOGITS_ROWS = 8192;

/**
 * The logits handles one backend has handed out: creation checks, ownership (a handle of another backend, or a
 * released one, is refused with INVALID_OPTION / DISPOSED as features are), release and release-all.
 */
export class LogitsHandles<S> {
  readonly #live = new Set<LogitsHandle<S>>();
  constructor(readonly free: (store: S) => void) {}

  get size(): number {
    return this.#live.size;
  }

  create(rows: number, tokens: number, vocab: number, make: (rows: number) => S): LogitsHandle<S> {
    if (!Number.isInteger(rows) || rows < 1 || rows > MAX_LOGITS_ROWS)
      throw new MigmError('INVALID_OPTION', `createLogits: rows must be an integer from 1 to ${MAX_LOGITS_ROWS}, got ${rows}.`);
    const h = new LogitsHandle<S>([rows, tokens, vocab], make(rows));
    this.#live.add(h);
    return h;
  }

  /** The handle behind `value`, which must be a live handle of this backend. */
  own(method: string, value: unknown): LogitsHandle<S> {
    if (value instanceof LogitsHandle && this.#live.has(value as LogitsHandle<S>)) return value as LogitsHandle<S>;
    if (value instanceof LogitsHandle && value.released) throw new MigmError('DISPOSED', `${method}: this logits handle was released and cannot be used.`);
    throw new MigmError('INVALID_OPTION', `${method}: logits must be a Float32Array or a handle from this backend's createLogits().`);
  }

  /** Checks that a call writing `rows` rows fits the handle (a shorter write fills rows 0..rows-1). */
  written(method: string, value: unknown, rows: number): LogitsHandle<S> {
    const h = this.own(method, value);
    if (rows > h.dims[0]) throw new MigmError('INVALID_OPTION', `${method}: the logits handle has ${h.dims[0]} rows, ${rows} are written.`);
    return h;
  }

  release(h: LogitsHandle<S>): void {
    h.released = true;
    this.#live.delete(h);
    this.free(h.store);
  }

  releaseAll(): void {
    for (const h of [...this.#live]) this.release(h);
  }
}

/** True for a logits argument that is a handle (anything not a typed array), which the backend then resolves. */
export function isLogitsHandle(logits: unknown): logits is DeviceLogits {
  return logits !== null && typeof logits === 'object' && !ArrayBuffer.isView(logits) && (logits as { kind?: unknown }).kind === 'logits';
}

/** Checks a host logits buffer of `values` floats (a handle is checked by its backend's `LogitsHandles`). */
export function checkHostLogits(method: string, logits: unknown, values: number): void {
  checkFloats(method, 'logits', logits);
  checkLength(method, 'logits', logits.length, values);
}
