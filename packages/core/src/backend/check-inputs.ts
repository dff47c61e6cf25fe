import type { ForwardInput, TextRows } from './types.js';
import type { Manifest } from '../manifest/types.js';
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

/**
 * Checks the condition of a forward() input against the bundle's condition type, so every backend refuses a
 * mismatch the same way (`INVALID_OPTION`): a class bundle takes `classes` [rows] (ids up to the null class) and
 * no `text`; a text bundle takes `text` (a handle, `index` [rows] into it, `microConds` [rows, M]) and no
 * `classes`. The handle itself is checked by the backend that owns it.
 */
export function checkForwardCondition(manifest: Manifest, input: ForwardInput): void {
  const { rows } = input;
  const c = manifest.condition;
  if (c.type === 'class') {
    if (input.text !== undefined) throw new MigmError('INVALID_OPTION', 'forward: input.text was given, but this bundle is conditioned on a class id.');
    checkIds('forward', 'classes', input.classes, c.nullClassId);
    if (input.classes.length !== rows) throw new MigmError('INVALID_OPTION', `forward: classes has ${input.classes.length} values, expected ${rows}.`);
    return;
  }
  if (input.classes !== undefined) throw new MigmError('INVALID_OPTION', 'forward: input.classes was given, but this bundle is conditioned on text.');
  const text = input.text as unknown;
  checkObject('forward', 'input.text', text);
  const { handle, index, microConds } = text as Partial<TextRows>;
  checkObject('forward', 'input.text.handle', handle);
  const count = (handle as { count?: unknown }).count;
  if (!Number.isInteger(count) || (count as number) < 1) throw new MigmError('INVALID_OPTION', 'forward: input.text.handle is not a TextHandle.');
  checkIds('forward', 'text.index', index, (count as number) - 1);
  if (index.length !== rows) throw new MigmError('INVALID_OPTION', `forward: text.index has ${index.length} values, expected ${rows}.`);
  checkFloats('forward', 'text.microConds', microConds);
  const M = c.microConditioning?.names.length ?? 0;
  if (microConds.length !== rows * M) throw new MigmError('INVALID_OPTION', `forward: text.microConds has ${microConds.length} values, expected ${rows * M}.`);
}

/** Checks encodeText() arguments: `count` >= 1 prompts of `maxLength` ids each, every id in 0..maxId. */
export function checkTextIds(manifest: Manifest, ids: unknown, count: number, maxId: number): void {
  const c = manifest.condition;
  if (c.type !== 'text') throw new MigmError('INVALID_OPTION', 'encodeText: this bundle is conditioned on a class id, not on text.');
  if (!Number.isInteger(count) || count < 1) throw new MigmError('INVALID_OPTION', `encodeText: count must be an integer >= 1, got ${count}.`);
  checkIds('encodeText', 'ids', ids, maxId);
  if (ids.length !== count * c.maxLength)
    throw new MigmError('INVALID_OPTION', `encodeText: ids has ${ids.length} values, expected count * maxLength = ${count * c.maxLength}.`);
}
