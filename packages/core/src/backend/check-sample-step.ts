import { MigmError } from '../errors.js';
import type { Manifest } from '../manifest/types.js';
import type { DeviceLogits, DeviceSampleStep } from './types.js';
import { checkIds, checkObject } from './check-inputs.js';

/**
 * Checks a `sampleStep` call before any device work: the step's fields, the logits handle's rows, and that every
 * image has the same number of masked positions, at least `count` (core's schedule guarantees both). Throws
 * `INVALID_OPTION` naming the field and what is allowed; returns the number of masked positions per image.
 * Shared by every backend with `capabilities.deviceSampling` so they refuse the same inputs the same way.
 */
export function checkSampleStep(manifest: Manifest, logits: DeviceLogits, step: DeviceSampleStep): number {
  checkObject('sampleStep', 'step', step);
  const { count: L, maskId } = manifest.tokens;
  const bad = (what: string, allowed: string, value: unknown): MigmError =>
    new MigmError('INVALID_OPTION', `sampleStep: ${what} is ${String(value)}; ${allowed}.`, { details: { what } });
  const B = step.batch;
  if (!Number.isInteger(B) || B < 1) throw bad('batch', 'an integer >= 1 is required', B);
  if (typeof step.guided !== 'boolean') throw bad('guided', 'true or false is required', step.guided);
  const rows = step.guided ? 2 * B : B;
  if (logits.dims[0] < rows)
    throw bad('the logits handle rows', `a ${step.guided ? 'guided' : 'plain'} step of ${B} images reads ${rows} rows`, logits.dims[0]);
  for (const key of ['weight', 'invTemp', 'noiseScale'] as const) {
    if (typeof step[key] !== 'number' || !Number.isFinite(step[key])) throw bad(key, 'a finite number is required', step[key]);
  }
  checkIds('sampleStep', 'state', step.state, maskId);
  if (step.state.length !== B * L) throw bad('state.length', `batch * L = ${B * L} is required`, step.state.length);
  if (!(step.uniforms instanceof Float64Array) || step.uniforms.length !== 2 * B * L) {
    throw bad(
      'uniforms',
      `a Float64Array of 2 * batch * L = ${2 * B * L} values is required`,
      step.uniforms instanceof Float64Array ? `of length ${step.uniforms.length}` : typeof step.uniforms,
    );
  }
  let masked = -1;
  for (let b = 0; b < B; b++) {
    let m = 0;
    for (let p = b * L; p < (b + 1) * L; p++) if (step.state[p] === maskId) m++;
    if (masked >= 0 && m !== masked) throw bad(`image ${b}'s masked count`, `every image must have the same number of masked positions (${masked})`, m);
    masked = m;
  }
  const k = step.count;
  if (!Number.isInteger(k) || k < 1 || k > masked) throw bad('count', `an integer from 1 to the masked positions per image (${masked}) is required`, k);
  for (const key of ['revealedPositions', 'revealedTokens'] as const) {
    const a = step[key];
    if (!(a instanceof Int32Array) || a.length < B * k)
      throw bad(key, `an Int32Array of at least batch * count = ${B * k} values is required`, a instanceof Int32Array ? `of length ${a.length}` : typeof a);
  }
  return masked;
}
