import { checkOptionKeys, MigmError, type Manifest } from '@migm/core/backend';
import {
  firstWorkingDevice,
  OrtBackend,
  selectPrecision,
  type DeviceFallback,
  type DtypeOption,
  type LoadProgressEvent,
  type OrtModule,
} from '@migm/backend-ort';
import * as ortNode from 'onnxruntime-node';
import { readBundleDir, type BundleFiles } from './bundle-dir.js';
import { cudaProviderInstalled } from './cuda-provider.js';

/** Devices of the Node backend. `auto` tries CUDA, then the CPU. */
export type NodeDevice = 'cpu' | 'cuda' | 'auto';
export const NODE_DEVICES: readonly NodeDevice[] = ['cpu', 'cuda', 'auto'];

export interface NodeBackendOptions {
  /** Bundle directory, or a bundle already read with `readBundleDir`. */
  readonly bundle: string | BundleFiles;
  /** Default 'cpu'. */
  readonly device?: NodeDevice;
  /** Intra-op threads per session. Default: onnxruntime's choice (all cores). */
  readonly threads?: number;
  /**
   * Let onnxruntime's worker threads spin (busy-wait) after each run. Default false: the base, shortcut and
   * head sessions each own a thread pool, and in a shortcut run one pool's spinning threads steal the cores the
   * next session needs (measured on 2 cores: full steps 30% and shortcut steps 40% slower with spinning on,
   * vanilla sampling 3% faster). Turn it on for vanilla-only workloads on a machine with cores to spare.
   */
  readonly spinning?: boolean;
  /** onnxruntime graph optimisation level. Default 'all'. */
  readonly graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Load the learned shortcut when the bundle has one. Default true. */
  readonly shortcut?: boolean;
  /** Load the evaluation classifier (for `backend.classify`). Default false. */
  readonly classifier?: boolean;
  /**
   * Told when `auto` falls back from a device (e.g. CUDA missing), with the reason. Default: nothing (a library
   * prints nothing unless asked); `backend.device` says which device runs.
   */
  readonly onFallback?: (fallback: DeviceFallback) => void;
  /**
   * Offer the device sampler (`capabilities.deviceSampling`): each step's sampling runs as an onnxruntime graph in
   * float64 on the CPU provider, next to logits kept in the backend's memory, with the host sampler's tokens.
   * Default false: on the CPU it is slower than core's host sampler (measured in BENCHMARKS.md, "Device
   * sampling"), and generate() uses it whenever it is offered (its `sampler` option can still pick 'host').
   */
  readonly deviceSampling?: boolean;
  /**
   * Hears the load: each file's bytes read and verified (`file-start`, `file-progress`, `file-done`, when
   * `bundle` is a path) and each onnxruntime session created (`session-start`, `session-done`). The same
   * events as in the browser (`createWebBackend`), so one progress display serves both.
   */
  readonly onProgress?: (event: LoadProgressEvent) => void;
  /**
   * Which precision to run each graph in, like transformers.js's `dtype`: 'fp32' (default), 'fp16', 'int8' or
   * 'int4' for every graph that has that variant (the others run fp32), or an object of graph role -> precision
   * (docs/bundle-format.md, "Precision variants"; variants come from `python -m migm_train quantize`). 'fp16'
   * runs in float16 on CUDA and loads the fp32 file on the CPU, where onnxruntime has no faster float16 path. Only
   * the chosen files are read. The precision each graph runs in is `backend.manifest.graphs[role].precision`.
   */
  readonly dtype?: DtypeOption;
}

/** How to get CUDA: onnxruntime-node ships its CPU provider; its CUDA 12 libraries come from its install script. */
export const CUDA_HELP =
  "onnxruntime-node's CUDA 12 provider is not installed. Its install script downloads it: on a machine with network access, CUDA 12 and cuDNN 9, run `ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node` (pnpm: allow its build script, then `pnpm rebuild onnxruntime-node`).";

