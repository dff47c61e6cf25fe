// Cache Storage for verified bundle files of any size: the store where the Origin Private File System cannot be
// written (bundle-store.ts picks). Chromium refuses a single Cache Storage entry of 256 MB or more ("Unexpected
// internal error" from cache.put, even with gigabytes of quota), so each file is stored as parts of at most
// CACHE_PART_BYTES, plus a header-only index entry written last: a file counts as cached only once every part
// is in. The streaming sha256 and body reader here serve both stores.
import { MigmError } from '@migm/core/backend';
import { createSHA256, type IHasher } from 'hash-wasm';

/** The subset of the Cache API used here; `caches.open(...)` results fit. `keys` is needed only for listing. */
export interface CacheLike {
  match(request: string): Promise<Response | undefined>;
  put(request: string, response: Response): Promise<void>;
  delete(request: string): Promise<boolean>;
  keys?(): Promise<readonly (Request | string)[]>;
}

/** One file in the bundle cache, as `listBundleCache` reports it. */
export interface CachedBundleFile {
  /** The file's URL (as the bundle's base URL resolved it). */
  readonly url: string;
  readonly sha256: string;
  readonly bytes: number;
  /** Cache entries holding it (CACHE_PART_BYTES each, the last one shorter). */
  readonly parts: number;
}

/** The Cache Storage name of the bundle cache. */
export const BUNDLE_CACHE_NAME = 'migm-bundles';

/** Bytes per cache entry: well under Chromium's 256 MB limit per entry, and the most copied at once while writing. */
export const CACHE_PART_BYTES = 32 * 1024 * 1024;

const H = { bytes: 'x-migm-bytes', parts: 'x-migm-parts', partBytes: 'x-migm-part-bytes', sha256: 'x-migm-sha256', url: 'x-migm-url' } as const;
const INDEX = 'index';

/**
 * The cache key of a file's index entry (part undefined) or of one part. The sha256 and the part go in the query:
 * the Cache API ignores URL fragments when it matches, so `#...` keys would all be one entry.
 */
export function cacheKey(url: string, sha256: string, part?: number): string {
  return `${url}${url.includes('?') ? '&' : '?'}migm-sha256=${sha256}&migm-part=${part === undefined ? INDEX : part}`;
}

/** The platform's bundle cache (Cache Storage 'migm-bundles'), or undefined where there is no Cache API. */
export async function openBundleCache(): Promise<CacheLike | undefined> {
  const storage = (globalThis as { caches?: { open(name: string): Promise<CacheLike> } }).caches;
  return storage ? storage.open(BUNDLE_CACHE_NAME) : undefined;
}

/** A streaming sha256 (hash-wasm's WebAssembly SHA-256: Web Crypto has no incremental digest). */
export function createSha256(): Promise<IHasher> {
  return createSHA256();
}

/** Why a cached copy was not used: undefined when it was simply not there. */
export type CacheReadResult = { readonly hit: true } | { readonly hit: false; readonly problem?: string };

/**
 * Reads a cached file into `into` (exactly `expected.bytes` long), hashing it as it streams, and checks its
 * sha256. The index entry's recorded size is compared with the manifest's before any part is read, and each
 * part's recorded size before its body is read, so a wrong-sized entry costs no memory. A broken or partial
 * entry is deleted and reported as a miss with the problem; `into` may then hold partial bytes, which the
 * caller overwrites from the network.
 */
export async function readCachedFile(
  cache: CacheLike,
  url: string,
  expected: { readonly bytes: number; readonly sha256: string },
  into: Uint8Array,
  onBytes: (loaded: number) => void,
): Promise<CacheReadResult> {
  const index = await cache.match(cacheKey(url, expected.sha256));
  if (!index) return { hit: false };
  const parts = Number(index.headers.get(H.parts));
  const partBytes = Number(index.headers.get(H.partBytes));
  const bytes = Number(index.headers.get(H.bytes));
  const drop = async (problem: string): Promise<CacheReadResult> => {
    await deleteCachedFile(
      cache,
      url,
      expected.sha256,
      Number.isInteger(parts) && parts > 0 && parts < 1e6 ? parts : Math.ceil(expected.bytes / CACHE_PART_BYTES),
    );
    return { hit: false, problem };
  };
  await index.body?.cancel().catch(() => {});
  if (bytes !== expected.bytes) return drop(`the cached copy has ${bytes} bytes recorded, the manifest says ${expected.bytes}`);
  if (!Number.isInteger(partBytes) || partBytes < 1 || parts !== Math.max(1, Math.ceil(bytes / partBytes)))
    return drop('the cached copy has an unreadable index entry');
  const hasher = await createSha256();
  hasher.init();
  let loaded = 0;
  for (let part = 0; part < parts; part++) {
    const want = Math.min(partBytes, bytes - part * partBytes);
    const res = await cache.match(cacheKey(url, expected.sha256, part));
    if (!res) return drop(`part ${part} of the cached copy is missing`);
    if (Number(res.headers.get(H.bytes)) !== want) {
      await res.body?.cancel().catch(() => {});
      return drop(`part ${part} of the cached copy has the wrong recorded size`);
    }
    const got = await streamInto(res, into, loaded, want, (piece) => {
      hasher.update(piece);
      loaded += piece.byteLength;
      onBytes(loaded);
    });
    if (got !== want) return drop(`part ${part} of the cached copy is ${got > want ? 'longer' : 'shorter'} than the ${want} bytes recorded`);
  }
  const digest = hasher.digest('hex');
  if (digest !== expected.sha256) return drop('the cached copy does not match its sha256');
  return { hit: true };
}

