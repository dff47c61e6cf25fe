import { MigmError } from '../errors.js';
import type { ClassCondition, Manifest, TextCondition } from './types.js';

/** True when the bundle is conditioned on a class id (`condition.type === 'class'`). */
export function isClassConditioned(manifest: Manifest): manifest is Manifest & { condition: ClassCondition } {
  return manifest.condition.type === 'class';
}

/** True when the bundle is conditioned on a prompt (`condition.type === 'text'`). */
export function isTextConditioned(manifest: Manifest): manifest is Manifest & { condition: TextCondition } {
  return manifest.condition.type === 'text';
}

/**
 * The class condition of a class-conditioned bundle. Code that only makes sense for class ids (class names,
 * the null class of the guidance rows, a classifier) calls this, so that a text bundle reaching it fails with
 * one `UNSUPPORTED` error naming what needed classes instead of reading undefined fields.
 *
 * @example
 * const { classNames } = classCondition(backend.manifest, 'class names');
 */
export function classCondition(manifest: Manifest, usage: string): ClassCondition {
  if (manifest.condition.type === 'class') return manifest.condition;
  throw new MigmError(
    'UNSUPPORTED',
    `${usage} needs a class-conditioned bundle; this bundle (family ${manifest.family}) is conditioned on ${manifest.condition.type === 'text' ? 'a text prompt' : String((manifest.condition as { type?: unknown }).type)}.`,
    { details: { condition: manifest.condition.type, usage } },
  );
}

/** The text condition of a text-conditioned bundle (`UNSUPPORTED` naming `usage` for a class bundle). */
export function textCondition(manifest: Manifest, usage: string): TextCondition {
  if (manifest.condition.type === 'text') return manifest.condition;
  throw new MigmError('UNSUPPORTED', `${usage} needs a text-conditioned bundle; this bundle (family ${manifest.family}) is conditioned on a class id.`, {
    details: { condition: manifest.condition.type, usage },
  });
}
