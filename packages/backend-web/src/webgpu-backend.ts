import {
  affineHeadVerdict,
  InFlight,
  checkDecodeInput,
  checkForwardInput,
  checkGuidedHead,
  checkHostLogits,
  checkLength,
  checkVelocityControl,
  createSessions,
  DeviceSampler,
  errorText,
  graphRoles,
  intTensor,
  isLogitsHandle,
  LogitsHandles,
  releaseSessions,
  type LogitsHandle,
  type OrtModule,
  type SamplerOrt,
  type SamplerTraffic,
  type VerifiedBundle,
} from '@migm/backend-ort';
import { checkSampleStep, checkTerms, MigmError, type Backend, type BackendCapabilities, type DeviceLogits, type DeviceSampleStep, type FeatureTensor, type FeatureTerm, type ForwardInput, type GraphRole, type GraphSpec, type ImageBatch, type Manifest, type TensorSpec, type VelocityControl } from '@migm/core/backend';
import type * as OrtWeb from 'onnxruntime-web';
import type { InferenceSession, Tensor } from 'onnxruntime-web';

// Minimal WebGPU declarations (TypeScript 5.9's DOM lib has none); the values are real GPU objects.
interface GPUBufferLike {
  readonly size: number;
  destroy(): void;
  mapAsync(mode: number): Promise<void>;
  getMappedRange(): ArrayBuffer;
  unmap(): void;
}
interface GPUDeviceLike {
  readonly queue: { writeBuffer(buffer: GPUBufferLike, offset: number, data: ArrayBufferView): void; submit(commands: unknown[]): void; onSubmittedWorkDone(): Promise<void> };
  createBuffer(d: { size: number; usage: number }): GPUBufferLike;
  createShaderModule(d: { code: string }): unknown;
  createComputePipeline(d: { layout: 'auto'; compute: { module: unknown; entryPoint: string } }): { getBindGroupLayout(i: number): unknown };
  createBindGroup(d: { layout: unknown; entries: { binding: number; resource: { buffer: GPUBufferLike } }[] }): unknown;
  createCommandEncoder(): {
    beginComputePass(): { setPipeline(p: unknown): void; setBindGroup(i: number, g: unknown): void; dispatchWorkgroups(x: number, y?: number): void; end(): void };
    copyBufferToBuffer(src: GPUBufferLike, so: number, dst: GPUBufferLike, doff: number, size: number): void;
    finish(): unknown;
  };
}
// GPUBufferUsage / GPUMapMode bits (spec constants; not every worker scope exposes the globals to TypeScript).
const MAP_READ = 0x0001;
const COPY_SRC = 0x0004;
const COPY_DST = 0x0008;
const UNIFORM = 0x0040;
const STORAGE = 0x0080;

const WORKGROUP = 256;
/**
 * out = c * a[offset..] (first term) or out = out + c * a[offset..] (later terms): one dispatch per term, like
 * combineHost. The offset lets guidedHead read the unconditional half of a [cond; uncond] feature.
 */
const COMBINE_WGSL = /* wgsl */ `
struct Params { c: f32, accumulate: u32, n: u32, width: u32, offset: u32, pad0: u32, pad1: u32, pad2: u32 }
@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> p: Params;
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  let i = id.y * p.width + id.x;
  if (i >= p.n) { return; }
  let v = p.c * a[p.offset + i];
  if (p.accumulate == 1u) { out[i] = out[i] + v; } else { out[i] = v; }
}`;

/** A feature that lives in a GPU buffer, as an onnxruntime-web tensor. */
class GpuFeature implements FeatureTensor {
  constructor(
    readonly tensor: Tensor,
    readonly dims: readonly [number, number, number],
  ) {}
  released = false;
}

type Sessions = Partial<Record<GraphRole, InferenceSession>>;

/** Where a logits handle lives: a GPU buffer [rows, L, K] float32, and the tensor the sampler graph reads it as. */
interface GpuLogits {
  readonly buffer: GPUBufferLike;
  readonly tensor: Tensor;
}

