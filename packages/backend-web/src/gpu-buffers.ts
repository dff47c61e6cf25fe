import type * as OrtWeb from 'onnxruntime-web';
import type { Tensor } from 'onnxruntime-web';

// Minimal WebGPU declarations (TypeScript 5.9's DOM lib has none); the values are real GPU objects.
export interface GPUBufferLike {
  readonly size: number;
  destroy(): void;
  mapAsync(mode: number): Promise<void>;
  getMappedRange(): ArrayBuffer;
  unmap(): void;
}
export interface GPUDeviceLike {
  readonly queue: {
    writeBuffer(buffer: GPUBufferLike, offset: number, data: ArrayBufferView): void;
    submit(commands: unknown[]): void;
    onSubmittedWorkDone(): Promise<void>;
  };
  createBuffer(d: { size: number; usage: number }): GPUBufferLike;
  createShaderModule(d: { code: string }): unknown;
  createComputePipeline(d: { layout: 'auto'; compute: { module: unknown; entryPoint: string } }): { getBindGroupLayout(i: number): unknown };
  createBindGroup(d: { layout: unknown; entries: { binding: number; resource: { buffer: GPUBufferLike } }[] }): unknown;
  createCommandEncoder(): {
    beginComputePass(): {
      setPipeline(p: unknown): void;
      setBindGroup(i: number, g: unknown): void;
      dispatchWorkgroups(x: number, y?: number): void;
      end(): void;
    };
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

/** Element types of the GPU tensors this file makes (features and logits are float32; prompt ids int32 or int64). */
export type GpuTensorType = 'float32' | 'int32' | 'int64';

/** A float32 GPU buffer of its own and the onnxruntime-web tensor over it (a logits handle's store). */
export interface GpuLogits {
  readonly buffer: GPUBufferLike;
  readonly tensor: Tensor;
}

/** One term of a combine: `coef` times the floats of `buffer` from `offset` on. */
export interface CombineTerm {
  readonly buffer: GPUBufferLike;
  readonly coef: number;
  readonly offset: number;
}

/**
 * The GPU buffers WebGpuBackend makes itself on onnxruntime-web's own device, and the work on them: the WGSL
 * combine pass (into feature-sized buffers, recycled when their tensor is disposed), buffer copies and uploads,
 * and downloads through a staging buffer. Buffers the runtime made (graph outputs) stay the runtime's.
 */
export class GpuBuffers {
  readonly #gpu: GPUDeviceLike;
  readonly #ort: typeof OrtWeb;
  readonly #pipeline: { getBindGroupLayout(i: number): unknown };
  readonly #free = new Map<number, GPUBufferLike[]>();
  readonly #uniforms: GPUBufferLike[] = [];
  #destroyed = false;

  constructor(gpu: GPUDeviceLike, ort: typeof OrtWeb) {
    this.#gpu = gpu;
    this.#ort = ort;
    this.#pipeline = gpu.createComputePipeline({ layout: 'auto', compute: { module: gpu.createShaderModule({ code: COMBINE_WGSL }), entryPoint: 'main' } });
  }

  /** A float32 buffer of `dims` and its tensor; the caller destroys the buffer (the tensor gets no dispose callback). */
  logits(dims: readonly [number, number, number]): GpuLogits {
    const bytes = dims[0] * dims[1] * dims[2] * 4;
    const buffer = this.#gpu.createBuffer({ size: bytes, usage: STORAGE | COPY_SRC | COPY_DST });
    const tensor = this.#ort.Tensor.fromGpuBuffer(buffer as never, {
      dataType: 'float32',
      dims,
      download: () => this.#download(buffer, bytes),
    }) as unknown as Tensor;
    return { buffer, tensor };
  }

  /** Uploads host values to the start of `buffer`. */
  write(buffer: GPUBufferLike, values: Float32Array): void {
    this.#gpu.queue.writeBuffer(buffer, 0, values);
  }

  /** Copies the first `bytes` of `source` to `target` on the GPU (nothing crosses to the CPU). */
  copy(source: GPUBufferLike, target: GPUBufferLike, bytes: number): void {
    const encoder = this.#gpu.createCommandEncoder();
    encoder.copyBufferToBuffer(source, 0, target, 0, bytes);
    this.#gpu.queue.submit([encoder.finish()]);
  }

