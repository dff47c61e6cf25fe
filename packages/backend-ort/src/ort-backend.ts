import { checkSampleStep, checkTerms, combineHost, guideFeatureHost, HostFeature, MigmError, type Backend, type BackendCapabilities, type DeviceLogits, type DeviceSampleStep, type FeatureTensor, type FeatureTerm, type ForwardInput, type GraphRole, type ImageBatch, type Manifest, type TensorSpec, type VelocityControl } from '@migm/core/backend';
import { affineHeadVerdict, checkDecodeInput, checkForwardInput, checkGuidedHead, checkVelocityControl } from './backend-inputs.js';
import { DeviceSampler, type SamplerOrt, type SamplerTraffic } from './device-sampler.js';
import { FeaturePool } from './feature-pool.js';
import { checkHostLogits, isLogitsHandle, LogitsHandles } from './logits-handles.js';
import { InFlight } from './in-flight.js';
import { checkLength, createSessions, errorText, graphRoles, intTensor, releaseSessions, type Sessions } from './sessions.js';
import type { InferenceSession, OrtModule, Tensor } from './ort-types.js';

/** A verified bundle: its manifest and the bytes of each file (from disk or fetch). */
export interface VerifiedBundle {
  readonly manifest: Manifest;
  readonly files: ReadonlyMap<string, Uint8Array>;
}

export interface OrtBackendOptions {
  readonly ort: OrtModule;
  readonly bundle: VerifiedBundle;
  /** Backend name reported to callers, e.g. "onnxruntime-node". */
  readonly name: string;
  /** The device these sessions run on, e.g. "cpu". */
  readonly device: string;
  /** Session options for every graph (execution providers, threads, optimisation level). */
  readonly sessionOptions?: InferenceSession.SessionOptions;
  /** Load the shortcut graph when the bundle has one. Default true. */
  readonly shortcut?: boolean;
  /** Load the evaluation classifier when the bundle has one. Default false. */
  readonly classifier?: boolean;
  /** Told when the bundle's affine-head claim fails its check and `guidedHead` is turned off. Default: console.warn. */
  readonly onWarning?: (message: string) => void;
  /**
   * Offer the device sampler (`capabilities.deviceSampling`: `createLogits`, `sampleStep`, logits handles): each
   * step's sampling runs as an onnxruntime graph in float64 on the CPU provider, next to logits kept in the
   * backend's memory, and gives the host sampler's tokens. Default false: on a CPU it is slower than core's host
   * sampler (BENCHMARKS.md, "Device sampling"), and generate()'s `sampler: 'auto'` takes it whenever offered.
   */
  readonly deviceSampling?: boolean;
  /** The CPU execution provider the sampler graph runs on: 'cpu' (onnxruntime-node, default) or 'wasm' (onnxruntime-web). */
  readonly samplerProvider?: 'cpu' | 'wasm';
}

/** Output of the evaluation classifier. */
export interface Classification {
  /** [batch, numClasses]. */
  readonly logits: Float32Array;
  /** Penultimate features [batch, F] (for Frechet distances). */
  readonly features: Float32Array;
  readonly featureDim: number;
}

/**
 * The onnxruntime implementation of core's `Backend`, shared by Node and the web. Features live in host
 * memory as `HostFeature`s whose buffers are pooled; model outputs are written straight into caller buffers
 * (logits) or pooled buffers (features) when the runtime accepts pre-allocated outputs.
 */
export class OrtBackend implements Backend {
  readonly name: string;
  readonly device: string;
  readonly manifest: Manifest;
  #capabilities: BackendCapabilities;
  readonly #ort: OrtModule;
  readonly #sessions: Sessions;
  readonly #pool = new FeaturePool();
  readonly #live = new Set<HostFeature>();
  readonly #inFlight = new InFlight();
  /** Logits handles: host memory of this backend, written in place by forward/head (no copy). */
  readonly #handles = new LogitsHandles<Float32Array>(() => {});
  readonly #sampler: DeviceSampler | null;
  #disposed = false;

