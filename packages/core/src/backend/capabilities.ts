import { MigmError } from '../errors.js';
import type { Backend, BackendCapabilities } from './types.js';

/** Each optional capability and the methods it brings. */
const CAPABILITY_METHODS = [
  ['velocity', ['velocity']],
  ['guidedHead', ['guidedHead']],
  ['deviceSampling', ['createLogits', 'sampleStep']],
  ['text', ['encodeText']],
] as const satisfies readonly (readonly [keyof BackendCapabilities, readonly (keyof Backend)[]])[];

/**
 * Checks that a backend states each optional capability once and consistently: `capabilities.velocity` and
 * `capabilities.guidedHead` / `capabilities.deviceSampling` are true exactly when the `velocity()` / `guidedHead()` /
 * `createLogits()` and `sampleStep()` methods exist. A wrapper that
 * copies the flags but not the methods would otherwise lose the capability silently. Throws `INVALID_OPTION`
 * naming the disagreement; returns the capabilities.
 */
export function checkCapabilities(backend: Backend): BackendCapabilities {
  const caps = backend.capabilities;
  if (caps === null || typeof caps !== 'object') throw new MigmError('INVALID_OPTION', `Backend ${backend.name}: capabilities must be an object.`);
  for (const [name, methods] of CAPABILITY_METHODS) {
    const flag = caps[name] === true;
    for (const m of methods) {
      const method = typeof backend[m] === 'function';
      if (flag !== method) {
        throw new MigmError(
          'INVALID_OPTION',
          `Backend ${backend.name} ${flag ? `claims capabilities.${name} but has no ${m}() method` : `has a ${m}() method but capabilities.${name} is not true`}; state each capability once (a wrapper must forward the method with the flag).`,
          { details: { capability: name, flag, method: m } },
        );
      }
    }
  }
  if ((caps.text === true) !== (backend.tokenizer != null)) {
    throw new MigmError(
      'INVALID_OPTION',
      `Backend ${backend.name} ${caps.text === true ? 'claims capabilities.text but has no tokenizer' : 'has a tokenizer but capabilities.text is not true'}; state each capability once.`,
      { details: { capability: 'text', flag: caps.text === true } },
    );
  }
  return caps;
}
