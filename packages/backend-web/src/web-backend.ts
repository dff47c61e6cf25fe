import {
  firstWorkingDevice,
  graphRoles,
  OrtBackend,
  selectPrecision,
  type DeviceFallback,
  type DtypeOption,
  type LoadProgressEvent,
  type VerifiedBundle,
} from '@migm/backend-ort';
import { checkOptionKeys, isMigmError, MigmError, type Manifest } from '@migm/core/backend';
import type * as OrtWeb from 'onnxruntime-web';
import { fetchBundle, type FetchBundleOptions } from './fetch-bundle.js';
import { adaptOrtWeb } from './ort-web-adapter.js';
import { checkWasmMemory } from './wasm-memory.js';
import { WebGpuBackend } from './webgpu-backend.js';

/** A device onnxruntime-web runs on. */
export type WebDevice = 'webgpu' | 'wasm';
/** What the caller asks for: a device, or `auto` (WebGPU when it works here, else wasm). */
export type WebDeviceChoice = WebDevice | 'auto';
export const WEB_DEVICES: readonly WebDeviceChoice[] = ['auto', 'webgpu', 'wasm'];

/** The onnxruntime-web module (`import * as ort from 'onnxruntime-web'`). */
export type OrtWebModule = typeof OrtWeb;

export interface WebBackendOptions {
  /**
   * The model bundle: the base URL of its folder (fetched, verified and cached with `fetchBundle`), or a bundle
   * already fetched (`fetchBundle`'s result or any `{ manifest, files }`).
   */
  readonly bundle: string | URL | VerifiedBundle;
  /** Default 'auto'. */
  readonly device?: WebDeviceChoice;
  /**
   * Folder URL where the app serves onnxruntime-web's `dist/*.wasm` and `*.mjs` files (e.g. '/ort/'). Set it:
   * without it onnxruntime-web looks next to its own script, which bundlers usually do not copy.
   */
  readonly wasmPaths?: string;
  /**
   * wasm threads. Default: up to 4, half the cores, when the page is cross-origin isolated (COOP/COEP), else 1.
   * onnxruntime-web reads it once, before its first session: later values are ignored.
   */
  readonly numThreads?: number;
  /**
   * The onnxruntime-web module to use for every device. Default: `onnxruntime-web/wasm` for wasm (its plain
   * build runs CPU kernels 1.4-1.8x faster than the WebGPU-capable build, measured in Chromium) and
   * `onnxruntime-web` (with WebGPU) for webgpu, each imported when first needed.
   */
  readonly ort?: OrtWebModule;
  /** Passed to `fetchBundle` when `bundle` is a URL (progress, cache, abort signal, fetch, idle timeout, redirects). */
  readonly fetch?: FetchBundleOptions;
  /**
   * Hears the whole load: file progress and cache problems (unless `fetch.onProgress` is given, which then hears
   * those) and each onnxruntime session's start and finish (`session-start`, `session-done`).
   */
  readonly onProgress?: (event: LoadProgressEvent) => void;
  /** Load the shortcut graph when the bundle has one. Default true. */
  readonly shortcut?: boolean;
  /**
   * On WebGPU, keep features in GPU buffers between steps (only logits come back to the CPU). Default true;
   * false (or `classifier: true`) uses host-memory features, as on wasm.
   */
  readonly deviceFeatures?: boolean;
  /** Load the evaluation classifier when the bundle has one. Default false. */
  readonly classifier?: boolean;
  /**
   * onnxruntime's own log level (its warnings go to console.error in browsers). Default 'error': placement
   * notes such as "some nodes were not assigned to the preferred execution provider" stay quiet.
   */
  readonly logLevel?: 'verbose' | 'info' | 'warning' | 'error' | 'fatal';
  /** Called when `auto` gives up on a device and moves to the next one. */
  readonly onFallback?: (fallback: DeviceFallback) => void;
  /** Called if the GPU device is lost after the backend was made; the backend then fails with BACKEND_FAILURE. */
  readonly onDeviceLost?: (reason: string) => void;
  /**
   * Offer the device sampler (`capabilities.deviceSampling`): each step's sampling runs as an onnxruntime graph
   * next to the logits. Default: true on WebGPU with GPU-resident features (logits stay in GPU buffers and only
   * the revealed positions and ids come back; float32), false elsewhere (on wasm the graph runs in float64 with
   * the host sampler's tokens, but slower than core's host sampler).
   */
  readonly deviceSampling?: boolean;
  /**
   * Which precision to run each graph in, like transformers.js's `dtype`: 'fp32' (default), 'fp16', 'int8' or
   * 'int4' for every graph that has that variant (the others run fp32), or an object of graph role -> precision
   * (docs/bundle-format.md, "Precision variants"). 'fp16' runs in float16 on WebGPU adapters with shader-f16 and
   * loads the fp32 files elsewhere. Only the chosen files are downloaded. The precision each graph runs in is
   * `backend.manifest.graphs[role].precision`.
   */
  readonly dtype?: DtypeOption;
}

