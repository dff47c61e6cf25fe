import { MigmError, type TextHandle } from '@migm/core/backend';
import type { Tensor } from './ort-types.js';

/**
 * Makes the per-row graph input of one encoded value (`value` [count, ...rest]): row r gets prompt index[r]. A
 * host backend gathers into a new host array; a GPU-resident one copies the rows on the device.
 */
export type TextGather = (value: Tensor, index: Int32Array) => Tensor;

/**
 * A `SessionBackend`'s `TextHandle`: the encoded prompts for the whole run as runtime tensors, kept where the
 * backend keeps its tensors (aMUSEd: the text encoder's text states [count, T, E] and pooled embeddings
 * [count, P], in host memory or, on the GPU-resident WebGPU backend, in GPU buffers; a base model that reads
 * prompt ids: the ids [count, T]), and the per-row graph inputs gathered from them, made once per row layout (a
 * run uses two: B conditional rows, and 2B with the guidance rows), so steps feed the same tensors instead of
 * copying (or uploading) them every time. `free` disposes every tensor it holds.
 */
export class TextStore implements TextHandle {
  readonly kind = 'text' as const;
  released = false;
  /** Gathered inputs by row layout (the index array's values). */
  readonly #rows = new Map<string, Record<string, Tensor>>();

  constructor(
    readonly count: number,
    /** Each encoder output (or 'promptIds') by tensor role, [count, ...]; owned by the store. */
    readonly values: ReadonlyMap<string, Tensor>,
  ) {}

  /** Every value gathered for the rows of `index` (row r gets prompt index[r]), made by `gather` on first use. */
  gather(index: Int32Array, gather: TextGather): Record<string, Tensor> {
    const key = index.join(',');
    let out = this.#rows.get(key);
    if (out === undefined) {
      out = {};
      try {
        for (const [role, value] of this.values) out[role] = gather(value, index);
      } catch (err) {
        for (const t of Object.values(out)) t.dispose();
        throw err;
      }
      this.#rows.set(key, out);
    }
    return out;
  }

  /** Disposes the gathered inputs and the encoded values (GPU buffers are given back here, not at garbage collection). */
  free(): void {
    this.released = true;
    for (const inputs of this.#rows.values()) for (const t of Object.values(inputs)) t.dispose();
    this.#rows.clear();
    for (const t of this.values.values()) t.dispose();
  }
}

/** Row r of the result is row index[r] of `data` (rows of `size` values); the host half of `TextGather`. */
export function gatherRows<A extends Float32Array | Int32Array | BigInt64Array>(data: A, size: number, index: Int32Array): A {
  const out = new (data.constructor as new (n: number) => A)(index.length * size);
  for (let r = 0; r < index.length; r++) out.set(data.subarray(index[r]! * size, (index[r]! + 1) * size) as never, r * size);
  return out;
}

/** The text handles one backend has handed out: ownership (another backend's or a released one is refused), release. */
export class TextStores {
  readonly #live = new Set<TextStore>();

  get size(): number {
    return this.#live.size;
  }

  add(store: TextStore): TextStore {
    this.#live.add(store);
    return store;
  }

  own(method: string, value: unknown): TextStore {
    if (value instanceof TextStore && this.#live.has(value)) return value;
    if (value instanceof TextStore && value.released) throw new MigmError('DISPOSED', `${method}: this text handle was released and cannot be used.`);
    throw new MigmError('INVALID_OPTION', `${method}: this text handle was not made by this backend's encodeText().`);
  }

  release(store: TextStore): void {
    this.#live.delete(store);
    store.free();
  }

  releaseAll(): void {
    for (const s of this.#live) s.free();
    this.#live.clear();
  }
}

/** True for a `TextHandle` of some backend of this package (live or released). */
export function isTextStore(value: unknown): value is TextStore {
  return value instanceof TextStore;
}
