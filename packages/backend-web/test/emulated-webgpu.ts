/// <reference types="node" />
// WebGpuBackend's GPU-resident code paths in Node, where there is no WebGPU: an emulated GPU device (buffers are
// host bytes; queue writes, buffer copies and the combine shader's arithmetic are done in JavaScript) and an
// onnxruntime module that runs onnxruntime-node sessions behind the calls onnxruntime-web's WebGPU build takes
// (gpu-buffer inputs are read from their buffers, outputs named in preferredOutputLocation land in new buffers).
// It records what crossed from the host to the device: every queue write, and every graph input that came from
// host memory instead of a GPU buffer, by input name. Real WebGPU runs in Chromium (apps/demo's e2e tests).
import * as ortNode from 'onnxruntime-node';
import type { Tensor } from 'onnxruntime-common';
import type { GPUBufferLike, GPUDeviceLike } from '../src/gpu-buffers.js';

const UNIFORM = 0x0040;
const STORAGE_COPY = 0x0080 | 0x0004 | 0x0008;

type Typed = Float32Array | Int32Array | BigInt64Array;
const TYPED: Record<string, new (b: ArrayBuffer) => Typed> = { float32: Float32Array, int32: Int32Array, int64: BigInt64Array };

export class EmulatedBuffer implements GPUBufferLike {
  readonly bytes: Uint8Array;
  destroyed = false;
  constructor(
    readonly size: number,
    readonly usage: number,
    private readonly live: Set<EmulatedBuffer>,
  ) {
    this.bytes = new Uint8Array(size);
    live.add(this);
  }
  destroy(): void {
    this.destroyed = true;
    this.live.delete(this);
  }
  async mapAsync(): Promise<void> {}
  getMappedRange(): ArrayBuffer {
    return this.bytes.buffer as ArrayBuffer;
  }
  unmap(): void {}
  /** Reads the buffer (refused once destroyed: a use after free would be a bug of the backend). */
  read(): Uint8Array {
    if (this.destroyed) throw new Error('emulated GPU: a destroyed buffer was used');
    return this.bytes;
  }
}

type Op = () => void;
interface BindGroup {
  entries: { binding: number; resource: { buffer: EmulatedBuffer } }[];
}

/** The emulated device: what GpuBuffers and the emulated sessions use. */
export class EmulatedGpu implements GPUDeviceLike {
  /** Buffers not yet destroyed. */
  readonly live = new Set<EmulatedBuffer>();
  /** Bytes written from the host into non-uniform buffers (uploads of data; combine's 32-byte parameters are not counted). */
  uploads: number[] = [];

  readonly queue = {
    writeBuffer: (buffer: GPUBufferLike, offset: number, data: ArrayBufferView): void => {
      const b = buffer as EmulatedBuffer;
      b.read().set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), offset);
      if ((b.usage & UNIFORM) === 0) this.uploads.push(data.byteLength);
    },
    submit: (commands: unknown[]): void => {
      for (const ops of commands as Op[][]) for (const op of ops) op();
    },
    onSubmittedWorkDone: async (): Promise<void> => {},
  };

  createBuffer(d: { size: number; usage: number }): EmulatedBuffer {
    return new EmulatedBuffer(d.size, d.usage, this.live);
  }
  createShaderModule(): unknown {
    return {};
  }
  createComputePipeline(): { getBindGroupLayout(i: number): unknown } {
    return { getBindGroupLayout: () => ({}) };
  }
  createBindGroup(d: unknown): unknown {
    return d;
  }
  createCommandEncoder() {
    const ops: Op[] = [];
    return {
      beginComputePass: () => {
        let group: BindGroup | undefined;
        return {
          setPipeline: () => {},
          setBindGroup: (_i: number, g: unknown) => void (group = g as BindGroup),
          dispatchWorkgroups: () => {
            const g = group!;
            ops.push(() => combine(g));
          },
          end: () => {},
        };
      },
      copyBufferToBuffer: (src: GPUBufferLike, so: number, dst: GPUBufferLike, doff: number, size: number) => {
        ops.push(() => {
          const s = (src as EmulatedBuffer).read();
          const d = (dst as EmulatedBuffer).read();
          if (so + size > s.length || doff + size > d.length || size % 4 !== 0) throw new Error('emulated GPU: copy out of bounds or unaligned');
          d.set(s.subarray(so, so + size), doff);
        });
      },
      finish: () => ops,
    };
  }
}