export interface WebGpuBackendOptions {
  readonly ort: typeof OrtWeb;
  readonly bundle: VerifiedBundle;
  readonly sessionOptions: InferenceSession.SessionOptions;
  readonly shortcut?: boolean;
  /** Told when the bundle's affine-head claim fails its check and `guidedHead` is turned off. Default: console.warn. */
  readonly onWarning?: (message: string) => void;
  /**
   * Offer the device sampler (`capabilities.deviceSampling`): logits stay in GPU buffers and each step is sampled
   * there by a float32 onnxruntime graph, so only the revealed positions and ids come back. Default true.
   */
  readonly deviceSampling?: boolean;
}

/**
 * The WebGPU backend with GPU-resident features: the base model's feature and the shortcut's velocity are
 * kept as GPU buffers (onnxruntime-web 'gpu-buffer' outputs) and fed back as inputs; `combine` runs as a WGSL
 * compute pass on onnxruntime-web's own GPU device. Only logits (needed by sampling) and decoded pixels come
 * back to the CPU. See the README for the transfers per step.
 */
export class WebGpuBackend implements Backend {
  readonly name = 'onnxruntime-web';
  readonly device = 'webgpu';
  readonly manifest: Manifest;
  #capabilities: BackendCapabilities;
  readonly #ort: typeof OrtWeb;
  readonly #sessions: Sessions;
  readonly #gpu: GPUDeviceLike;
  readonly #live = new Set<GpuFeature>();
  readonly #inFlight = new InFlight();
  readonly #free = new Map<number, GPUBufferLike[]>();
  readonly #uniforms: GPUBufferLike[] = [];
  readonly #pipeline: { getBindGroupLayout(i: number): unknown };
  readonly #handles = new LogitsHandles<GpuLogits>((g) => g.buffer.destroy());
  readonly #sampler: DeviceSampler | null;
  #disposed = false;

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
    };
    const sessions = (await createSessions(options.ort as unknown as OrtModule, options.bundle, roles, 'webgpu', (role) => {
      const outs = gpuOutputs[role] ?? [];
      return { ...options.sessionOptions, ...(outs.length ? { preferredOutputLocation: Object.fromEntries(outs.map((o) => [o, 'gpu-buffer' as const])) } : {}) };
    })) as Sessions;
    let backend: WebGpuBackend;
    try {
      const gpu = (await options.ort.env.webgpu.device) as unknown as GPUDeviceLike | undefined;
      if (!gpu) throw new MigmError('BACKEND_FAILURE', 'onnxruntime-web did not expose its GPU device; GPU-resident features need it (use deviceFeatures: false).');
      backend = new WebGpuBackend(options, sessions, gpu);
    } catch (err) {
      await releaseSessions(sessions as never);
      throw err;
    }
    if (backend.capabilities.guidedHead) {
      try {
        if (!(await affineHeadVerdict('onnxruntime-web|webgpu-resident', manifest, (feature, rows) => backend.#headHost(feature, rows), options.onWarning))) backend.#dropGuidedHead();
      } catch (err) {
        await backend.dispose();
        throw err;
      }
    }
    return backend;
  }

  private constructor(options: WebGpuBackendOptions, sessions: Sessions, gpu: GPUDeviceLike) {
    const { ort, bundle: { manifest } } = options;
    this.#ort = ort;
    this.manifest = manifest;
    this.#sessions = sessions;
    this.#gpu = gpu;
    const deviceSampling = options.deviceSampling !== false;
    this.#capabilities = { velocity: sessions.shortcut !== undefined, deviceFeatures: true, guidedHead: manifest.graphs.head.affine === true, deviceSampling };
    if (!sessions.shortcut) (this as { velocity?: unknown }).velocity = undefined;
    if (!this.#capabilities.guidedHead) this.#dropGuidedHead();
    // WebGPU has no float64: the sampler runs in float32 there (near, not bit-for-bit, parity; see the README).
    this.#sampler = deviceSampling
      ? new DeviceSampler({ ort: ort as unknown as SamplerOrt, manifest, precision: 'float32', sessionOptions: { ...options.sessionOptions, executionProviders: ['webgpu'] }, where: 'onnxruntime-web on webgpu' })
      : null;
    if (!deviceSampling) {
      (this as { createLogits?: unknown }).createLogits = undefined;
      (this as { sampleStep?: unknown }).sampleStep = undefined;
    }
    this.#pipeline = gpu.createComputePipeline({ layout: 'auto', compute: { module: gpu.createShaderModule({ code: COMBINE_WGSL }), entryPoint: 'main' } });
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

  /** A logits buffer [rows, L, K] on the GPU, for `forward`/`head`/`guidedHead` and `sampleStep`. */
  createLogits(rows: number): DeviceLogits {
    this.#alive();
    const { count: L, codebookSize: K } = this.manifest.tokens;
    return this.#handles.create(rows, L, K, (r) => {
      const buffer = this.#gpu.createBuffer({ size: r * L * K * 4, usage: STORAGE | COPY_SRC | COPY_DST });
      // The buffer is ours (destroyed on release), so the tensor gets no dispose callback of its own.
      const tensor = this.#ort.Tensor.fromGpuBuffer(buffer as never, { dataType: 'float32', dims: [r, L, K], download: () => this.#download(buffer, r * L * K * 4) }) as unknown as Tensor;
      return { buffer, tensor };
    });
  }

  /** Samples one step where the logits are (a float32 graph on WebGPU); only positions and ids come back. */
  async sampleStep(logits: DeviceLogits, step: DeviceSampleStep): Promise<void> {
    this.#alive();
    const h = this.#handles.own('sampleStep', logits);
    const masked = checkSampleStep(this.manifest, h, step);
    try {
      await this.#inFlight.track(this.#sampler!.run(h.store.tensor, step, masked));
    } catch (err) {
      this.#alive();
      throw err;
    }
  }

  /** Bytes a `sampleStep` moves between the CPU and the GPU (against the logits [rows, L, K] it saves). */
  samplerTraffic(batch: number, masked: number, count: number, guided: boolean): SamplerTraffic | null {
    return this.#sampler?.traffic(batch, masked, count, guided) ?? null;
  }

  /** Uploads host values into a logits handle's first rows (tests and tools; the model writes it otherwise). */
  writeLogits(logits: DeviceLogits, values: Float32Array): void {
    this.#alive();
    const h = this.#handles.own('writeLogits', logits);
    const { count: L, codebookSize: K } = this.manifest.tokens;
    if (!(values instanceof Float32Array) || values.length % (L * K) !== 0 || values.length > h.dims[0] * L * K) {
      throw new MigmError('INVALID_OPTION', `writeLogits: values must be a Float32Array of whole rows of L * K = ${L * K}, at most ${h.dims[0]} rows.`);
    }
    this.#gpu.queue.writeBuffer(h.store.buffer, 0, values);
  }

  async forward(input: ForwardInput): Promise<FeatureTensor> {
    const session = this.#session('base');
    const { L, D } = checkForwardInput(this.manifest, input);
    const { tokens, classes, rows } = input;
    const logits = this.#logitsTarget('forward', input.logits, rows);
    const g = this.manifest.graphs.base;
    const out = await this.#run('base', session, {
      [g.inputs['tokens']!.name]: this.#int(g.inputs['tokens']!, tokens, [rows, L]),
      [g.inputs['classes']!.name]: this.#int(g.inputs['classes']!, classes, [rows]),
    });
    try {
      await this.#copyLogits(out, g.outputs['logits']!.name, logits, rows);
    } catch (err) {
      disposeAll(out);
      throw err;
    }
    return this.#track(out, g.outputs['feature']!.name, [rows, L, D]);
  }

  async head(feature: FeatureTensor, into: Float32Array | DeviceLogits): Promise<void> {
    const session = this.#session('head');
    const f = this.#own(feature);
    const rows = f.dims[0];
    const logits = this.#logitsTarget('head', into, rows);
    const g = this.manifest.graphs.head;
    const out = await this.#run('head', session, { [g.inputs['feature']!.name]: f.tensor });
    await this.#copyLogits(out, g.outputs['logits']!.name, logits, rows);
  }

  async velocity(feature: FeatureTensor, control: VelocityControl): Promise<FeatureTensor> {
    const session = this.#session('shortcut');
    const f = this.#own(feature);
    const [rows, L, D] = f.dims;
    checkVelocityControl(this.manifest, rows, L, control);
    const n = control.count;
    const g = this.manifest.graphs.shortcut!;
    const out = await this.#run('shortcut', session, {
      [g.inputs['feature']!.name]: f.tensor,
      [g.inputs['newTokens']!.name]: this.#int(g.inputs['newTokens']!, control.tokens, [rows, n]),
      [g.inputs['newPositions']!.name]: this.#int(g.inputs['newPositions']!, control.positions, [rows, n]),
      [g.inputs['ratio']!.name]: new this.#ort.Tensor('float32', control.ratio, [rows]),
    });
    return this.#track(out, g.outputs['velocity']!.name, [rows, L, D]);
  }

  async combine(terms: readonly FeatureTerm[]): Promise<FeatureTensor> {
    this.#alive();
    const dims = checkTerms(terms);
    const n = dims[0] * dims[1] * dims[2];
    const parts = terms.map((t, j) => ({ buffer: this.#own(t.feature).tensor.gpuBuffer as unknown as GPUBufferLike, coef: t.coef, offset: 0, skip: j > 0 && t.coef === 0 }));
    const f = new GpuFeature(this.#combineInto(parts.filter((p) => !p.skip), n, dims), dims);
    this.#live.add(f);
    return f;
  }

  async guidedHead(feature: FeatureTensor, weight: number, into: Float32Array | DeviceLogits): Promise<void> {
    const session = this.#session('head');
    const f = this.#own(feature);
    const [rows, L, D] = f.dims;
    if (!Number.isFinite(weight) || weight < 0) throw new MigmError('INVALID_OPTION', `guidedHead: weight ${weight} is not allowed; a finite number >= 0 is.`);
    const batch = checkGuidedHead(this.manifest, rows, L, into);
    const logits = this.#logitsTarget('guidedHead', into, batch);
    const half = batch * L * D;
    const source = f.tensor.gpuBuffer as unknown as GPUBufferLike;
    // (1 + w) f_cond - w f_uncond on the GPU; only the B guided rows of logits come back.
    const parts = [{ buffer: source, coef: 1 + weight, offset: 0 }, ...(weight === 0 ? [] : [{ buffer: source, coef: -weight, offset: half }])];
    const guided = this.#combineInto(parts, half, [batch, L, D]);
    try {
      const g = this.manifest.graphs.head;
      const out = await this.#run('head', session, { [g.inputs['feature']!.name]: guided });
      await this.#copyLogits(out, g.outputs['logits']!.name, logits, batch);
    } finally {
      guided.dispose();
    }
  }

  /** Runs the combine shader over `parts` into a pooled GPU buffer of n floats and wraps it as a tensor. */
  #combineInto(parts: readonly { buffer: GPUBufferLike; coef: number; offset: number }[], n: number, dims: readonly [number, number, number]): Tensor {
    const bytes = n * 4;
    const out = this.#free.get(bytes)?.pop() ?? this.#gpu.createBuffer({ size: bytes, usage: STORAGE | COPY_SRC | COPY_DST });
    const groups = Math.ceil(n / WORKGROUP);
    const gx = Math.min(groups, 65535);
    const gy = Math.ceil(groups / gx);
    const encoder = this.#gpu.createCommandEncoder();
    for (let j = 0; j < parts.length; j++) {
      const uniform = (this.#uniforms[j] ??= this.#gpu.createBuffer({ size: 32, usage: UNIFORM | COPY_DST }));
      const params = new ArrayBuffer(32);
      new Float32Array(params, 0, 1)[0] = parts[j]!.coef;
      new Uint32Array(params, 4, 4).set([j === 0 ? 0 : 1, n, gx * WORKGROUP, parts[j]!.offset]);
      this.#gpu.queue.writeBuffer(uniform, 0, new Uint8Array(params));
      const group = this.#gpu.createBindGroup({
        layout: this.#pipeline.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: { buffer: parts[j]!.buffer } },
          { binding: 1, resource: { buffer: out } },
          { binding: 2, resource: { buffer: uniform } },
        ],
      });
      const pass = encoder.beginComputePass();
      pass.setPipeline(this.#pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(gx, gy);
      pass.end();
    }
    this.#gpu.queue.submit([encoder.finish()]);
    return this.#ort.Tensor.fromGpuBuffer(out as never, {
      dataType: 'float32',
      dims,
      download: () => this.#download(out, bytes),
      dispose: () => this.#recycle(out, bytes),
    }) as unknown as Tensor;
  }

  /** The head graph on a host feature [rows, L, D] (for the load-time affine check). */
  async #headHost(feature: Float32Array, rows: number): Promise<Float32Array> {
    const { count: L, codebookSize: K } = this.manifest.tokens;
    const g = this.manifest.graphs.head;
    const out = await this.#run('head', this.#session('head'), { [g.inputs['feature']!.name]: new this.#ort.Tensor('float32', feature, [rows, L, this.manifest.featureDim]) });
    const logits = new Float32Array(rows * L * K);
    await this.#copyLogits(out, g.outputs['logits']!.name, logits, rows);
    return logits;
  }

  async readFeature(feature: FeatureTensor): Promise<Float32Array> {
    const f = this.#own(feature);
    return new Float32Array((await f.tensor.getData()) as Float32Array);
  }

  release(feature: FeatureTensor | DeviceLogits): void {
    if (isLogitsHandle(feature)) {
      this.#alive();
      this.#handles.release(this.#handles.own('release', feature));
      return;
    }
    const f = this.#own(feature);
    f.released = true;
    this.#live.delete(f);
    f.tensor.dispose();
  }

  async decode(tokens: Int32Array, batch: number): Promise<ImageBatch> {
    const session = this.#session('decoder');
    const { count: L } = this.manifest.tokens;
    const { width, height, channels } = this.manifest.image;
    checkDecodeInput(this.manifest, tokens, batch);
    const g = this.manifest.graphs.decoder;
    const out = await this.#run('decoder', session, { [g.inputs['tokens']!.name]: this.#int(g.inputs['tokens']!, tokens, [batch, L]) });
    const pixels = out[g.outputs['pixels']!.name]!;
    const data = new Float32Array(pixels.data as Float32Array);
    disposeAll(out);
    checkLength('decode', 'pixels output', data.length, batch * channels * height * width);
    return { data, batch, channels, height, width };
  }

  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.#inFlight.settle(); // no session or GPU buffer is freed under a running graph
    for (const f of this.#live) {
      f.released = true;
      f.tensor.dispose();
    }
    this.#live.clear();
    this.#handles.releaseAll();
    await this.#sampler?.release();
    for (const list of this.#free.values()) for (const b of list) b.destroy();
    this.#free.clear();
    for (const u of this.#uniforms) u.destroy();
    this.#uniforms.length = 0;
    await Promise.allSettled(Object.values(this.#sessions).map((s) => s.release()));
  }

  async #run(role: GraphRole, session: InferenceSession, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
    let results: Record<string, Tensor>;
    try {
      results = (await this.#inFlight.track(session.run(feeds))) as Record<string, Tensor>;
    } catch (err) {
      this.#alive(); // a run cut short by dispose() is DISPOSED, not a runtime failure
      throw new MigmError('BACKEND_FAILURE', `onnxruntime failed running graph ${role} (${this.manifest.graphs[role]!.file}) on webgpu: ${errorText(err)}`, { cause: err });
    }
    if (this.#disposed) {
      disposeAll(results);
      this.#alive();
    }
    return results;
  }

  /** The caller's host buffer (checked), or the handle that receives `rows` rows of logits. */
  #logitsTarget(method: string, logits: Float32Array | DeviceLogits, rows: number): Float32Array | LogitsHandle<GpuLogits> {
    if (isLogitsHandle(logits)) return this.#handles.written(method, logits, rows);
    checkHostLogits(method, logits, rows * this.manifest.tokens.count * this.manifest.tokens.codebookSize);
    return logits as Float32Array;
  }

  /**
   * Moves a graph's logits output (`rows` rows, on the GPU) to where the caller wants them: into a logits
   * handle by a GPU-side copy (nothing crosses to the CPU), or into a host buffer by a download.
   */
  async #copyLogits(results: Record<string, Tensor>, name: string, target: Float32Array | LogitsHandle<GpuLogits>, rows: number): Promise<void> {
    const t = results[name];
    if (!t) throw new MigmError('BACKEND_FAILURE', `A graph returned no output '${name}'.`);
    try {
      const values = rows * this.manifest.tokens.count * this.manifest.tokens.codebookSize;
      checkLength('logits', `output ${name}`, t.dims.reduce((a, d) => a * d, 1), values);
      if (target instanceof Float32Array) {
        target.set((t.location === 'gpu-buffer' ? await t.getData() : t.data) as Float32Array);
      } else if (t.location === 'gpu-buffer') {
        const encoder = this.#gpu.createCommandEncoder();
        encoder.copyBufferToBuffer(t.gpuBuffer as unknown as GPUBufferLike, 0, target.store.buffer, 0, values * 4);
        this.#gpu.queue.submit([encoder.finish()]);
      } else {
        this.#gpu.queue.writeBuffer(target.store.buffer, 0, t.data as Float32Array);
      }
    } finally {
      t.dispose();
    }
  }

  #track(results: Record<string, Tensor>, name: string, dims: readonly [number, number, number]): GpuFeature {
    const t = results[name];
    for (const [k, v] of Object.entries(results)) if (k !== name) v.dispose();
    if (!t || t.location !== 'gpu-buffer') {
      t?.dispose();
      throw new MigmError('BACKEND_FAILURE', `Output '${name}' did not stay on the GPU (location ${t?.location ?? 'missing'}).`);
    }
    const f = new GpuFeature(t, dims);
    this.#live.add(f);
    return f;
  }

  async #download(buffer: GPUBufferLike, bytes: number): Promise<Float32Array> {
    const staging = this.#gpu.createBuffer({ size: bytes, usage: MAP_READ | COPY_DST });
    try {
      const encoder = this.#gpu.createCommandEncoder();
      encoder.copyBufferToBuffer(buffer, 0, staging, 0, bytes);
      this.#gpu.queue.submit([encoder.finish()]);
      await staging.mapAsync(MAP_READ);
      return new Float32Array(staging.getMappedRange().slice(0));
    } finally {
      staging.destroy();
    }
  }

  #recycle(buffer: GPUBufferLike, bytes: number): void {
    if (this.#disposed) return buffer.destroy();
    let list = this.#free.get(bytes);
    if (!list) this.#free.set(bytes, (list = []));
    if (list.length < 8) list.push(buffer);
    else buffer.destroy();
  }

  #int(spec: TensorSpec, data: Int32Array, dims: readonly number[]): Tensor {
    return intTensor(this.#ort as unknown as OrtModule, spec, data, dims) as unknown as Tensor;
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

  #own(feature: FeatureTensor): GpuFeature {
    this.#alive();
    if (!(feature instanceof GpuFeature) || !this.#live.has(feature)) {
      if (feature instanceof GpuFeature && feature.released) throw new MigmError('DISPOSED', 'This feature tensor was released and cannot be used.');
      throw new MigmError('INVALID_OPTION', 'This feature tensor was not made by this backend.');
    }
    return feature;
  }
}

function disposeAll(results: Record<string, Tensor>): void {
  for (const t of Object.values(results)) t.dispose();
}