  /** Creates the sessions and checks each graph against the manifest before returning. */
  static async create(options: OrtBackendOptions): Promise<OrtBackend> {
    const roles = graphRoles(options.bundle.manifest, { shortcut: options.shortcut, classifier: options.classifier });
    const sessions = await createSessions(options.ort, options.bundle, roles, options.device, () => options.sessionOptions);
    const backend = new OrtBackend(options, sessions);
    if (backend.capabilities.guidedHead) {
      try {
        if (!(await affineHeadVerdict(`${options.name}|${options.device}`, backend.manifest, (feature, rows) => backend.#headHost(feature, rows), options.onWarning))) backend.#dropGuidedHead();
      } catch (err) {
        await backend.dispose();
        throw err;
      }
    }
    return backend;
  }

  private constructor(options: OrtBackendOptions, sessions: Sessions) {
    this.#ort = options.ort;
    this.#sessions = sessions;
    this.name = options.name;
    this.device = options.device;
    this.manifest = options.bundle.manifest;
    const deviceSampling = options.deviceSampling === true;
    this.#capabilities = { velocity: sessions.shortcut !== undefined, deviceFeatures: false, guidedHead: this.manifest.graphs.head.affine === true, deviceSampling };
    if (!sessions.shortcut) (this as { velocity?: unknown }).velocity = undefined;
    if (!this.#capabilities.guidedHead) this.#dropGuidedHead();
    this.#sampler = null;
    if (deviceSampling) {
      const provider = options.samplerProvider ?? 'cpu';
      const threads = options.sessionOptions?.intraOpNumThreads;
      this.#sampler = new DeviceSampler({
        ort: options.ort as unknown as SamplerOrt,
        manifest: this.manifest,
        precision: 'float64',
        sessionOptions: { executionProviders: [provider], graphOptimizationLevel: 'all', ...(threads !== undefined ? { intraOpNumThreads: threads } : {}), ...(options.sessionOptions?.extra ? { extra: options.sessionOptions.extra } : {}) },
        where: `${this.name} on ${provider}`,
      });
    } else {
      (this as { createLogits?: unknown }).createLogits = undefined;
      (this as { sampleStep?: unknown }).sampleStep = undefined;
    }
  }

  get capabilities(): BackendCapabilities {
    return this.#capabilities;
  }

  #dropGuidedHead(): void {
    this.#capabilities = { ...this.#capabilities, guidedHead: false };
    (this as { guidedHead?: unknown }).guidedHead = undefined;
  }

  /** Feature tensors handed out and not yet released (for leak checks). */
  get liveFeatures(): number {
    return this.#live.size;
  }

  /** Logits handles handed out and not yet released (for leak checks). */
  get liveLogits(): number {
    return this.#handles.size;
  }

  /** A logits buffer [rows, L, K] in this backend's memory, for `forward`/`head`/`guidedHead` and `sampleStep`. */
  createLogits(rows: number): DeviceLogits {
    this.#alive();
    const { count: L, codebookSize: K } = this.manifest.tokens;
    return this.#handles.create(rows, L, K, (r) => new Float32Array(r * L * K));
  }

  /**
   * Samples one step on the logits in `logits` (core's `DeviceSampleStep`) with the sampler graph: float64 on
   * the CPU provider, the host sampler's tokens (see the package README for the measured agreement).
   */
  async sampleStep(logits: DeviceLogits, step: DeviceSampleStep): Promise<void> {
    this.#alive();
    const h = this.#handles.own('sampleStep', logits);
    const masked = checkSampleStep(this.manifest, h, step);
    const run = this.#sampler!.run(new this.#ort.Tensor('float32', h.store, h.dims), step, masked);
    try {
      await this.#inFlight.track(run);
    } catch (err) {
      this.#alive(); // cut short by dispose(): DISPOSED
      throw err;
    }
  }

  /** Bytes a `sampleStep` moves to and from the sampler graph (it runs in this process: copies, not transfers). */
  samplerTraffic(batch: number, masked: number, count: number, guided: boolean): SamplerTraffic | null {
    return this.#sampler?.traffic(batch, masked, count, guided) ?? null;
  }

  /** Writes host values into a logits handle's first rows (tests and tools; the model writes it otherwise). */
  writeLogits(logits: DeviceLogits, values: Float32Array): void {
    this.#alive();
    const h = this.#handles.own('writeLogits', logits);
    const { count: L, codebookSize: K } = this.manifest.tokens;
    if (!(values instanceof Float32Array) || values.length % (L * K) !== 0 || values.length > h.store.length) {
      throw new MigmError('INVALID_OPTION', `writeLogits: values must be a Float32Array of whole rows of L * K = ${L * K}, at most ${h.dims[0]} rows.`);
    }
    h.store.set(values);
  }

  /** The host array that receives `rows` rows of logits: the caller's buffer, or a handle's memory. */
  #logitsTarget(method: string, logits: Float32Array | DeviceLogits, rows: number): Float32Array {
    const { count: L, codebookSize: K } = this.manifest.tokens;
    if (!isLogitsHandle(logits)) {
      checkHostLogits(method, logits, rows * L * K);
      return logits as Float32Array;
    }
    return this.#handles.written(method, logits, rows).store.subarray(0, rows * L * K);
  }

