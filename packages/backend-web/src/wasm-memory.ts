import { MigmError, type GraphRole, type Manifest } from '@migm/core/backend';

/** The most memory onnxruntime-web's wasm build can address: wasm32's 65,536 pages of 64 KiB (4 GiB). */
export const WASM_MEMORY_LIMIT = 4 * 1024 ** 3;

/**
 * What is left of the wasm memory for weights: the limit less room for onnxruntime itself, its arena and the
 * activations of one step (aMUSEd-256 at batch 2 with guidance needs well under this; measured in headless
 * Chromium, BENCHMARKS.md "aMUSEd-256 in headless Chromium").
 */
export const WASM_WEIGHT_BUDGET = WASM_MEMORY_LIMIT - 512 * 1024 ** 2;

/** One graph's share of the wasm memory estimate (bytes). */
export interface WasmGraphEstimate {
  readonly role: GraphRole;
  /** Bytes of its files as stored (the ONNX file and its external data). */
  readonly stored: number;
  /** Bytes its weights take once its session exists: float32 unless the graph runs int8 or int4. */
  readonly resident: number;
}

/** The estimate `checkWasmMemory` judges a load by. */
export interface WasmMemoryEstimate {
  readonly graphs: readonly WasmGraphEstimate[];
  /** The most bytes of weights held at once while the sessions are created one after another. */
  readonly peak: number;
}

/**
 * How much of onnxruntime-web's wasm memory the weights of `roles` take, from the manifest alone (nothing is
 * downloaded). Each graph's weights are copied into the wasm memory and held there as float32: onnxruntime's CPU
 * provider casts float16-stored weights up while it creates the session (holding the stored weights and more than
 * one float32 copy meanwhile), so such a graph costs 4 bytes per parameter (`graphs[role].parameters`) once
 * loaded, and more while loading, not its file size. int8 and int4
 * graphs (precision variants, `dtype`) keep their quantized weights: their file size. `manifest` is the one the
 * backend loads (after `selectPrecision`), so each graph's `file` and `precision` are the chosen ones.
 */
export function estimateWasmMemory(manifest: Manifest, roles: readonly GraphRole[]): WasmMemoryEstimate {
  const size = new Map(manifest.files.map((f) => [f.path, f.bytes]));
  const graphs: WasmGraphEstimate[] = [];
  let held = 0;
  let peak = 0;
  for (const role of roles) {
    const spec = manifest.graphs[role];
    if (!spec) continue;
    const stored = [spec.file, ...(spec.externalData ?? [])].reduce((a, f) => a + (size.get(f) ?? 0), 0);
    const quantized = spec.precision === 'int8' || spec.precision === 'int4';
    const float32 = 4 * (spec.parameters ?? 0);
    const resident = quantized ? stored : Math.max(stored, float32);
    // Stored in well under 4 bytes per parameter (float16): while its session is created the graph holds its stored
    // weights and more than one float32 copy. Measured in Chromium: aMUSEd-256's float16 base (1.21 GB stored,
    // 2.41 GB as float32) failed to allocate (std::bad_alloc) as the first session, with nothing else in the wasm
    // memory, so stored + float32 (3.62 GB) is too little; stored + 2 x float32 is taken. (A float32 graph's file
    // differs from 4 x parameters by a few bytes only; aMUSEd-256's float32 graphs, 3.29 GB, all loaded.)
    const castUp = !quantized && stored < 0.75 * float32;
    peak = Math.max(peak, held + (castUp ? stored + 2 * resident : resident));
    held += resident;
    graphs.push({ role, stored, resident });
  }
  return { graphs, peak: Math.max(peak, held) };
}

/**
 * Refuses, before anything is downloaded or any session is created, a load whose weights cannot fit in
 * onnxruntime-web's wasm memory (`estimateWasmMemory` over `WASM_WEIGHT_BUDGET`): past it onnxruntime fails to
 * allocate in the middle of creating a session, after the whole download. Throws `UNSUPPORTED` naming the
 * estimate per graph and what would fit: the bundle's int8 / int4 variants (`dtype`), or WebGPU. `manifest`:
 * the one loaded (after `selectPrecision`); `original`: the bundle's own, whose variants are suggested.
 */
export function checkWasmMemory(manifest: Manifest, roles: readonly GraphRole[], original: Manifest = manifest): void {
  const estimate = estimateWasmMemory(manifest, roles);
  if (estimate.peak <= WASM_WEIGHT_BUDGET) return;
  const gb = (b: number) => `${(b / 1e9).toFixed(2)} GB`;
  const parts = estimate.graphs.map((g) => `${g.role} ${gb(g.resident)}`).join(', ');
  // What the bundle offers instead: its quantized variants (`original`: the manifest before a precision was chosen).
  const offered = (['int8', 'int4'] as const).filter((d) => roles.some((r) => original.graphs[r]?.variants?.[d] !== undefined));
  const fix =
    offered.length > 0
      ? `Load it with dtype: ${offered.map((d) => `'${d}'`).join(' or ')} (this bundle has ${offered.join(' and ')} variants), or on WebGPU.`
      : "Quantize it (python -m migm_train quantize --precision int8 or int4) and load it with dtype: 'int8' or 'int4', or run it on WebGPU.";
  throw new MigmError(
    'UNSUPPORTED',
    `This bundle's graphs need about ${gb(estimate.peak)} of onnxruntime-web's wasm memory while its sessions are created (weights as float32 on the CPU, float16-stored ones cast up: ${parts}), more than wasm can hold (${gb(WASM_MEMORY_LIMIT)} in all, ${gb(WASM_WEIGHT_BUDGET)} for weights). ${fix}`,
    { details: { device: 'wasm', estimateBytes: estimate.peak, budgetBytes: WASM_WEIGHT_BUDGET, graphs: estimate.graphs } },
  );
}
