import { createNodeBackend, DTYPES, type Dtype, type DtypeOption, type NodeBackendOptions, type NodeDevice, NODE_DEVICES } from '@migm/backend-node';
import { bundleDir } from '@migm/bundle-fashion-mnist';
import type { OrtBackend } from '@migm/backend-node';
import { accessSync, constants, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { choiceFlag, intFlag, listFlag } from './args.js';
import { UsageError } from './errors.js';

/** Flags every command that loads a model takes. */
export const backendFlags = {
  bundle: { type: 'string' },
  device: { type: 'string' },
  threads: { type: 'string' },
} as const;

export interface BackendFlagValues {
  bundle?: string | undefined;
  device?: string | undefined;
  threads?: string | undefined;
  /** generate and compare only (recording trajectories stays fp32). */
  dtype?: string | undefined;
}

/**
 * --dtype: one precision for every graph (`int8`) or graph=precision pairs (`base=int4,shortcut=int8`); the
 * bundle's variants (docs/bundle-format.md, "Precision variants"). Undefined when not given.
 */
export function dtypeFlag(value: string | undefined): DtypeOption | undefined {
  if (value === undefined) return undefined;
  if (!value.includes('=')) return choiceFlag<Dtype>('dtype', value, 'fp32', DTYPES);
  const pairs = listFlag('dtype', value, (item) => {
    const [role, d, extra] = item.split('=');
    if (!role || d === undefined || extra !== undefined)
      throw new UsageError(`--dtype takes a precision or graph=precision pairs (base=int4,shortcut=int8), got '${value}'`);
    return [role, choiceFlag<Dtype>('dtype', d, 'fp32', DTYPES)] as const;
  });
  return Object.fromEntries(pairs!) as DtypeOption;
}

/**
 * Loads the given bundle, or the embedded default one. With `--device auto` a fall-back to the CPU is silent: the
 * result line says which device ran (`--device cuda` is the way to see why CUDA did not start). What the backend
 * found while loading (its `warnings`: a head declared affine that is not) is printed on stderr, one
 * `migm: warning:` line each (`printWarnings`): the libraries print nothing, the CLI says what it is doing.
 */
export async function loadBackend(
  values: BackendFlagValues,
  extra: { classifier?: boolean; deviceSampling?: boolean; onProgress?: NonNullable<NodeBackendOptions['onProgress']> } = {},
): Promise<OrtBackend> {
  const device = choiceFlag<NodeDevice>('device', values.device, 'cpu', NODE_DEVICES);
  const threads = intFlag('threads', values.threads, undefined, 1, 256);
  const dtype = dtypeFlag(values.dtype);
  const backend = await createNodeBackend({
    bundle: values.bundle ?? bundleDir(),
    device,
    ...(threads !== undefined ? { threads } : {}),
    ...(dtype !== undefined ? { dtype } : {}),
    ...extra,
  });
  // A caller that draws load progress prints them once its terminal line is cleared.
  if (extra.onProgress === undefined) printWarnings(backend);
  return backend;
}

/** The backend's load-time `warnings` on stderr, one `migm: warning:` line each. */
export function printWarnings(backend: OrtBackend): void {
  for (const w of backend.warnings) console.error(`migm: warning: ${w}`);
}

export function fmtMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`;
}

/**
 * Checks an output path before any model is loaded, so a typo does not cost a whole generation: its folder
 * exists and is writable, its name fits the file system (255 bytes), and it is not a folder itself.
 * `kind` 'dir' checks a folder to be created (its parent must exist and be writable).
 */
export function checkOutPath(flag: string, path: string, kind: 'file' | 'dir' = 'file'): string {
  const full = resolve(path);
  const name = basename(full);
  if (Buffer.byteLength(name) > 255 || Buffer.byteLength(full) > 4095) {
    throw new UsageError(`--${flag} '${path.length > 60 ? `${path.slice(0, 60)}…` : path}' is too long for the file system (at most 255 bytes per name)`);
  }
  const parent = dirname(full);
  const info = statSync(parent, { throwIfNoEntry: false });
  if (!info?.isDirectory()) throw new UsageError(`--${flag} ${path}: folder ${parent} does not exist`);
  try {
    accessSync(parent, constants.W_OK);
  } catch {
    throw new UsageError(`--${flag} ${path}: folder ${parent} is not writable`);
  }
  if (kind === 'file' && statSync(full, { throwIfNoEntry: false })?.isDirectory()) throw new UsageError(`--${flag} ${path} is a folder; give a file name`);
  return full;
}
