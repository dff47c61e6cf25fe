import type { AbortSignalLike } from './clock.js';

/**
 * Stable error codes. Code is the contract; messages may be reworded.
 * - `INVALID_OPTION`: an argument is out of range or of the wrong type.
 * - `INVALID_MANIFEST`: a bundle manifest fails its JSON Schema or a cross-field rule.
 * - `BUNDLE_MISMATCH`: bundle files disagree with the manifest (missing, size, sha256, graph shapes) or two
 *   models do not belong together (e.g. a shortcut trained for another base model).
 * - `ABORTED`: the caller's AbortSignal fired.
 * - `BACKEND_FAILURE`: the runtime under a backend failed (session creation, inference).
 * - `UNSUPPORTED`: a capability is not available here (a device, a graph the bundle lacks).
 * - `DISPOSED`: a backend or tensor was used after `dispose()`/`release()`.
 */
export type MigmErrorCode = 'INVALID_OPTION' | 'INVALID_MANIFEST' | 'BUNDLE_MISMATCH' | 'ABORTED' | 'BACKEND_FAILURE' | 'UNSUPPORTED' | 'DISPOSED';

/**
 * Marks every MigmError, whichever copy of this module made it. A package is often loaded twice in one process
 * (its ESM and CJS builds, or two installed versions), and each copy has its own class, so `instanceof` alone
 * would miss errors thrown by the other copy. `Symbol.for` is shared by all copies in a realm.
 */
const MIGM_ERROR_BRAND: unique symbol = Symbol.for('@migm/core.MigmError') as never;

/**
 * The one error class of migm. Check `error.code`, not the message. `instanceof MigmError` and
 * {@link isMigmError} also recognise errors made by another copy of `@migm/core` (its CJS build, another version).
 */
export class MigmError extends Error {
  /** True for a MigmError of this copy or of any other copy of `@migm/core` (the CJS and ESM builds are two copies). */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    // Only the base class trusts the brand: a subclass's instanceof stays a prototype-chain check.
    return this === MigmError && hasBrand(value);
  }

  override readonly name = 'MigmError';
  readonly code: MigmErrorCode;
  /** Extra machine-readable context (the offending option, file, expected/actual values). */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: MigmErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details;
  }
}
Object.defineProperty(MigmError.prototype, MIGM_ERROR_BRAND, { value: true });

function hasBrand(value: unknown): value is MigmError {
  return typeof value === 'object' && value !== null && (value as { [MIGM_ERROR_BRAND]?: unknown })[MIGM_ERROR_BRAND] === true;
}

/**
 * True when `value` is a MigmError, optionally with the given code. Works across copies of `@migm/core` (an error
 * from the CJS build checked with the ESM build's `isMigmError`, and the other way round).
 */
export function isMigmError(value: unknown, code?: MigmErrorCode): value is MigmError {
  return hasBrand(value) && (code === undefined || value.code === code);
}

/** Shorthand for an `INVALID_OPTION` error naming the option, the bad value and what is allowed. */
export function invalidOption(option: string, value: unknown, allowed: string): MigmError {
  return new MigmError('INVALID_OPTION', `Invalid option '${option}': got ${describe(value)}; ${allowed}.`, {
    details: { option, value },
  });
}

/** Short printable form of any value for error messages. */
export function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' || value == null) {
    return String(value);
  }
  if (Array.isArray(value)) return value.length > 8 ? `an array of length ${value.length}` : JSON.stringify(value);
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  return `a ${typeof value}`;
}

/** Throws ABORTED if the signal fired. */
export function throwIfAborted(signal: AbortSignalLike | undefined): void {
  if (signal?.aborted) {
    throw new MigmError('ABORTED', 'Generation was aborted by its AbortSignal.', { cause: signal.reason });
  }
}
