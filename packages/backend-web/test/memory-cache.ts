import type { CacheLike } from '../src/index.js';

/** Cache Storage in memory: bodies and headers, keys in insertion order; `refuseOver` mimics Chromium's entry limit. */
export class MemoryCache implements CacheLike {
  readonly store = new Map<string, { body: Uint8Array; headers: [string, string][] }>();
  readonly matched: string[] = [];
  constructor(private readonly refuseOver = Infinity) {}
  async match(key: string) {
    this.matched.push(key);
    const e = this.store.get(key);
    return e ? new Response(e.body.length ? (e.body as Uint8Array<ArrayBuffer>) : null, { headers: e.headers }) : undefined;
  }
  async put(key: string, res: Response) {
    const body = new Uint8Array(await res.arrayBuffer());
    if (body.length >= this.refuseOver) throw new DOMException('Unexpected internal error.', 'UnknownError');
    const headers: [string, string][] = [];
    res.headers.forEach((v, k) => headers.push([k, v]));
    this.store.set(key, { body, headers });
  }
  async delete(key: string) {
    return this.store.delete(key);
  }
  async keys() {
    return [...this.store.keys()];
  }
}
