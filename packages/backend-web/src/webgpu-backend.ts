import {
  bundleTokenizer,
  checkLength,
  createSessions,
  graphRoles,
  releaseSessions,
  SessionBackend,
  type FeatureDims,
  type GraphOutputs,
  type LogitsHandle,
  type LogitsTarget,
  type OrtModule,
  type SamplerOrt,
  type Sessions,
  type SessionProgressEvent,
  type VerifiedBundle,
} from '@migm/backend-ort';
import { MigmError, type FeatureTensor, type GraphRole } from '@migm/core/backend';
import type * as OrtWeb from 'onnxruntime-web';
import type { InferenceSession, Tensor } from 'onnxruntime-web';
import { GpuBuffers, type GPUBufferLike, type GPUDeviceLike, type GpuLogits, type GpuTensorType } from './gpu-buffers.js';

/** A feature that lives in a GPU buffer, as an onnxruntime-web tensor. */
class GpuFeature implements FeatureTensor {
  constructor(
    readonly tensor: Tensor,
    readonly dims: FeatureDims,
  ) {}
  released = false;
}

export interface WebGpuBackendOptions {
  readonly ort: typeof OrtWeb;
  readonly bundle: VerifiedBundle;
  readonly sessionOptions: InferenceSession.SessionOptions;
  readonly shortcut?: boolean;
  /**
   * Told when the bundle's affine-head claim fails its check and `guidedHead` is turned off. The backend prints
   * nothing itself; the message is also kept in `backend.warnings`.
   */
  readonly onWarning?: (message: string) => void;
  /**
   * Offer the device sampler (`capabilities.deviceSampling`): logits stay in GPU buffers and each step is sampled
   * there by a float32 onnxruntime graph, so only the revealed positions and ids come back. Default true.
   */
  readonly deviceSampling?: boolean;
  /** Hears each session start and finish. */
  readonly onProgress?: (event: SessionProgressEvent) => void;
}

/**
 * The WebGPU backend with GPU-resident features: the base model's feature and the shortcut's velocity are
 * kept as GPU buffers (onnxruntime-web 'gpu-buffer' outputs) and fed back as inputs; `combine` runs as a WGSL
 * compute pass on onnxruntime-web's own GPU device. Only logits (needed by sampling) and decoded pixels come
 * back to the CPU. See the README for the transfers per step. The skeleton of each call is backend-ort's
 * `SessionBackend`; this class says how GPU-resident tensors are run, moved and kept.
 */
export class WebGpuBackend extends SessionBackend<GpuFeature, GpuLogits> {
  declare readonly name: 'onnxruntime-web';
  declare readonly device: 'webgpu';
  readonly #buffers: GpuBuffers;

  static async create(options: WebGpuBackendOptions): Promise<WebGpuBackend> {
    const { manifest } = options.bundle;
    const roles = graphRoles(manifest, { shortcut: options.shortcut });
    // Feature-valued outputs stay on the GPU; everything else comes back to the CPU.
    // Logits stay there too: a logits handle gets them by a GPU copy, a host buffer by a download.
    const g = manifest.graphs;
    const gpuOutputs: Partial<Record<GraphRole, string[]>> = {
      base: [g.base.outputs['feature']!.name, g.base.outputs['logits']!.name],
      head: [g.head.outputs['logits']!.name],
      shortcut: g.shortcut ? [g.shortcut.outputs['velocity']!.name] : [],
      // A text handle keeps the encoded prompts on the GPU: each forward binds them, nothing is uploaded per step.
      textEncoder: g.textEncoder ? [g.textEncoder.outputs['textStates']!.name, g.textEncoder.outputs['pooled']!.name] : [],
    };
    const sessions = await createSessions(
      options.ort as unknown as OrtModule,
      options.bundle,
      roles,
      'webgpu',
      (role) => {
        const outs = gpuOutputs[role] ?? [];
        return {
          ...options.sessionOptions,
          ...(outs.length ? { preferredOutputLocation: Object.fromEntries(outs.map((o) => [o, 'gpu-buffer' as const])) } : {}),
        };
      },
      options.onProgress,
    );
    let backend: WebGpuBackend;
    try {
      const gpu = (await options.ort.env.webgpu.device) as unknown as GPUDeviceLike | undefined;
      if (!gpu)
        throw new MigmError('BACKEND_FAILURE', 'onnxruntime-web did not expose its GPU device; GPU-resident features need it (use deviceFeatures: false).');
      backend = new WebGpuBackend(options, sessions, gpu);
    } catch (err) {
      await releaseSessions(sessions);
      throw err;
    }
    await backend.verifyAffineHead('onnxruntime-web|webgpu-resident', options.onWarning);
    return backend;
  }

