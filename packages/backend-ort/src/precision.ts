import { MigmError, type GraphRole, type Manifest } from '@migm/core/backend';

/** A graph precision (the manifest's `precision`); what a backend's `dtype` option asks for. */
export type Dtype = 'fp32' | 'fp16' | 'int8' | 'int4';
export const DTYPES: readonly Dtype[] = ['fp32', 'fp16', 'int8', 'int4'];

/**
 * A backend's `dtype` option, like transformers.js's: one precision for every graph, or one per graph role
 * (roles left out load fp32). With one precision, a graph without that variant (e.g. a convolution-only VQ
 * decoder, which int4 leaves alone) loads its fp32 file; a per-role choice must exist.
 */
export type DtypeOption = Dtype | Partial<Record<GraphRole, Dtype>>;

/** What `selectPrecision` gives: the manifest a backend runs (each graph's file the chosen one) and what it chose. */
export interface PrecisionChoice {
  /** The manifest with each graph's `file` (and `externalData`) replaced by the chosen variant's, `precision` set and `variants` removed. */
  readonly manifest: Manifest;
  /** The precision each graph of the bundle will run in. */
  readonly precision: Readonly<Partial<Record<GraphRole, Dtype>>>;
  /** Bundle files no loaded graph uses under this choice (other precisions): loaders need not read or fetch them. */
  readonly unused: ReadonlySet<string>;
}

/**
 * Picks each graph's file for a `dtype` (docs/bundle-format.md, "Precision variants"). `fp16` says whether the
 * device computes in float16 (WebGPU with shader-f16, CUDA): where it cannot, `dtype: 'fp16'` loads the fp32
 * files, since onnxruntime's CPU and wasm providers emulate float16 (slower, no smaller in memory); a per-role
 * `{ base: 'fp16' }` loads the float16 file anyway (to measure it). Call it on a
 * manifest that passed `validateManifest` (the shortcut's compatibility check names the fp32 base file, which
 * stays the bundle's identity whatever runs).
 *
 * @throws MigmError INVALID_OPTION for an unknown dtype or role, or a per-role choice the bundle has no variant of.
 */
export function selectPrecision(manifest: Manifest, dtype: DtypeOption | undefined, device: { fp16: boolean }): PrecisionChoice {
  const perRole = checkDtype(dtype, manifest);
  const graphs: Record<string, unknown> = {};
  const precision: Partial<Record<GraphRole, Dtype>> = {};
  const used = new Set<string>();
  const all = new Set<string>();
  for (const [role, spec] of Object.entries(manifest.graphs) as [GraphRole, NonNullable<Manifest['graphs'][GraphRole]>][]) {
    const { variants, externalData, ...rest } = spec;
    const own: Dtype = spec.precision ?? 'fp32';
    all.add(spec.file);
    for (const name of spec.externalData ?? []) all.add(name);
    for (const v of Object.values(variants ?? {})) if (v) all.add(v.file);
    let want = perRole(role) ?? own;
    // One dtype for all falls back where the device has no float16 arithmetic; a per-role choice is loaded as asked.
    if (want === 'fp16' && !device.fp16 && own !== 'fp16' && typeof dtype === 'string') want = 'fp32';
    const variant = want !== own ? variants?.[want as keyof typeof variants] : undefined;
    if (want !== own && variant === undefined && typeof dtype === 'object' && dtype[role] === want) {
      throw new MigmError(
        'INVALID_OPTION',
        `Invalid option 'dtype': graph ${role} has no ${want} variant (it has ${[own, ...Object.keys(variants ?? {})].join(', ')}).`,
        {
          details: { role, dtype: want },
        },
      );
    }
    if (variant) {
      // A variant is one self-contained file (the quantize command writes it so even for a graph with external data).
      graphs[role] = { ...rest, file: variant.file, precision: want };
      precision[role] = want;
      used.add(variant.file);
    } else {
      graphs[role] = { ...rest, ...(externalData ? { externalData } : {}), precision: own };
      precision[role] = own;
      used.add(spec.file);
      for (const name of externalData ?? []) used.add(name);
    }
  }
  const unused = new Set([...all].filter((f) => !used.has(f)));
  return { manifest: { ...manifest, graphs: graphs as Manifest['graphs'] }, precision, unused };
}

function checkDtype(dtype: DtypeOption | undefined, manifest: Manifest): (role: GraphRole) => Dtype | undefined {
  if (dtype === undefined) return () => undefined;
  if (typeof dtype === 'string') {
    if (!DTYPES.includes(dtype)) throw invalid(dtype);
    return () => dtype;
  }
  if (dtype === null || typeof dtype !== 'object' || Array.isArray(dtype)) throw invalid(dtype);
  for (const [role, d] of Object.entries(dtype)) {
    if (!(role in manifest.graphs)) {
      throw new MigmError(
        'INVALID_OPTION',
        `Invalid option 'dtype': the bundle has no graph ${JSON.stringify(role.slice(0, 40))} (it has ${Object.keys(manifest.graphs).join(', ')}).`,
      );
    }
    if (!DTYPES.includes(d as Dtype)) throw invalid(d);
  }
  return (role) => dtype[role];
}

function invalid(got: unknown): MigmError {
  const text = typeof got === 'string' ? JSON.stringify(got.slice(0, 40)) : got === null ? 'null' : Array.isArray(got) ? 'an array' : `a ${typeof got}`;
  return new MigmError('INVALID_OPTION', `Invalid option 'dtype': got ${text}; allowed: ${DTYPES.join(', ')}, or an object of graph role -> one of them.`);
}
