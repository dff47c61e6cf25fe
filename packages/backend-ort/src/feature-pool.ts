/**
 * Recycles feature-sized Float32Arrays: a released feature's buffer goes back here and the next output of
 * the same size is written into it, so steady-state generation allocates no feature memory.
 */
export class FeaturePool {
  readonly #free = new Map<number, Float32Array[]>();
  readonly #maxPerSize: number;

  constructor(maxPerSize = 8) {
    this.#maxPerSize = maxPerSize;
  }

  take(length: number): Float32Array {
    return this.#free.get(length)?.pop() ?? new Float32Array(length);
  }

  give(buffer: Float32Array): void {
    let list = this.#free.get(buffer.length);
    if (!list) this.#free.set(buffer.length, (list = []));
    if (list.length < this.#maxPerSize) list.push(buffer);
  }

  clear(): void {
    this.#free.clear();
  }
}