/** Which device was chosen and why. */
export interface DeviceSelection {
  readonly requested: WebDeviceChoice;
  readonly device: WebDevice;
  /** Devices tried first that failed, with their errors (empty when the first choice worked). */
  readonly fallbacks: readonly DeviceFallback[];
  /** wasm threads onnxruntime-web uses. */
  readonly numThreads: number;
  /** Features stay on the GPU between steps. */
  readonly deviceFeatures: boolean;
  /** GPU adapter description when on WebGPU (vendor, architecture; `fallback` for software adapters). */
  readonly adapter?: string;
}

/**
 * The backend `createWebBackend` returns: an `OrtBackend` (wasm, or WebGPU with host features) or a
 * `WebGpuBackend` (GPU-resident features), with the device selection it ended up with.
 */
export type WebBackend = (OrtBackend | WebGpuBackend) & { readonly selection: DeviceSelection };

/** Minimal WebGPU shapes used here (the DOM lib of TypeScript 5.9 has no WebGPU types). */
interface GpuDeviceLike {
  readonly lost: Promise<{ reason?: string; message?: string }>;
  readonly adapterInfo?: { vendor?: string; architecture?: string; description?: string; isFallbackAdapter?: boolean };
}

const configured = new WeakSet<object>();
const SEVERITY = { verbose: 0, info: 1, warning: 2, error: 3, fatal: 4 } as const;

/**
 * Creates the onnxruntime-web backend: fetches the bundle when given a URL, picks the device and creates
 * one session per graph. Works on a page and inside a Web Worker.
 *
 * @example
 * const backend = await createWebBackend({ bundle: '/bundle/', wasmPaths: '/ort/', device: 'auto' });
 * console.log(backend.device, backend.selection.fallbacks);
 */
const WEB_OPTION_KEYS = [
  'bundle',
  'device',
  'wasmPaths',
  'numThreads',
  'ort',
  'fetch',
  'onProgress',
  'shortcut',
  'deviceFeatures',
  'classifier',
  'logLevel',
  'onFallback',
  'onDeviceLost',
  'deviceSampling',
  'dtype',
] as const satisfies readonly (keyof WebBackendOptions)[];
// Every option must be listed: a new one missing here fails to type-check instead of being refused at run time.
const everyWebKey: [Exclude<keyof WebBackendOptions, (typeof WEB_OPTION_KEYS)[number]>] extends [never] ? true : never = true;
void everyWebKey;

