// The generation worker: owns the backend, runs generate() off the page's thread, streams progress.
import { generate, isMigmError, MigmError, type Backend, type GenerateOptions, type Predictor, type StepEvent } from '@migm/core';
import {
  type DeviceLogits,
  type DeviceSampleStep,
  type FeatureTensor,
  type FeatureTerm,
  type ForwardInput,
  type PromptTokenizer,
  type TextHandle,
  type VelocityControl,
} from '@migm/core/backend';
import { BUNDLE_CACHE_NAME, cacheStorageStore, createWebBackend, type WebBackend } from '@migm/backend-web';
import { methodName } from './methods.js';
import type { FromWorker, GenerateRequest, LoadRequest, Pixels, RunResult, ToWorker } from './protocol.js';

const scope = self as unknown as { postMessage(m: FromWorker, transfer?: Transferable[]): void; onmessage: ((e: MessageEvent<ToWorker>) => void) | null };
const post = (m: FromWorker, transfer: Transferable[] = []) => scope.postMessage(m, transfer);

let backend: WebBackend | undefined;
let lastLoad: LoadRequest | undefined;
let queue: Promise<void> = Promise.resolve();
const controllers = new Map<number, AbortController>();

scope.onmessage = (e) => {
  const msg = e.data;
  if (msg.type === 'cancel') {
    controllers.get(msg.id)?.abort();
    return;
  }
  // Loads and runs happen one after another; a load first cancels what is running.
  if (msg.type === 'load') for (const c of controllers.values()) c.abort();
  queue = queue.then(() => (msg.type === 'load' ? load(msg) : run(msg))).catch(() => undefined);
};

async function load(req: LoadRequest): Promise<void> {
  lastLoad = req;
  const t0 = performance.now();
  try {
    const b = await createWebBackend({
      bundle: req.bundleUrl,
      wasmPaths: req.wasmPaths,
      device: req.device,
      ...(req.cache === 'cache-storage' ? { fetch: { cache: cacheStorageStore(await caches.open(BUNDLE_CACHE_NAME)) } } : {}),
      // The whole load: bytes fetched or read from the cache (verified as they stream), cache problems, sessions.
      onProgress: (e) => {
        if (e.type === 'cache-error') post({ type: 'cache-error', file: e.file, operation: e.operation, message: e.message });
        else if (e.type === 'session-start' || e.type === 'session-done')
          post({ type: 'session', role: e.role, index: e.index, count: e.count, done: e.type === 'session-done' });
        else if (e.type === 'file-start' || e.type === 'file-progress' || e.type === 'file-done')
          post({ type: 'download', event: e.type, file: e.file, loaded: e.loaded, totalLoaded: e.totalLoaded, totalBytes: e.totalBytes, cached: e.cached });
      },
      onFallback: (f) => post({ type: 'fallback', device: f.device, message: f.error.message }),
      onDeviceLost: (message) => onDeviceLost(message),
    });
    // A first run pays one-off costs (wasm page-in, GPU shader compiles): pay them now so timings are fair.
    try {
      const warm = await generate(b, {
        ...(b.manifest.condition.type === 'text' ? { prompt: '' } : { condition: 0 }),
        steps: Math.min(2, b.manifest.tokens.count),
        seed: 0,
        ...(b.capabilities.velocity ? { predictor: 'shortcut', budget: 1 } : { predictor: 'vanilla' }),
      });
      await b.decode(warm.tokens, warm.batch);
    } catch (err) {
      await b.dispose();
      throw err;
    }
    // The old backend is freed only once the new one works, so a bad bundle URL leaves the page usable.
    const old = backend;
    backend = b;
    await old?.dispose();
    const s = b.selection;
    post({
      type: 'loaded',
      manifest: b.manifest,
      selection: {
        requested: s.requested,
        device: s.device,
        numThreads: s.numThreads,
        deviceFeatures: s.deviceFeatures,
        fallbacks: s.fallbacks.map((f) => ({ device: f.device, message: f.error.message })),
        ...(s.adapter ? { adapter: s.adapter } : {}),
      },
      loadMs: performance.now() - t0,
    });
  } catch (err) {
    post({ type: 'error', stage: 'load', kept: backend !== undefined, ...describe(err) });
  }
}