/**
 * Turns onnxruntime-node's telemetry off for this process unless the user chose (ORT_DISABLE_TELEMETRY set to
 * anything, "0" opting in). It is read when the first session is created. Left on, onnxruntime-node 1.30 writes
 * a device id and an event cache under ~/.cache/Microsoft, an empty log file per process in the temp folder,
 * and crashes (SIGSEGV) in a process whose command line exceeds about 29 KB.
 */
export function disableOrtTelemetry(): void {
  process.env['ORT_DISABLE_TELEMETRY'] ??= '1';
}

/**
 * Loads a bundle from disk (manifest schema, sizes and sha256 checked first) and creates an onnxruntime-node
 * backend for it on the chosen device.
 *
 * @example
 * import { generate } from '@migm/core';
 * import { createNodeBackend } from '@migm/backend-node';
 *
 * const backend = await createNodeBackend({ bundle: 'path/to/bundle', device: 'auto' });
 * const result = await generate(backend, { condition: 7, batch: 4, seed: 1 });
 * const images = await backend.decode(result.tokens, result.batch);
 * await backend.dispose();
 */
const NODE_OPTION_KEYS = [
  'bundle',
  'device',
  'threads',
  'spinning',
  'graphOptimizationLevel',
  'shortcut',
  'classifier',
  'onFallback',
  'deviceSampling',
  'onProgress',
  'dtype',
] as const satisfies readonly (keyof NodeBackendOptions)[];
// Every option must be listed: a new one missing here fails to type-check instead of being refused at run time.
const everyNodeKey: [Exclude<keyof NodeBackendOptions, (typeof NODE_OPTION_KEYS)[number]>] extends [never] ? true : never = true;
void everyNodeKey;

