import { MigmError } from '../errors.js';
import type { Backend, BackendCapabilities } from './types.js';

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