export async function createWebBackend(given: WebBackendOptions): Promise<WebBackend> {
  if (given === null || typeof given !== 'object') {
    throw new MigmError('INVALID_OPTION', `Invalid options: got ${given === null ? 'null' : typeof given}; an object { bundle, device?, ... } is allowed.`);
  }
  const options = checkOptionKeys(given, WEB_OPTION_KEYS, 'createWebBackend()');
  if (options.bundle === undefined)
    throw new MigmError('INVALID_OPTION', "Invalid option 'bundle': got nothing; a bundle URL or the result of fetchBundle() is required.");
  const requested = options.device ?? 'auto';
  if (!WEB_DEVICES.includes(requested)) {
    throw new MigmError('INVALID_OPTION', `Invalid option 'device': got ${JSON.stringify(requested)}; allowed: ${WEB_DEVICES.join(', ')}.`, {
      details: { option: 'device', value: requested },
    });
  }

  if (options.deviceSampling !== undefined && typeof options.deviceSampling !== 'boolean') {
    throw new MigmError('INVALID_OPTION', `Invalid option 'deviceSampling': got ${JSON.stringify(options.deviceSampling)}; true or false is allowed.`, {
      details: { option: 'deviceSampling', value: options.deviceSampling },
    });
  }
  const dtype = options.dtype;
  // float16 arithmetic needs WebGPU with shader-f16; elsewhere dtype 'fp16' loads the fp32 files. The choice is
  // made once, before the download, so only its files are fetched (a wasm fallback runs them too: onnxruntime-web
  // emulates float16 there, slower but the same model).
  const fp16 = dtype !== undefined && requested !== 'wasm' && (await webGpuHasF16());
  const chosen = (m: Manifest) => (dtype === undefined ? m : selectPrecision(m, dtype, { fp16 }).manifest);
  const roles = (m: Manifest) => graphRoles(m, { shortcut: options.shortcut, classifier: options.classifier });
  // On wasm alone, a bundle whose weights cannot fit in wasm's memory is refused from its manifest, before the
  // download (otherwise onnxruntime fails to allocate halfway through the sessions, minutes later).
  const wasmOnly = requested === 'wasm';
  const skip =
    dtype === undefined && !wasmOnly
      ? undefined
      : (m: Manifest) => {
          if (wasmOnly) checkWasmMemory(chosen(m), roles(m), m);
          return dtype === undefined ? new Set<string>() : selectPrecision(m, dtype, { fp16 }).unused;
        };
  const fetchOptions = options.onProgress && !options.fetch?.onProgress ? { ...options.fetch, onProgress: options.onProgress } : options.fetch;
  const loaded: VerifiedBundle =
    typeof options.bundle === 'string' || options.bundle instanceof URL
      ? await fetchBundle(String(options.bundle), skip ? { ...fetchOptions, skip } : fetchOptions)
      : options.bundle;
  const bundle: VerifiedBundle = dtype === undefined ? loaded : { manifest: chosen(loaded.manifest), files: loaded.files };
  const onProgress = options.onProgress;

  const fallbacks: DeviceFallback[] = [];
  let adapter: string | undefined;
  const gpuFeatures = options.deviceFeatures !== false && options.classifier !== true;
  let numThreads = 1;
  const attempt = async (device: string): Promise<OrtBackend | WebGpuBackend> => {
    const onGpu = device === 'webgpu';
    if (onGpu) await probeWebGpu(requested === 'auto');
    else checkWasmMemory(bundle.manifest, roles(bundle.manifest), loaded.manifest);
    const ort = options.ort ?? (await loadOrtWeb(onGpu ? 'webgpu' : 'wasm'));
    numThreads = configureEnv(ort, options);
    const sessionOptions = { executionProviders: [device], graphOptimizationLevel: 'all', logSeverityLevel: SEVERITY[options.logLevel ?? 'error'] } as const;
    const shortcut = options.shortcut === undefined ? {} : { shortcut: options.shortcut };
    const backend =
      onGpu && gpuFeatures
        ? await WebGpuBackend.create({
            ort,
            bundle,
            sessionOptions,
            ...shortcut,
            deviceSampling: options.deviceSampling !== false,
            ...(onProgress ? { onProgress } : {}),
          })
        : await OrtBackend.create({
            ort: adaptOrtWeb(ort),
            bundle,
            name: 'onnxruntime-web',
            device,
            sessionOptions,
            ...shortcut,
            ...(onProgress ? { onProgress } : {}),
            ...(options.classifier === undefined ? {} : { classifier: options.classifier }),
            // Host-memory logits: the float64 graph on onnxruntime-web's CPU provider, offered only when asked for.
            ...(options.deviceSampling === true ? { deviceSampling: true, samplerProvider: 'wasm' as const } : {}),
          });
    const gpu = onGpu ? await ortGpuDevice(ort) : undefined;
    if (gpu) {
      adapter = describeAdapter(gpu);
      // A lost device makes every later GPU run fail; report it so the app can recreate on wasm.
      void gpu.lost.then((info) => {
        if (info.reason !== 'destroyed') options.onDeviceLost?.(info.message || info.reason || 'unknown reason');
      });
    }
    return backend;
  };
  const chain: WebDevice[] = requested === 'auto' ? ['webgpu', 'wasm'] : [requested];
  let backend: OrtBackend | WebGpuBackend;
  try {
    backend = await firstWorkingDevice(chain, attempt, (f) => {
      fallbacks.push(f);
      options.onFallback?.(f);
    });
  } catch (err) {
    if (requested === 'webgpu' && isMigmError(err) && (err.code === 'BACKEND_FAILURE' || err.code === 'UNSUPPORTED')) {
      throw new MigmError(err.code, `WebGPU was asked for but cannot be used here: ${err.message} Choose device 'auto' or 'wasm' to run on the CPU.`, {
        cause: err,
      });
    }
    throw err;
  }
  const selection: DeviceSelection = {
    requested,
    device: backend.device as WebDevice,
    fallbacks,
    numThreads,
    deviceFeatures: backend.capabilities.deviceFeatures,
    ...(adapter === undefined ? {} : { adapter }),
  };
  Object.defineProperty(backend, 'selection', { value: selection, enumerable: true });
  return backend as WebBackend;
}