function onDeviceLost(message: string): void {
  post({ type: 'device-lost', message });
  // Under auto the page asked for "whatever works": carry on with wasm.
  if (lastLoad?.device === 'auto') scope.onmessage?.({ data: { ...lastLoad, device: 'wasm' } } as MessageEvent<ToWorker>);
}

async function run(req: GenerateRequest): Promise<void> {
  const b = backend;
  if (!b) {
    post({ type: 'error', id: req.id, stage: 'generate', code: 'UNSUPPORTED', message: 'No model is loaded: load a bundle first.' });
    return;
  }
  const ctl = new AbortController();
  controllers.set(req.id, ctl);
  const s = req.settings;
  const runs = s.compare ? (['vanilla', s.predictor] as const) : ([s.predictor] as const);
  const results: RunResult[] = [];
  try {
    for (const predictor of runs) {
      const result = await runOne(b, req, predictor, ctl.signal);
      post({ type: 'run-done', id: req.id, result });
      results.push(result);
    }
    post({ type: 'done', id: req.id, results });
  } catch (err) {
    if (isMigmError(err, 'ABORTED')) post({ type: 'cancelled', id: req.id });
    else post({ type: 'error', id: req.id, stage: 'generate', ...describe(err) });
  } finally {
    controllers.delete(req.id);
  }
}

async function runOne(b: Backend, req: GenerateRequest, predictor: Predictor, signal: AbortSignal): Promise<RunResult> {
  const s = req.settings;
  const label = methodName(predictor);
  const pv = new PreviewingBackend(
    b,
    (ev, preview) =>
      post(
        {
          type: 'step',
          id: req.id,
          run: label,
          step: ev.step,
          steps: ev.steps,
          kind: ev.kind,
          masked: ev.masked,
          elapsedMs: ev.elapsedMs - pv.previewMs,
          ...(preview ? { preview } : {}),
        },
        preview ? [preview.images.data.buffer as ArrayBuffer, preview.masked.buffer as ArrayBuffer] : [],
      ),
    s.preview,
    s.slowMs,
  );
  const result = await generate(pv, {
    ...(s.prompt !== null
      ? { prompt: s.prompt, batch: s.batch, ...(s.negativePrompt !== null ? { negativePrompt: s.negativePrompt } : {}) }
      : { condition: new Array<number>(s.batch).fill(s.classId) }),
    steps: s.steps,
    seed: s.seed,
    predictor,
    signal,
    onStep: (ev) => pv.stepped(ev),
    ...(predictor === 'vanilla' ? {} : { budget: s.budget }),
  });
  const previewMs = pv.previewMs;
  await pv.flush();
  const img = await b.decode(result.tokens, result.batch);
  const images: Pixels = { data: img.data, batch: img.batch, channels: img.channels, height: img.height, width: img.width };
  return {
    label,
    predictor,
    steps: result.steps,
    fullSteps: result.plan.length,
    images,
    tokens: result.tokens,
    ms: result.timings.totalMs - previewMs,
    previewMs,
    calls: { ...result.calls },
    truncated: result.text?.truncated === true,
  };
}

/**
 * Delegates to the real backend, and decodes the latest step's token grid for the preview right before the
 * next model call. The decode is awaited and timed there, so its cost can be taken out of the run's time
 * exactly (onStep itself must stay synchronous).
 */