  private constructor(options: WebGpuBackendOptions, sessions: Sessions, gpu: GPUDeviceLike) {
    const {
      ort,
      bundle: { manifest },
    } = options;
    // WebGPU has no float64: the sampler runs in float32 there (near, not bit-for-bit, parity; see the README).
    const sampler =
      options.deviceSampling !== false
        ? {
            ort: ort as unknown as SamplerOrt,
            manifest,
            precision: 'float32' as const,
            sessionOptions: { ...options.sessionOptions, executionProviders: ['webgpu'] },
            where: 'onnxruntime-web on webgpu',
          }
        : null;
    super({
      ort: ort as unknown as OrtModule,
      manifest,
      sessions,
      name: 'onnxruntime-web',
      device: 'webgpu',
      deviceFeatures: true,
      sampler,
      featureType: GpuFeature,
      tokenizer: bundleTokenizer(options.bundle),
    });
    this.#buffers = new GpuBuffers(gpu, ort);
  }

  async readFeature(feature: FeatureTensor): Promise<Float32Array> {
    const f = this.own(feature);
    return new Float32Array((await f.tensor.getData()) as Float32Array);
  }

  // A logits handle is a GPU buffer [rows, L, K]: the model's logits reach it by a GPU copy.

  protected override newLogits(rows: number): GpuLogits {
    // The buffer is ours (destroyed on release), so the tensor gets no dispose callback of its own.
    return this.#buffers.logits([rows, this.manifest.tokens.count, this.manifest.tokens.codebookSize]);
  }

  protected override freeLogits(store: GpuLogits): void {
    store.buffer.destroy();
  }

  /** The sampler graph reads the handle's buffer where it is (a float32 graph on WebGPU); only positions and ids come back. */
  protected override logitsTensor(handle: LogitsHandle<GpuLogits>): Tensor {
    return handle.store.tensor;
  }

  protected override writeLogitsStore(store: GpuLogits, values: Float32Array): void {
    this.#buffers.write(store.buffer, values);
  }

  /** A text encoder output stays where the run left it, on the GPU (a host one, from a runtime that kept it there, is checked and copied). */
  protected override keepTextOutput(role: string, out: Tensor): Tensor {
    return out.location === 'gpu-buffer' ? out : super.keepTextOutput(role, out);
  }

  /**
   * A text input's rows gathered by GPU copies from the encoder's GPU output; host values (prompt ids, or an
   * output that came back to the CPU) are gathered there and uploaded once. Either way each later step binds
   * the same GPU buffer; the handle's release destroys it.
   */
  protected override gatherText(value: Tensor, index: Int32Array): Tensor {
    const type = value.type as GpuTensorType;
    const dims = [index.length, ...value.dims.slice(1).map(Number)];
    if (value.location === 'gpu-buffer') {
      const rowBytes = (value.size / value.dims[0]!) * (type === 'int64' ? 8 : 4);
      return this.#buffers.gatherRows(value.gpuBuffer as unknown as GPUBufferLike, rowBytes, index, type, dims);
    }
    return this.#buffers.upload(super.gatherText(value, index).data as Float32Array | Int32Array | BigInt64Array, type, dims);
  }

  protected override featureTensor(feature: GpuFeature): Tensor {
    return feature.tensor;
  }