async function loadOrtWeb(device: WebDevice): Promise<OrtWebModule> {
  try {
    return (device === 'wasm' ? await import('onnxruntime-web/wasm') : await import('onnxruntime-web')) as OrtWebModule;
  } catch (err) {
    throw new MigmError('UNSUPPORTED', `onnxruntime-web could not be loaded (install it next to @migm/backend-web): ${(err as Error).message ?? String(err)}`, {
      cause: err,
    });
  }
}

/** Sets wasm paths and threads once per module, before its first session (onnxruntime-web ignores later changes). */
function configureEnv(ort: OrtWebModule, options: WebBackendOptions): number {
  const wasm = ort.env.wasm;
  if (!configured.has(ort)) {
    configured.add(ort);
    if (options.wasmPaths !== undefined) wasm.wasmPaths = options.wasmPaths;
    ort.env.logLevel = options.logLevel ?? 'error';
    const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
    const cores = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
    const threads = options.numThreads ?? (isolated ? Math.max(1, Math.min(4, Math.floor(cores / 2))) : 1);
    if (!Number.isInteger(threads) || threads < 1) {
      throw new MigmError('INVALID_OPTION', `Invalid option 'numThreads': got ${threads}; an integer >= 1 is allowed.`, {
        details: { option: 'numThreads', value: threads },
      });
    }
    // Threads need SharedArrayBuffer, which only cross-origin isolated pages have.
    wasm.numThreads = isolated ? threads : 1;
  }
  return wasm.numThreads ?? 1;
}

interface GpuAdapterLike {
  requestDevice(): Promise<{ destroy(): void }>;
  readonly isFallbackAdapter?: boolean;
  readonly info?: { isFallbackAdapter?: boolean; vendor?: string; architecture?: string };
}

/**
 * Checks that WebGPU gives an adapter and a device here; throws UNSUPPORTED otherwise. Under `auto`, a
 * software fallback adapter (e.g. SwiftShader) does not count: it runs the models tens of times slower than
 * wasm. onnxruntime-web then makes its own device with the limits it needs.
 */
async function probeWebGpu(auto: boolean): Promise<void> {
  const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> } } }).navigator?.gpu;
  if (!gpu) throw new MigmError('UNSUPPORTED', 'WebGPU is not available here (no navigator.gpu: it needs a browser with WebGPU enabled and a secure context).');
  let adapterFound: GpuAdapterLike | null;
  try {
    adapterFound = await gpu.requestAdapter();
  } catch (err) {
    throw new MigmError('UNSUPPORTED', `WebGPU refused an adapter: ${(err as Error).message ?? String(err)}`, { cause: err });
  }
  if (!adapterFound) throw new MigmError('UNSUPPORTED', 'WebGPU gives no GPU adapter here (blocked or no supported GPU).');
  if (auto && (adapterFound.info?.isFallbackAdapter ?? adapterFound.isFallbackAdapter) === true) {
    throw new MigmError(
      'UNSUPPORTED',
      'WebGPU offers only a software fallback adapter here, which is slower than wasm (ask for webgpu explicitly to use it anyway).',
    );
  }
  try {
    const device = await adapterFound.requestDevice();
    device.destroy();
  } catch (err) {
    throw new MigmError('UNSUPPORTED', `WebGPU could not create a GPU device: ${(err as Error).message ?? String(err)}`, { cause: err });
  }
}

/** Whether WebGPU gives an adapter with the shader-f16 feature here (false when there is no WebGPU at all). */
async function webGpuHasF16(): Promise<boolean> {
  const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<{ features?: { has(name: string): boolean } } | null> } } }).navigator?.gpu;
  try {
    return (await gpu?.requestAdapter())?.features?.has('shader-f16') === true;
  } catch {
    return false;
  }
}

/** The device onnxruntime-web runs on, once it has a WebGPU session (undefined if it does not say). */
async function ortGpuDevice(ort: OrtWebModule): Promise<GpuDeviceLike | undefined> {
  try {
    return ((await ort.env.webgpu.device) as unknown as GpuDeviceLike | undefined) ?? undefined;
  } catch {
    return undefined;
  }
}

function describeAdapter(device: GpuDeviceLike): string {
  const info = device.adapterInfo;
  if (!info) return 'unknown adapter';
  const name = [info.vendor, info.architecture, info.description].filter((s) => s).join(' ') || 'unnamed adapter';
  return info.isFallbackAdapter ? `${name} (software fallback adapter)` : name;
}