  /**
   * Rows of `source` ([count, rowBytes] on the GPU) into a buffer of its own, row r from row index[r], by GPU
   * copies (nothing crosses to the CPU), wrapped as a tensor of `dims`; disposing the tensor destroys the buffer.
   */
  gatherRows(source: GPUBufferLike, rowBytes: number, index: Int32Array, dataType: GpuTensorType, dims: readonly number[]): Tensor {
    const bytes = index.length * rowBytes;
    const out = this.#gpu.createBuffer({ size: bytes, usage: STORAGE | COPY_SRC | COPY_DST });
    const encoder = this.#gpu.createCommandEncoder();
    for (let r = 0; r < index.length; r++) encoder.copyBufferToBuffer(source, index[r]! * rowBytes, out, r * rowBytes, rowBytes);
    this.#gpu.queue.submit([encoder.finish()]);
    return this.#owned(out, bytes, dataType, dims);
  }

  /** Host values uploaded once into a buffer of their own, as a tensor of `dims`; disposing the tensor destroys the buffer. */
  upload(values: Float32Array | Int32Array | BigInt64Array, dataType: GpuTensorType, dims: readonly number[]): Tensor {
    const out = this.#gpu.createBuffer({ size: values.byteLength, usage: STORAGE | COPY_SRC | COPY_DST });
    this.#gpu.queue.writeBuffer(out, 0, values);
    return this.#owned(out, values.byteLength, dataType, dims);
  }

  /** Runs the combine shader over `terms` into a pooled GPU buffer of `dims` and wraps it as a tensor. */
  combine(terms: readonly CombineTerm[], dims: readonly [number, number, number]): Tensor {
    const n = dims[0] * dims[1] * dims[2];
    const bytes = n * 4;
    const out = this.#free.get(bytes)?.pop() ?? this.#gpu.createBuffer({ size: bytes, usage: STORAGE | COPY_SRC | COPY_DST });
    const groups = Math.ceil(n / WORKGROUP);
    const gx = Math.min(groups, 65535);
    const gy = Math.ceil(groups / gx);
    const encoder = this.#gpu.createCommandEncoder();
    for (let j = 0; j < terms.length; j++) {
      const uniform = (this.#uniforms[j] ??= this.#gpu.createBuffer({ size: 32, usage: UNIFORM | COPY_DST }));
      const params = new ArrayBuffer(32);
      new Float32Array(params, 0, 1)[0] = terms[j]!.coef;
      new Uint32Array(params, 4, 4).set([j === 0 ? 0 : 1, n, gx * WORKGROUP, terms[j]!.offset]);
      this.#gpu.queue.writeBuffer(uniform, 0, new Uint8Array(params));
      const group = this.#gpu.createBindGroup({
        layout: this.#pipeline.getBindGroupLayout(0),
        entries: [
          { binding: 0, resource: { buffer: terms[j]!.buffer } },
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

  /** Destroys the pooled and uniform buffers; a combine output disposed later is destroyed, not pooled. */
  destroy(): void {
    this.#destroyed = true;
    for (const list of this.#free.values()) for (const b of list) b.destroy();
    this.#free.clear();
    for (const u of this.#uniforms) u.destroy();
    this.#uniforms.length = 0;
  }

  async #download(buffer: GPUBufferLike, bytes: number): Promise<Float32Array> {
    return new Float32Array(await this.#downloadBytes(buffer, bytes));
  }

  async #downloadBytes(buffer: GPUBufferLike, bytes: number): Promise<ArrayBuffer> {
    const staging = this.#gpu.createBuffer({ size: bytes, usage: MAP_READ | COPY_DST });
    try {
      this.copy(buffer, staging, bytes);
      await staging.mapAsync(MAP_READ);
      return staging.getMappedRange().slice(0);
    } finally {
      staging.destroy();
    }
  }

  /** A tensor over a buffer of ours that its dispose destroys (not pooled: text inputs live for a whole run). */
  #owned(buffer: GPUBufferLike, bytes: number, dataType: GpuTensorType, dims: readonly number[]): Tensor {
    const typed = { float32: Float32Array, int32: Int32Array, int64: BigInt64Array }[dataType];
    return this.#ort.Tensor.fromGpuBuffer(
      buffer as never,
      {
        dataType,
        dims,
        download: async () => new typed(await this.#downloadBytes(buffer, bytes)),
        dispose: () => buffer.destroy(),
      } as never,
    ) as unknown as Tensor;
  }

  #recycle(buffer: GPUBufferLike, bytes: number): void {
    if (this.#destroyed) return buffer.destroy();
    let list = this.#free.get(bytes);
    if (!list) this.#free.set(bytes, (list = []));
    if (list.length < 8) list.push(buffer);
    else buffer.destroy();
  }
}