class PreviewingBackend implements Backend {
  readonly name: string;
  readonly device: string;
  readonly manifest: Backend['manifest'];
  readonly capabilities: Backend['capabilities'];
  readonly velocity?: (feature: FeatureTensor, control: VelocityControl) => Promise<FeatureTensor>;
  readonly guidedHead?: (feature: FeatureTensor, weight: number, logits: Float32Array | DeviceLogits) => Promise<void>;
  readonly createLogits?: (rows: number) => DeviceLogits;
  readonly sampleStep?: (logits: DeviceLogits, step: DeviceSampleStep) => Promise<void>;
  readonly tokenizer?: PromptTokenizer;
  readonly encodeText?: (ids: Int32Array, count: number) => Promise<TextHandle>;
  previewMs = 0;
  #pending: { event: Omit<StepEvent, 'tokens'>; tokens: Int32Array } | undefined;

  constructor(
    private readonly inner: Backend,
    private readonly emit: (ev: Omit<StepEvent, 'tokens'>, preview?: { images: Pixels; masked: Uint8Array }) => void,
    private readonly decodePreview: boolean,
    private readonly slowMs: number,
  ) {
    this.name = inner.name;
    this.device = inner.device;
    this.manifest = inner.manifest;
    this.capabilities = inner.capabilities;
    // Optional capabilities travel with their methods (core refuses a flag without its method).
    if (inner.velocity) {
      const v = inner.velocity.bind(inner);
      this.velocity = async (f, c) => (await this.flush(), v(f, c));
    }
    if (inner.guidedHead) {
      const g = inner.guidedHead.bind(inner);
      this.guidedHead = async (f, w, logits) => (await this.flush(), g(f, w, logits));
    }
    if (inner.createLogits && inner.sampleStep) {
      this.createLogits = inner.createLogits.bind(inner);
      this.sampleStep = inner.sampleStep.bind(inner);
    }
    if (inner.tokenizer && inner.encodeText) {
      this.tokenizer = inner.tokenizer;
      this.encodeText = inner.encodeText.bind(inner);
    }
  }

  stepped(ev: StepEvent): void {
    const { tokens, ...event } = ev;
    if (!this.decodePreview && this.slowMs === 0) this.emit(event);
    else this.#pending = { event, tokens: tokens.slice() };
  }

  async flush(): Promise<void> {
    const p = this.#pending;
    if (!p) return;
    this.#pending = undefined;
    const t0 = performance.now();
    if (this.decodePreview) {
      const { maskId } = this.manifest.tokens;
      const masked = new Uint8Array(p.tokens.length);
      for (let i = 0; i < p.tokens.length; i++) {
        if (p.tokens[i] === maskId) {
          masked[i] = 1;
          p.tokens[i] = 0; // the decoder knows no mask token; the page hatches these positions
        }
      }
      const img = await this.inner.decode(p.tokens, p.event.batch);
      this.emit(p.event, { images: { data: img.data, batch: img.batch, channels: img.channels, height: img.height, width: img.width }, masked });
    } else this.emit(p.event);
    if (this.slowMs > 0) await new Promise((r) => setTimeout(r, this.slowMs));
    this.previewMs += performance.now() - t0;
  }

  async forward(input: ForwardInput): Promise<FeatureTensor> {
    await this.flush();
    return this.inner.forward(input);
  }
  async head(feature: FeatureTensor, logits: Float32Array | DeviceLogits): Promise<void> {
    await this.flush();
    return this.inner.head(feature, logits);
  }
  async combine(terms: readonly FeatureTerm[]): Promise<FeatureTensor> {
    await this.flush();
    return this.inner.combine(terms);
  }
  readFeature(feature: FeatureTensor): Promise<Float32Array> {
    return this.inner.readFeature(feature);
  }
  release(feature: FeatureTensor | DeviceLogits | TextHandle): void {
    this.inner.release(feature);
  }
  decode(tokens: Int32Array, batch: number) {
    return this.inner.decode(tokens, batch);
  }
  dispose(): Promise<void> {
    return this.inner.dispose();
  }
}

function describe(err: unknown): { code: string; message: string } {
  if (err instanceof MigmError) return { code: err.code, message: err.message };
  return { code: 'BACKEND_FAILURE', message: err instanceof Error ? err.message : String(err) };
}
