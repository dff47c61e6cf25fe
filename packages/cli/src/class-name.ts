import type { Manifest } from '@migm/core';
import { UsageError } from './errors.js';

/** Resolves --class: a class id, a class name (case and punctuation-insensitive), or "none" for unconditional. */
export function resolveClass(manifest: Manifest, value: string | undefined): number | null {
  if (manifest.condition.type !== 'class') {
    throw new UsageError(`--class applies to class-conditioned bundles; ${manifest.name} is conditioned on text: give --prompt "..." instead`);
  }
  const names = manifest.condition.classNames;
  if (value === undefined) throw new UsageError(`--class is required: a class id 0-${names.length - 1} or a name (${names.join(', ')}), or "none"`);
  if (value.toLowerCase() === 'none') return null;
  if (/^\d+$/.test(value)) {
    const id = Number(value);
    if (id < names.length) return id;
  }
  const norm = (s: string) => s.toLowerCase().replace(/[^a-z0-9]/g, '');
  const id = names.findIndex((n) => norm(n) === norm(value));
  if (id < 0) throw new UsageError(`unknown class '${value}': use an id 0-${names.length - 1} or one of ${names.join(', ')} (or "none")`);
  return id;
}
