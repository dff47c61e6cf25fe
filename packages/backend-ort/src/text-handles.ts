import { MigmError, type TextHandle } from '@migm/core/backend';

/**
 * A `SessionBackend`'s `TextHandle`: the encoded prompts in host memory for the whole run (aMUSEd: the text
 * encoder's text states [count, T, E] and pooled embeddings [count, P]; a base model that reads prompt ids:
 * the ids [count, T]), and the per-row inputs gathered from them, made once per row layout (a run uses two: B
 * conditional rows, and 2B with the guidance rows), so steps reuse them instead of copying every time.
 */
export class TextStore implements TextHandle {
  readonly kind = 'text' as const;
  released = false;
  /** Gathered inputs by row layout (the index array's values). */
  readonly #rows = new Map<string, Record<string, { data: Float32Array | Int32Array; dims: readonly number[] }>>();

  constructor(
    readonly count: number,
    /** Each encoder output (or 'promptIds') by tensor role: values [count, ...rest] and rest's dims. */
    readonly values: ReadonlyMap<string, { data: Float32Array | Int32Array; rest: readonly number[] }>,
  ) {}

  /** Every value gathered for the rows of `index` (row r gets prompt index[r]). */
  gather(index: Int32Array): Record<string, { data: Float32Array | Int32Array; dims: readonly number[] }> {
    const key = index.join(',');
    let out = this.#rows.get(key);
    if (out === undefined) {
      out = {};
      const rows = index.length;
      for (const [role, { data, rest }] of this.values) {
        const size = rest.reduce((a, b) => a * b, 1);
        const gathered = data instanceof Int32Array ? new Int32Array(rows * size) : new Float32Array(rows * size);
        for (let r = 0; r < rows; r++) gathered.set(data.subarray(index[r]! * size, (index[r]! + 1) * size), r * size);
        out[role] = { data: gathered, dims: [rows, ...rest] };
      }
      this.#rows.set(key, out);
    }
    return out;
  }

  free(): void {
    this.released = true;
    this.#rows.clear();
  }
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