  /** (1 + w) f_cond - w f_uncond on the GPU; only the B guided rows of logits come back. */
  protected override guideFeature(feature: GpuFeature, weight: number, dims: FeatureDims): GpuFeature {
    // Checked before any GPU work (on host features core's guideFeatureHost checks it).
    if (!Number.isFinite(weight) || weight < 0) throw new MigmError('INVALID_OPTION', `guidedHead: weight ${weight} is not allowed; a finite number >= 0 is.`);
    const half = dims[0] * dims[1] * dims[2];
    const source = feature.tensor.gpuBuffer as unknown as GPUBufferLike;
    const parts = [{ buffer: source, coef: 1 + weight, offset: 0 }, ...(weight === 0 ? [] : [{ buffer: source, coef: -weight, offset: half }])];
    return new GpuFeature(this.#buffers.combine(parts, dims), dims);
  }

  protected override combineFeatures(features: readonly GpuFeature[], coefs: readonly number[], dims: FeatureDims): GpuFeature {
    // A later term with coefficient 0 adds nothing: its dispatch is skipped.
    const parts = features
      .map((f, j) => ({ buffer: f.tensor.gpuBuffer as unknown as GPUBufferLike, coef: coefs[j]!, offset: 0 }))
      .filter((p, j) => j === 0 || p.coef !== 0);
    return new GpuFeature(this.#buffers.combine(parts, dims), dims);
  }

  protected override freeFeature(feature: GpuFeature): void {
    feature.released = true;
    feature.tensor.dispose();
  }

  protected override freeResources(): void {
    this.#buffers.destroy();
  }

  /** Logits go to a handle by a GPU copy or to a host buffer by a download; a feature output stays on the GPU. */
  protected override async runGraph(
    role: GraphRole,
    session: InferenceSession,
    feeds: Record<string, Tensor>,
    outputs: GraphOutputs<GpuLogits>,
  ): Promise<GpuFeature | undefined> {
    const results = (await this.settleRun(role, session.run(feeds), { on: this.device, discard: disposeAll })) as Results;
    try {
      if (outputs.logits) await this.#copyLogits(results, outputs.logits.name, outputs.logits.target, outputs.logits.rows);
      if (outputs.host) this.copyOutput(role, results, outputs.host.name, outputs.host.buffer);
    } catch (err) {
      disposeAll(results);
      throw err;
    }
    if (outputs.feature) return this.#gpuFeature(results, outputs.feature.name, outputs.feature.dims);
    disposeAll(results);
    return undefined;
  }

  /**
   * Moves a graph's logits output (`rows` rows, on the GPU) to where the caller wants them: into a logits
   * handle by a GPU-side copy (nothing crosses to the CPU), or into a host buffer by a download.
   */
  async #copyLogits(results: Results, name: string, target: LogitsTarget<GpuLogits>, rows: number): Promise<void> {
    const t = results[name];
    if (!t) throw new MigmError('BACKEND_FAILURE', `A graph returned no output '${name}'.`);
    try {
      const values = rows * this.manifest.tokens.count * this.manifest.tokens.codebookSize;
      checkLength(
        'logits',
        `output ${name}`,
        t.dims.reduce((a, d) => a * d, 1),
        values,
      );
      if (target instanceof Float32Array) {
        target.set((t.location === 'gpu-buffer' ? await t.getData() : t.data) as Float32Array);
      } else if (t.location === 'gpu-buffer') {
        this.#buffers.copy(t.gpuBuffer as unknown as GPUBufferLike, target.store.buffer, values * 4);
      } else {
        this.#buffers.write(target.store.buffer, t.data as Float32Array);
      }
    } finally {
      t.dispose();
    }
  }

  /** The feature output `name` as a GPU-resident feature; the run's other outputs are freed. */
  #gpuFeature(results: Results, name: string, dims: FeatureDims): GpuFeature {
    const t = results[name];
    for (const [k, v] of Object.entries(results)) if (k !== name) v.dispose();
    if (!t || t.location !== 'gpu-buffer') {
      t?.dispose();
      throw new MigmError('BACKEND_FAILURE', `Output '${name}' did not stay on the GPU (location ${t?.location ?? 'missing'}).`);
    }
    return new GpuFeature(t, dims);
  }
}

/** A session run's outputs (all tensors for these graphs). */
type Results = Record<string, Tensor>;

function disposeAll(results: InferenceSession.OnnxValueMapType): void {
  for (const t of Object.values(results)) (t as Tensor).dispose();
}
