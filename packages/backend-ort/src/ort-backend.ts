import {
  classCondition,
  combineHost,
  guideFeatureHost,
  HostFeature,
  MigmError,
  type FeatureTensor,
  type GraphRole,
  type ImageBatch,
  type Manifest,
} from '@migm/core/backend';
import type { DeviceSamplerOptions, SamplerOrt } from './device-sampler.js';
import { FeaturePool } from './feature-pool.js';
import type { LogitsHandle } from './logits-handles.js';
import type { SessionProgressEvent } from './load-progress.js';
import { SessionBackend, type FeatureDims, type GraphOutputs } from './session-backend.js';
import { checkLength, createSessions, graphRoles, releaseSessions, type Sessions } from './sessions.js';
import { bundleTokenizer } from './tokenizer.js';
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
  /**
   * Told when the bundle's affine-head claim fails its check and `guidedHead` is turned off. The backend prints
   * nothing itself; the message is also kept in `backend.warnings`.
   */
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
  /** Hears each session start and finish (large graphs take seconds each). */
  readonly onProgress?: (event: SessionProgressEvent) => void;
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
 * (logits) or pooled buffers (features) when the runtime accepts pre-allocated outputs. The skeleton of each
 * call is `SessionBackend`'s; this class says how host-memory tensors are run and kept.
 */
export class OrtBackend extends SessionBackend<HostFeature, Float32Array> {
  readonly #pool = new FeaturePool();

  /** Creates the sessions and checks each graph against the manifest before returning. */
  static async create(options: OrtBackendOptions): Promise<OrtBackend> {
    const roles = graphRoles(options.bundle.manifest, { shortcut: options.shortcut, classifier: options.classifier });
    const sessions = await createSessions(options.ort, options.bundle, roles, options.device, () => options.sessionOptions, options.onProgress);
    let backend: OrtBackend;
    try {
      backend = new OrtBackend(options, sessions);
    } catch (err) {
      await releaseSessions(sessions);
      throw err;
    }
    await backend.verifyAffineHead(`${options.name}|${options.device}`, options.onWarning);
    return backend;
  }

  private constructor(options: OrtBackendOptions, sessions: Sessions) {
    const {
      ort,
      bundle: { manifest },
      name,
      device,
    } = options;
    super({
      ort,
      manifest,
      sessions,
      name,
      device,
      deviceFeatures: false,
      sampler: options.deviceSampling === true ? samplerOptions(options) : null,
      featureType: HostFeature,
      tokenizer: bundleTokenizer(options.bundle),
    });
  }

  async readFeature(feature: FeatureTensor): Promise<Float32Array> {
    return this.own(feature).data.slice();
  }