/**
 * Reads a response body into `into[offset, offset + want)`, calling `onChunk(piece)` with each piece as copied
 * (before the next read). Returns the bytes the body had: `want`, or fewer when it ended early; more than `want`
 * stops reading and returns `want + 1`.
 */
export async function streamInto(res: Response, into: Uint8Array, offset: number, want: number, onChunk: (piece: Uint8Array) => void): Promise<number> {
  if (!res.body) {
    const all = new Uint8Array(await res.arrayBuffer());
    if (all.byteLength > want) return want + 1;
    into.set(all, offset);
    onChunk(all);
    return all.byteLength;
  }
  const reader = res.body.getReader();
  let got = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return got;
    if (got + value.byteLength > want) {
      await reader.cancel().catch(() => {});
      return want + 1;
    }
    into.set(value, offset + got);
    got += value.byteLength;
    onChunk(value);
  }
}

/**
 * Stores a verified file as parts of `partBytes`, then its index entry. On any failure (quota, a browser limit)
 * the parts written are deleted and the error is thrown for the caller to report; the cache never holds an
 * index entry without all its parts.
 */
export async function writeCachedFile(cache: CacheLike, url: string, sha256: string, bytes: Uint8Array, partBytes = CACHE_PART_BYTES): Promise<void> {
  const parts = Math.max(1, Math.ceil(bytes.byteLength / partBytes));
  try {
    for (let part = 0; part < parts; part++) {
      const body = bytes.subarray(part * partBytes, Math.min(bytes.byteLength, (part + 1) * partBytes));
      await cache.put(
        cacheKey(url, sha256, part),
        new Response(body as Uint8Array<ArrayBuffer>, { headers: { 'content-type': 'application/octet-stream', [H.bytes]: String(body.byteLength) } }),
      );
    }
    await cache.put(
      cacheKey(url, sha256),
      new Response(null, {
        headers: { [H.bytes]: String(bytes.byteLength), [H.parts]: String(parts), [H.partBytes]: String(partBytes), [H.sha256]: sha256, [H.url]: url },
      }),
    );
  } catch (err) {
    await deleteCachedFile(cache, url, sha256, parts).catch(() => {});
    throw err;
  }
}

/** Deletes a file's index entry first (so it stops counting as cached), then its parts. */
export async function deleteCachedFile(cache: CacheLike, url: string, sha256: string, parts: number): Promise<void> {
  await cache.delete(cacheKey(url, sha256));
  for (let part = 0; part < parts; part++) await cache.delete(cacheKey(url, sha256, part));
}

/**
 * Lists the files in the bundle cache (complete ones: those with an index entry), with their sizes.
 *
 * @example
 * const files = await listBundleCache();
 * console.log(files.reduce((a, f) => a + f.bytes, 0), 'bytes cached');
 */
export async function listBundleCache(cache?: CacheLike): Promise<CachedBundleFile[]> {
  const storage = (globalThis as { caches?: { has(name: string): Promise<boolean> } }).caches;
  // Listing must not create the cache (caches.open would): after a purge there is none to list.
  if (!cache && !(await storage?.has(BUNDLE_CACHE_NAME))) return [];
  const c = cache ?? (await openBundleCache());
  if (!c) return [];
  if (!c.keys) throw new MigmError('UNSUPPORTED', 'listBundleCache: this cache cannot list its entries (it has no keys()).');
  const out: CachedBundleFile[] = [];
  for (const key of await c.keys()) {
    const url = typeof key === 'string' ? key : key.url;
    if (!url.endsWith(`&migm-part=${INDEX}`)) continue;
    const res = await c.match(url);
    if (!res) continue;
    const h = res.headers;
    out.push({ url: h.get(H.url) ?? url, sha256: h.get(H.sha256) ?? '', bytes: Number(h.get(H.bytes)), parts: Number(h.get(H.parts)) });
  }
  return out;
}

/**
 * Empties the bundle cache: every cached file of every bundle. With no cache given, deletes the 'migm-bundles'
 * Cache Storage; resolves to false when the platform has no Cache API. With a cache, deletes its entries.
 *
 * @example
 * await clearBundleCache(); // the next fetchBundle downloads every file again
 */
export async function clearBundleCache(cache?: CacheLike): Promise<boolean> {
  if (cache) {
    if (!cache.keys) throw new MigmError('UNSUPPORTED', 'clearBundleCache: this cache cannot list its entries (it has no keys()).');
    for (const key of await cache.keys()) await cache.delete(typeof key === 'string' ? key : key.url);
    return true;
  }
  const storage = (globalThis as { caches?: { delete(name: string): Promise<boolean> } }).caches;
  return storage ? (await storage.delete(BUNDLE_CACHE_NAME), true) : false;
}