export async function createNodeBackend(given: NodeBackendOptions): Promise<OrtBackend> {
  if (given === null || typeof given !== 'object') {
    throw new MigmError(
      'INVALID_OPTION',
      `Invalid options: got ${given === null ? 'null' : typeof given}; an object { bundle, device?, threads?, ... } is allowed.`,
    );
  }
  // Unknown keys are refused (a typo must not be ignored); null means the default, as in generate().
  const options = checkOptionKeys(given, NODE_OPTION_KEYS, 'createNodeBackend()');
  const b = options.bundle as unknown;
  const isFiles = typeof b === 'object' && b !== null && 'manifest' in b && 'files' in b;
  if (!(typeof b === 'string' && b.length > 0) && !isFiles) {
    const got = b === undefined ? 'nothing' : b === null ? 'null' : typeof b === 'string' ? '""' : `a ${typeof b}`;
    throw new MigmError(
      'INVALID_OPTION',
      `Invalid option 'bundle': got ${got}; a bundle directory path or the result of readBundleDir() is required (the default bundle: bundleDir() from @migm/bundle-fashion-mnist).`,
    );
  }
  const level = options.graphOptimizationLevel;
  if (level !== undefined && !['disabled', 'basic', 'extended', 'all'].includes(level)) {
    throw new MigmError(
      'INVALID_OPTION',
      `Invalid option 'graphOptimizationLevel': got ${typeof level === 'string' ? JSON.stringify(level.slice(0, 40)) : `a ${typeof level}`}; allowed: disabled, basic, extended, all.`,
    );
  }
  const device = options.device ?? 'cpu';
  if (!NODE_DEVICES.includes(device)) {
    throw new MigmError('INVALID_OPTION', `Invalid option 'device': got ${JSON.stringify(device)}; allowed: ${NODE_DEVICES.join(', ')}.`);
  }
  if (options.spinning !== undefined && typeof options.spinning !== 'boolean') {
    throw new MigmError('INVALID_OPTION', `Invalid option 'spinning': got ${JSON.stringify(options.spinning)}; true or false is allowed.`);
  }
  // Booleans are checked, not coerced: `shortcut: 'no'` is truthy and would load the shortcut.
  for (const key of ['shortcut', 'classifier'] as const) {
    const v = options[key] as unknown;
    if (v !== undefined && typeof v !== 'boolean') {
      throw new MigmError(
        'INVALID_OPTION',
        `Invalid option '${key}': got ${typeof v === 'string' ? JSON.stringify(v.slice(0, 40)) : `a ${typeof v}`}; true or false is allowed.`,
      );
    }
  }
  if (options.onFallback !== undefined && typeof options.onFallback !== 'function') {
    throw new MigmError('INVALID_OPTION', `Invalid option 'onFallback': got ${JSON.stringify(options.onFallback)}; a function (fallback) => void is allowed.`);
  }
  if (options.deviceSampling !== undefined && typeof options.deviceSampling !== 'boolean') {
    throw new MigmError('INVALID_OPTION', `Invalid option 'deviceSampling': got ${JSON.stringify(options.deviceSampling)}; true or false is allowed.`);
  }
  const threads = options.threads;
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1 || threads > 256)) {
    throw new MigmError('INVALID_OPTION', `Invalid option 'threads': got ${threads}; an integer from 1 to 256 is allowed.`);
  }
  const onProgress = options.onProgress;
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw new MigmError('INVALID_OPTION', `Invalid option 'onProgress': got a ${typeof onProgress}; a function is allowed.`);
  }
  const dtype = options.dtype;
  // float16 computes in float16 on CUDA only; with 'auto' both candidates' files are read.
  const fp16On = (d: string) => ({ fp16: d === 'cuda' });
  const skip =
    dtype === undefined
      ? undefined
      : (m: Manifest) => {
          const sets = (device === 'auto' ? (['cuda', 'cpu'] as const) : [device]).map((d) => selectPrecision(m, dtype, fp16On(d)).unused);
          return new Set([...sets[0]!].filter((f) => sets.every((u) => u.has(f))));
        };
  const bundle =
    typeof options.bundle === 'string'
      ? await readBundleDir(options.bundle, { ...(onProgress ? { onProgress } : {}), ...(skip ? { skip } : {}) })
      : options.bundle;
  if (dtype !== undefined) selectPrecision(bundle.manifest, dtype, fp16On('cpu')); // a bad dtype fails before any device is tried
  disableOrtTelemetry();
  const chain: ('cpu' | 'cuda')[] = device === 'auto' ? ['cuda', 'cpu'] : [device];
  const onFallback = options.onFallback;
  return firstWorkingDevice(
    chain,
    async (d) => {
      if (d === 'cuda' && !cudaProviderInstalled()) throw new MigmError('UNSUPPORTED', `Device 'cuda' is not available: ${CUDA_HELP}`);
      try {
        return await OrtBackend.create({
          ort: ortNode as unknown as OrtModule,
          bundle: dtype === undefined ? bundle : { manifest: selectPrecision(bundle.manifest, dtype, fp16On(d)).manifest, files: bundle.files },
          name: 'onnxruntime-node',
          device: d,
          sessionOptions: {
            executionProviders: [d],
            // A missing CUDA library is reported as our UNSUPPORTED error; keep onnxruntime's own log quiet then.
            ...(d === 'cuda' ? { logSeverityLevel: 4 as const } : {}),
            graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
            ...(threads !== undefined ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : {}),
            ...(options.spinning ? {} : { extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } } }),
          },
          ...(options.shortcut !== undefined ? { shortcut: options.shortcut } : {}),
          ...(options.classifier !== undefined ? { classifier: options.classifier } : {}),
          ...(options.deviceSampling ? { deviceSampling: true, samplerProvider: 'cpu' as const } : {}),
          ...(onProgress ? { onProgress } : {}),
        });
      } catch (err) {
        if (d === 'cuda' && err instanceof MigmError && err.code === 'BACKEND_FAILURE') {
          throw new MigmError('UNSUPPORTED', `Device 'cuda' failed to start: ${err.message} ${CUDA_HELP}`, { cause: err });
        }
        throw err;
      }
    },
    onFallback,
  );
}