  /** Runs the evaluation classifier (load it with `classifier: true`) on decoded images. */
  async classify(images: ImageBatch): Promise<Classification> {
    const session = this.sessions.classifier;
    this.alive();
    if (!session)
      throw new MigmError(
        'UNSUPPORTED',
        'The classifier graph is not loaded: create the backend with classifier: true (and a bundle that has graphs.classifier).',
      );
    const g = this.manifest.graphs.classifier!;
    const { batch, channels, height, width } = images;
    checkLength('classify', 'pixels', images.data.length, batch * channels * height * width);
    const { numClasses } = classCondition(this.manifest, 'The evaluation classifier');
    const fShape = g.outputs['features']!.shape;
    const featureDim = typeof fShape[1] === 'number' ? fShape[1] : 0;
    const results = await this.#run(
      'classifier',
      session,
      { [g.inputs['pixels']!.name]: new this.ort.Tensor('float32', images.data, [batch, channels, height, width]) },
      [],
    );
    const logits = results[g.outputs['logits']!.name]!.data as Float32Array;
    const features = results[g.outputs['features']!.name]!.data as Float32Array;
    checkLength('classify', 'logits output', logits.length, batch * numClasses);
    return { logits, features, featureDim: featureDim || features.length / batch };
  }

  // A logits handle is host memory of this backend, written in place by forward/head (no copy).

  protected override newLogits(rows: number): Float32Array {
    const { count: L, codebookSize: K } = this.manifest.tokens;
    return new Float32Array(rows * L * K);
  }

  protected override logitsTensor(handle: LogitsHandle<Float32Array>): Tensor {
    return new this.ort.Tensor('float32', handle.store, handle.dims);
  }

  protected override writeLogitsStore(store: Float32Array, values: Float32Array): void {
    store.set(values);
  }

  protected override featureTensor(feature: HostFeature): Tensor {
    return new this.ort.Tensor('float32', feature.data, feature.dims);
  }

  protected override guideFeature(feature: HostFeature, weight: number, dims: FeatureDims): HostFeature {
    return this.#pooled(dims, (out) => guideFeatureHost(out, feature.data, weight));
  }

  protected override combineFeatures(features: readonly HostFeature[], coefs: readonly number[], dims: FeatureDims): HostFeature {
    return this.#pooled(dims, (out) =>
      combineHost(
        out,
        features.map((f) => f.data),
        coefs,
      ),
    );
  }

  protected override freeFeature(feature: HostFeature): void {
    const data = feature.data;
    feature.release();
    this.#pool.give(data);
  }

  protected override freeResources(): void {
    this.#pool.clear();
  }

  /** Outputs go straight into host buffers: the caller's logits (or a handle's rows), a pooled feature, pixels. */
  protected override async runGraph(
    role: GraphRole,
    session: InferenceSession,
    feeds: Record<string, Tensor>,
    outputs: GraphOutputs<Float32Array>,
  ): Promise<HostFeature | undefined> {
    const into: [string, Float32Array, readonly number[]][] = [];
    if (outputs.logits) {
      const { name, target, rows } = outputs.logits;
      const { count: L, codebookSize: K } = this.manifest.tokens;
      into.push([name, target instanceof Float32Array ? target : target.store.subarray(0, rows * L * K), [rows, L, K]]);
    }
    let feature: HostFeature | undefined;
    if (outputs.feature) {
      const { name, dims } = outputs.feature;
      feature = new HostFeature(this.#pool.take(dims[0] * dims[1] * dims[2]), dims);
      into.push([name, feature.data, dims]);
    }
    if (outputs.host) into.push([outputs.host.name, outputs.host.buffer, outputs.host.dims]);
    try {
      await this.#run(role, session, feeds, into);
    } catch (err) {
      if (feature) this.freeFeature(feature);
      throw err;
    }
    return feature;
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
    for (const [name, buffer, dims] of into) fetches[name] = new this.ort.Tensor('float32', buffer, dims);
    const results = await this.settleRun(role, session.run(feeds, fetches as InferenceSession.NullableOnnxValueMapType));
    for (const [name, buffer] of into) this.copyOutput(role, results, name, buffer);
    return results;
  }

  /** A pooled host feature of `dims`, filled by `fill`; the buffer goes back to the pool if `fill` throws. */
  #pooled(dims: FeatureDims, fill: (out: Float32Array) => unknown): HostFeature {
    const out = this.#pool.take(dims[0] * dims[1] * dims[2]);
    try {
      fill(out);
    } catch (err) {
      this.#pool.give(out);
      throw err;
    }
    return new HostFeature(out, dims);
  }
}

/** The device sampler on a CPU provider: float64, the host sampler's tokens, the backend's thread setting. */
function samplerOptions(options: OrtBackendOptions): DeviceSamplerOptions {
  const provider = options.samplerProvider ?? 'cpu';
  const threads = options.sessionOptions?.intraOpNumThreads;
  return {
    ort: options.ort as unknown as SamplerOrt,
    manifest: options.bundle.manifest,
    precision: 'float64',
    sessionOptions: {
      executionProviders: [provider],
      graphOptimizationLevel: 'all',
      ...(threads !== undefined ? { intraOpNumThreads: threads } : {}),
      ...(options.sessionOptions?.extra ? { extra: options.sessionOptions.extra } : {}),
    },
    where: `${options.name} on ${provider}`,
  };
}