  async forward(input: ForwardInput): Promise<FeatureTensor> {
    const session = this.#session('base');
    const { L, K, D } = checkForwardInput(this.manifest, input);
    const { tokens, classes, rows } = input;
    const logits = this.#logitsTarget('forward', input.logits, rows);
    const g = this.manifest.graphs.base;
    const feature = this.#pool.take(rows * L * D);
    try {
      await this.#run('base', session, {
        [g.inputs['tokens']!.name]: this.#int(g.inputs['tokens']!, tokens, [rows, L]),
        [g.inputs['classes']!.name]: this.#int(g.inputs['classes']!, classes, [rows]),
      }, [
        [g.outputs['logits']!.name, logits, [rows, L, K]],
        [g.outputs['feature']!.name, feature, [rows, L, D]],
      ]);
    } catch (err) {
      this.#pool.give(feature);
      throw err;
    }
    return this.#track(new HostFeature(feature, [rows, L, D]));
  }

  async head(feature: FeatureTensor, into: Float32Array | DeviceLogits): Promise<void> {
    const session = this.#session('head');
    const f = this.#own(feature);
    const [rows, L] = f.dims;
    const logits = this.#logitsTarget('head', into, rows);
    const g = this.manifest.graphs.head;
    await this.#run('head', session, { [g.inputs['feature']!.name]: new this.#ort.Tensor('float32', f.data, f.dims) }, [
      [g.outputs['logits']!.name, logits, [rows, L, this.manifest.tokens.codebookSize]],
    ]);
  }

  async guidedHead(feature: FeatureTensor, weight: number, into: Float32Array | DeviceLogits): Promise<void> {
    const session = this.#session('head');
    const f = this.#own(feature);
    const [rows, L, D] = f.dims;
    const K = this.manifest.tokens.codebookSize;
    const batch = checkGuidedHead(this.manifest, rows, L, into);
    const logits = this.#logitsTarget('guidedHead', into, batch);
    const g = this.manifest.graphs.head;
    const guided = this.#pool.take(batch * L * D);
    try {
      guideFeatureHost(guided, f.data, weight);
      await this.#run('head', session, { [g.inputs['feature']!.name]: new this.#ort.Tensor('float32', guided, [batch, L, D]) }, [
        [g.outputs['logits']!.name, logits, [batch, L, K]],
      ]);
    } finally {
      this.#pool.give(guided);
    }
  }

  async velocity(feature: FeatureTensor, control: VelocityControl): Promise<FeatureTensor> {
    const session = this.#session('shortcut');
    const f = this.#own(feature);
    const [rows, L, D] = f.dims;
    checkVelocityControl(this.manifest, rows, L, control);
    const n = control.count;
    const g = this.manifest.graphs.shortcut!;
    const out = this.#pool.take(rows * L * D);
    try {
      await this.#run('shortcut', session, {
        [g.inputs['feature']!.name]: new this.#ort.Tensor('float32', f.data, f.dims),
        [g.inputs['newTokens']!.name]: this.#int(g.inputs['newTokens']!, control.tokens, [rows, n]),
        [g.inputs['newPositions']!.name]: this.#int(g.inputs['newPositions']!, control.positions, [rows, n]),
        [g.inputs['ratio']!.name]: new this.#ort.Tensor('float32', control.ratio, [rows]),
      }, [[g.outputs['velocity']!.name, out, [rows, L, D]]]);
    } catch (err) {
      this.#pool.give(out);
      throw err;
    }
    return this.#track(new HostFeature(out, [rows, L, D]));
  }

  async combine(terms: readonly FeatureTerm[]): Promise<FeatureTensor> {
    this.#alive();
    const dims = checkTerms(terms);
    const arrays = terms.map((t) => this.#own(t.feature).data);
    const out = combineHost(this.#pool.take(dims[0] * dims[1] * dims[2]), arrays, terms.map((t) => t.coef));
    return this.#track(new HostFeature(out, dims));
  }

  async readFeature(feature: FeatureTensor): Promise<Float32Array> {
    return this.#own(feature).data.slice();
  }

  release(feature: FeatureTensor | DeviceLogits): void {
    if (isLogitsHandle(feature)) {
      this.#alive();
      this.#handles.release(this.#handles.own('release', feature));
      return;
    }
    const f = this.#own(feature);
    const data = f.data;
    f.release();
    this.#live.delete(f);
    this.#pool.give(data);
  }

  async decode(tokens: Int32Array, batch: number): Promise<ImageBatch> {
    const session = this.#session('decoder');
    const { count: L } = this.manifest.tokens;
    const { width, height, channels } = this.manifest.image;
    checkDecodeInput(this.manifest, tokens, batch);
    const g = this.manifest.graphs.decoder;
    const data = new Float32Array(batch * channels * height * width);
    await this.#run('decoder', session, { [g.inputs['tokens']!.name]: this.#int(g.inputs['tokens']!, tokens, [batch, L]) }, [
      [g.outputs['pixels']!.name, data, [batch, channels, height, width]],
    ]);
    return { data, batch, channels, height, width };
  }

  /** Runs the evaluation classifier (load it with `classifier: true`) on decoded images. */
  async classify(images: ImageBatch): Promise<Classification> {
    const session = this.#sessions.classifier;
    this.#alive();
    if (!session) throw new MigmError('UNSUPPORTED', 'The classifier graph is not loaded: create the backend with classifier: true (and a bundle that has graphs.classifier).');
    const g = this.manifest.graphs.classifier!;
    const { batch, channels, height, width } = images;
    checkLength('classify', 'pixels', images.data.length, batch * channels * height * width);
    const numClasses = this.manifest.condition.numClasses;
    const fShape = g.outputs['features']!.shape;
    const featureDim = typeof fShape[1] === 'number' ? fShape[1] : 0;
    const results = await this.#run('classifier', session, { [g.inputs['pixels']!.name]: new this.#ort.Tensor('float32', images.data, [batch, channels, height, width]) }, []);
    const logits = results[g.outputs['logits']!.name]!.data as Float32Array;
    const features = results[g.outputs['features']!.name]!.data as Float32Array;
    checkLength('classify', 'logits output', logits.length, batch * numClasses);
    return { logits, features, featureDim: featureDim || features.length / batch };
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.#inFlight.settle(); // nothing is freed under a running session
    for (const f of this.#live) f.release();
    this.#live.clear();
    this.#pool.clear();
    this.#handles.releaseAll();
    await this.#sampler?.release();
    await releaseSessions(this.#sessions);
  }

  /** Runs a session; outputs listed in `into` are written into those buffers (pre-allocated when the runtime allows). */
  async #run(
    role: GraphRole,
    session: InferenceSession,
    feeds: Record<string, Tensor>,
    into: readonly [name: string, buffer: Float32Array, dims: readonly number[]][],
  ): Promise<InferenceSession.OnnxValueMapType> {
    const fetches: Record<string, Tensor | null> = {};
    for (const name of session.outputNames) fetches[name] = null;
    for (const [name, buffer, dims] of into) fetches[name] = new this.#ort.Tensor('float32', buffer, dims);
    let results: InferenceSession.OnnxValueMapType;
    try {
      results = await this.#inFlight.track(session.run(feeds, fetches as InferenceSession.NullableOnnxValueMapType));
    } catch (err) {
      this.#alive(); // a run cut short by dispose() is DISPOSED, not a runtime failure
      throw new MigmError('BACKEND_FAILURE', `onnxruntime failed running graph ${role} (${this.manifest.graphs[role]!.file}): ${errorText(err)}`, { cause: err });
    }
    this.#alive(); // disposed while running: the results are not ours to hand out
    for (const [name, buffer] of into) {
      const out = results[name] as Tensor | undefined;
      if (!out) throw new MigmError('BACKEND_FAILURE', `Graph ${role} returned no output '${name}'.`);
      const data = out.data as Float32Array;
      if (data !== buffer) {
        // The runtime did not write into our buffer: copy once, after checking the size.
        checkLength(role, `output ${name}`, data.length, buffer.length);
        buffer.set(data);
      }
    }
    return results;
  }

  /** The head graph on a host feature [rows, L, D] (for the load-time affine check). */
  async #headHost(feature: Float32Array, rows: number): Promise<Float32Array> {
    const { count: L, codebookSize: K } = this.manifest.tokens;
    const g = this.manifest.graphs.head;
    const logits = new Float32Array(rows * L * K);
    await this.#run('head', this.#session('head'), { [g.inputs['feature']!.name]: new this.#ort.Tensor('float32', feature, [rows, L, this.manifest.featureDim]) }, [
      [g.outputs['logits']!.name, logits, [rows, L, K]],
    ]);
    return logits;
  }

  #int(spec: TensorSpec, data: Int32Array, dims: readonly number[]): Tensor {
    return intTensor(this.#ort, spec, data, dims);
  }

  #session(role: GraphRole): InferenceSession {
    this.#alive();
    const s = this.#sessions[role];
    if (!s) throw new MigmError('UNSUPPORTED', `Graph ${role} is not loaded in this backend.`);
    return s;
  }

  #alive(): void {
    if (this.#disposed) throw new MigmError('DISPOSED', `The ${this.name} backend was disposed.`);
  }

  #own(feature: FeatureTensor): HostFeature {
    this.#alive();
    if (!(feature instanceof HostFeature) || !this.#live.has(feature)) {
      if (feature instanceof HostFeature && feature.released) throw new MigmError('DISPOSED', 'This feature tensor was released and cannot be used.');
      throw new MigmError('INVALID_OPTION', 'This feature tensor was not made by this backend.');
    }
    return feature;
  }

  #track(f: HostFeature): HostFeature {
    this.#live.add(f);
    return f;
  }
}
