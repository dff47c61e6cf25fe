import { MigmError } from '../errors.js';
import type { Backend, BackendCapabilities } from './types.js';

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
    throw new MigmError('INVALID_OPTION', `${method}: ${what} must be an Int32Array, got ${ids === null ? 'null' : typeof ids === 'object' ? (ids.constructor?.name ?? 'an object') : typeof ids}.`);
  }
  for (let i = 0; i < ids.length; i++) {
    const v = ids[i]!;
    if (v < 0 || v > max) {
      throw new MigmError('INVALID_OPTION', `${method}: ${what}[${i}] is ${v}; ids from 0 to ${max} are allowed.`, { details: { method, what, index: i, value: v, max } });
    }
  }
}

/** Checks that a buffer a backend writes into or reads from is a Float32Array (INVALID_OPTION otherwise). */
export function checkFloats(method: string, what: string, values: unknown): asserts values is Float32Array {
  if (!(values instanceof Float32Array)) {
    throw new MigmError('INVALID_OPTION', `${method}: ${what} must be a Float32Array, got ${values === null ? 'null' : typeof values === 'object' ? (values.constructor?.name ?? 'an object') : typeof values}.`);
  }
}

/** Checks that a backend method's argument object (ForwardInput, VelocityControl) is an object. */
export function checkObject(method: string, what: string, value: unknown): asserts value is object {
  if (value === null || typeof value !== 'object') throw new MigmError('INVALID_OPTION', `${method}: ${what} must be an object, got ${value === null ? 'null' : typeof value}.`);
}

/**
 * Checks that a backend states each optional capability once and consistently: `capabilities.velocity` and
 * `capabilities.guidedHead` are true exactly when the `velocity()` / `guidedHead()` methods exist. A wrapper that
 * copies the flags but not the methods would otherwise lose the capability silently. Throws `INVALID_OPTION`
 * naming the disagreement; returns the capabilities.
 */
export function checkCapabilities(backend: Backend): BackendCapabilities {
  const caps = backend.capabilities;
  if (caps === null || typeof caps !== 'object') throw new MigmError('INVALID_OPTION', `Backend ${backend.name}: capabilities must be an object.`);
  for (const name of ['velocity', 'guidedHead'] as const) {
    const flag = caps[name] === true;
    const method = typeof backend[name] === 'function';
    if (flag !== method) {
      throw new MigmError(
        'INVALID_OPTION',
        `Backend ${backend.name} ${flag ? `claims capabilities.${name} but has no ${name}() method` : `has a ${name}() method but capabilities.${name} is not true`}; state each capability once (a wrapper must forward the method with the flag).`,
        { details: { capability: name, flag, method } },
      );
    }
  }
  return caps;
}