/** gpu-buffers.ts's combine shader in JavaScript, in float32 as WGSL computes it. */
function combine(group: BindGroup): void {
  const buffer = (i: number) => group.entries.find((e) => e.binding === i)!.resource.buffer.read();
  const a = new Float32Array(buffer(0).buffer);
  const out = new Float32Array(buffer(1).buffer);
  const params = buffer(2).buffer;
  const c = new Float32Array(params, 0, 1)[0]!;
  const [accumulate, n, , offset] = new Uint32Array(params, 4, 4);
  for (let i = 0; i < n!; i++) {
    const v = Math.fround(c * a[offset! + i]!);
    out[i] = accumulate === 1 ? Math.fround(out[i]! + v) : v;
  }
}

/** Graph inputs by name: how many runs fed each from a GPU buffer, and how many bytes came from host memory. */
export interface FeedLog {
  readonly onDevice: Map<string, number>;
  readonly fromHost: Map<string, number>;
  /** The GPU buffers each input name was fed from (to check they are freed). */
  readonly buffers: Map<string, Set<EmulatedBuffer>>;
}

/** An onnxruntime module for WebGpuBackend: onnxruntime-node sessions behind onnxruntime-web's gpu-buffer API, on `gpu`. */
export function emulatedOrt(gpu: EmulatedGpu): { ort: unknown; feeds: FeedLog } {
  const feeds: FeedLog = { onDevice: new Map(), fromHost: new Map(), buffers: new Map() };
  const add = (m: Map<string, number>, k: string, n: number) => m.set(k, (m.get(k) ?? 0) + n);
  const InferenceSession = {
    async create(bytes: Uint8Array, options: Record<string, unknown> = {}) {
      const {
        preferredOutputLocation,
        executionProviders: _ep,
        ...rest
      } = options as { preferredOutputLocation?: Record<string, string> | string; executionProviders?: unknown };
      const session = await ortNode.InferenceSession.create(bytes, { ...rest, executionProviders: ['cpu'], intraOpNumThreads: 1 } as never);
      const onGpu = (name: string) =>
        (typeof preferredOutputLocation === 'string' ? preferredOutputLocation : preferredOutputLocation?.[name]) === 'gpu-buffer';
      return {
        inputNames: session.inputNames,
        outputNames: session.outputNames,
        inputMetadata: session.inputMetadata,
        outputMetadata: session.outputMetadata,
        release: () => session.release(),
        async run(inputs: Record<string, Tensor>) {
          const host: Record<string, Tensor> = {};
          for (const [name, t] of Object.entries(inputs)) {
            if (t.location === 'gpu-buffer') {
              const b = t.gpuBuffer as unknown as EmulatedBuffer;
              add(feeds.onDevice, name, 1);
              let set = feeds.buffers.get(name);
              if (!set) feeds.buffers.set(name, (set = new Set()));
              set.add(b);
              const Type = TYPED[t.type]!;
              host[name] = new ortNode.Tensor(t.type as 'float32', new Type(b.read().slice().buffer).subarray(0, t.size) as Float32Array, t.dims);
            } else {
              add(feeds.fromHost, name, (t.data as Typed).byteLength);
              host[name] = t;
            }
          }
          const results = (await session.run(host)) as Record<string, Tensor>;
          const out: Record<string, Tensor> = {};
          for (const [name, t] of Object.entries(results)) {
            if (!onGpu(name)) {
              out[name] = t;
              continue;
            }
            const data = t.data as Typed;
            const b = gpu.createBuffer({ size: data.byteLength, usage: STORAGE_COPY });
            b.bytes.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
            const Type = TYPED[t.type]!;
            out[name] = ortNode.Tensor.fromGpuBuffer(b as never, {
              dataType: t.type as 'float32',
              dims: t.dims,
              download: async () => new Type(b.read().slice().buffer) as Float32Array,
              dispose: () => b.destroy(),
            }) as unknown as Tensor;
          }
          return out;
        },
      };
    },
  };
  const ort = { InferenceSession, Tensor: ortNode.Tensor, env: { webgpu: { device: Promise.resolve(gpu) } } };
  return { ort, feeds };
}
