import { MigmError } from '../errors.js';

/**
 * Checks an id array a backend is handed (tokens, classes, positions): an Int32Array whose every value lies in
 * 0..max. Throws `INVALID_OPTION` naming the method, the array, the first bad value and its index. A model fed
 * an id outside its embedding table reads garbage or crashes; a decoder fed one paints an image anyway.
 *
 * @example
 * checkIds('decode', 'tokens', tokens, manifest.tokens.codebookSize - 1);
 */
export function checkIds(method: string, what: string, ids: unknown, max: number): asserts ids is Int32Array {
  if (!(ids instanceof Int32Array)) {
    throw new MigmError(
      'INVALID_OPTION',
      `${method}: ${what} must be an Int32Array, got ${ids === null ? 'null' : typeof ids === 'object' ? (ids.constructor?.name ?? 'an object') : typeof ids}.`,
    );
  }
  for (let i = 0; i < ids.length; i++) {
    const v = ids[i]!;
    if (v < 0 || v > max) {
      throw new MigmError('INVALID_OPTION', `${method}: ${what}[${i}] is ${v}; ids from 0 to ${max} are allowed.`, {
        details: { method, what, index: i, value: v, max },
      });
    }
  }
}

/** Checks that a buffer a backend writes into or reads from is a Float32Array (INVALID_OPTION otherwise). */
export function checkFloats(method: string, what: string, values: unknown): asserts values is Float32Array {
  if (!(values instanceof Float32Array)) {
    throw new MigmError(
      'INVALID_OPTION',
      `${method}: ${what} must be a Float32Array, got ${values === null ? 'null' : typeof values === 'object' ? (values.constructor?.name ?? 'an object') : typeof values}.`,
    );
  }
}

/** Checks that a backend method's argument object (ForwardInput, VelocityControl) is an object. */
export function checkObject(method: string, what: string, value: unknown): asserts value is object {
  if (value === null || typeof value !== 'object')
    throw new MigmError('INVALID_OPTION', `${method}: ${what} must be an object, got ${value === null ? 'null' : typeof value}.`);
}
