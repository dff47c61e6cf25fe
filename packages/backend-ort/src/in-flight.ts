/**
 * The runtime calls a backend has started and not seen finish. `dispose()` waits for them before it releases
 * sessions and buffers: onnxruntime does not define what happens to a run whose session (or, on WebGPU, whose
 * input buffers) are freed under it; in Chromium's software WebGPU it could hang the page. The calls themselves
 * then reject with DISPOSED (the backends check after each run).
 */
export class InFlight {
  readonly #pending = new Set<Promise<unknown>>();

  /** Registers a runtime call until it settles; returns it unchanged. */
  track<T>(call: Promise<T>): Promise<T> {
    this.#pending.add(call);
    const done = () => void this.#pending.delete(call);
    call.then(done, done);
    return call;
  }

  /** Resolves when every call registered so far has settled (never rejects). */
  async settle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.allSettled([...this.#pending]);
  }
}
