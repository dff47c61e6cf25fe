import { checkOptionKeys, MigmError, toHex, validateManifest, verifyBundleFile, type Manifest } from '@migm/core/backend';

/** Progress of a bundle download, per file and in total (bytes). */
export interface BundleProgressEvent {
  readonly type: 'file-start' | 'file-progress' | 'file-done';
  readonly file: string;
  /** Bytes of this file received so far. */
  readonly loaded: number;
  /** Bytes of this file according to the manifest. */
  readonly total: number;
  readonly totalLoaded: number;
  readonly totalBytes: number;
  /** True when the bytes came from the cache instead of the network. */
  readonly cached: boolean;
}

/** The subset of the Cache API used here; `caches.open(...)` results fit. */
export interface CacheLike {
  match(request: string): Promise<Response | undefined>;
  put(request: string, response: Response): Promise<void>;
  delete(request: string): Promise<boolean>;
}

export interface FetchBundleOptions {
  /** fetch implementation. Default: globalThis.fetch. */
  readonly fetch?: typeof fetch;
  /**
   * Where verified files are cached, so a reload does not download again. Default: the Cache API's
   * 'migm-bundles' cache when the platform has one; `false` disables caching.
   */
  readonly cache?: CacheLike | false;
  readonly onProgress?: (event: BundleProgressEvent) => void;
  readonly signal?: AbortSignal;
}

/** A fetched bundle: the validated manifest and the verified bytes of each file. */
export interface FetchedBundle {
  readonly baseUrl: string;
  readonly manifest: Manifest;
  readonly files: ReadonlyMap<string, Uint8Array>;
}

export const BUNDLE_CACHE_NAME = 'migm-bundles';

/** The largest manifest.json read (as in @migm/backend-node). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

async function sha256Web(bytes: Uint8Array): Promise<string> {
  return toHex(await crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
}

async function defaultCache(): Promise<CacheLike | undefined> {
  const storage = (globalThis as { caches?: { open(name: string): Promise<CacheLike> } }).caches;
  return storage ? storage.open(BUNDLE_CACHE_NAME) : undefined;
}

/**
 * Fetches `manifest.json` from `baseUrl`, validates it, then fetches every listed file (from the cache when a
 * verified copy is there) and checks size and sha256 with Web Crypto before returning it. Files are cached
 * under their URL plus their sha256, so a new bundle version never reads a stale copy.
 *
 * @example
 * const bundle = await fetchBundle('/models/fashion-mnist/', { onProgress: (e) => console.log(e.totalLoaded, e.totalBytes) });
 */
const FETCH_OPTION_KEYS = ['fetch', 'cache', 'onProgress', 'signal'] as const satisfies readonly (keyof FetchBundleOptions)[];

export async function fetchBundle(baseUrl: string, given: FetchBundleOptions = {}): Promise<FetchedBundle> {
  if (typeof baseUrl !== 'string' || baseUrl.length === 0)
    throw new MigmError('INVALID_OPTION', `fetchBundle: the base URL must be a non-empty string, got ${typeof baseUrl === 'string' ? '""' : typeof baseUrl}.`);
  if (given === null || typeof given !== 'object')
    throw new MigmError('INVALID_OPTION', `fetchBundle: options must be an object, got ${given === null ? 'null' : typeof given}.`);
  const options = checkOptionKeys(given, FETCH_OPTION_KEYS, 'fetchBundle()');
  const doFetch = options.fetch ?? globalThis.fetch;
  if (typeof doFetch !== 'function') throw new MigmError('UNSUPPORTED', 'fetchBundle needs a fetch implementation; none is available here.');
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const cache = options.cache === false ? undefined : (options.cache ?? (await defaultCache()));

  const manifestUrl = `${base}manifest.json`;
  const res = await get(doFetch, manifestUrl, options.signal);
  const manifestBytes = await readWithProgress(res, MAX_MANIFEST_BYTES, () => {}, 'manifest.json');
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(manifestBytes));
  } catch {
    // No cause or message from the parser: they quote the text, which may be anything the server sent.
    throw new MigmError('INVALID_MANIFEST', `${manifestUrl} is not valid UTF-8 JSON.`);
  }
  const manifest = validateManifest(parsed);
  const totalBytes = manifest.files.reduce((a, f) => a + f.bytes, 0);
  let totalLoaded = 0;
  const files = new Map<string, Uint8Array>();
  for (const entry of manifest.files) {
    // Relative bases ('/models/x/') stay relative so they resolve against the page; absolute ones are joined.
    const url = /^[a-z][a-z0-9+.-]*:/i.test(base) ? new URL(entry.path, base).href : `${base}${entry.path}`;
    const key = `${url}#sha256=${entry.sha256}`;
    const emit = (type: BundleProgressEvent['type'], loaded: number, cached: boolean) =>
      options.onProgress?.({ type, file: entry.path, loaded, total: entry.bytes, totalLoaded: totalLoaded + loaded, totalBytes, cached });
    let bytes: Uint8Array | undefined;
    let cached = false;
    const hit = await cache?.match(key);
    if (hit) {
      const candidate = new Uint8Array(await hit.arrayBuffer());
      try {
        await verifyBundleFile(manifest, entry.path, candidate, sha256Web);
        bytes = candidate;
        cached = true;
      } catch {
        await cache!.delete(key); // a corrupt cache entry is dropped and fetched again
      }
    }
    emit('file-start', 0, cached);
    if (!bytes) {
      const fileRes = await get(doFetch, url, options.signal);
      bytes = await readWithProgress(fileRes, entry.bytes, (loaded) => emit('file-progress', loaded, false), entry.path);
      await verifyBundleFile(manifest, entry.path, bytes, sha256Web);
      if (cache) await cache.put(key, new Response(bytes as Uint8Array<ArrayBuffer>));
    }
    emit('file-done', bytes.byteLength, cached);
    totalLoaded += bytes.byteLength;
    files.set(entry.path, bytes);
  }
  return { baseUrl: base, manifest, files };
}

/** Removes every cached bundle file (all bundles). Resolves to false when the platform has no Cache API. */
export async function clearBundleCache(): Promise<boolean> {
  const storage = (globalThis as { caches?: { delete(name: string): Promise<boolean> } }).caches;
  return storage ? storage.delete(BUNDLE_CACHE_NAME) : false;
}

async function get(doFetch: typeof fetch, url: string, signal: AbortSignal | undefined): Promise<Response> {
  let res: Response;
  try {
    res = await doFetch(url, signal ? { signal } : {});
  } catch (err) {
    if (signal?.aborted) throw new MigmError('ABORTED', `Download of ${url} was aborted.`, { cause: err });
    throw new MigmError('BUNDLE_MISMATCH', `Could not fetch ${url}: ${(err as Error).message ?? String(err)}`, { cause: err, details: { url } });
  }
  if (!res.ok)
    throw new MigmError('BUNDLE_MISMATCH', `Could not fetch ${url}: HTTP ${res.status} ${res.statusText}.`, { details: { url, status: res.status } });
  return res;
}

/**
 * Reads a response body of at most `limit` bytes. A server announcing (Content-Length) or sending more is not
 * sending our file: it is refused with BUNDLE_MISMATCH at once and the rest is not downloaded.
 */
async function readWithProgress(res: Response, limit: number, onChunk: (loaded: number) => void, file: string): Promise<Uint8Array> {
  const tooLarge = async (size: string): Promise<never> => {
    await res.body?.cancel().catch(() => {});
    throw new MigmError('BUNDLE_MISMATCH', `Bundle file ${file} is larger than the ${limit} bytes allowed (${size}); download stopped.`, {
      details: { path: file, limit },
    });
  };
  const announced = Number(res.headers.get('content-length') ?? Number.NaN);
  // With a content-encoding the header counts compressed bytes, so only the decoded stream can tell.
  if (Number.isFinite(announced) && announced > limit && !res.headers.get('content-encoding')) await tooLarge(`the server announces ${announced}`);
  if (!res.body) {
    const all = new Uint8Array(await res.arrayBuffer());
    if (all.byteLength > limit) await tooLarge(`${all.byteLength} received`);
    onChunk(all.byteLength);
    return all;
  }
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    loaded += value.byteLength;
    if (loaded > limit) {
      await reader.cancel().catch(() => {});
      throw new MigmError('BUNDLE_MISMATCH', `Bundle file ${file} is larger than the ${limit} bytes allowed (${loaded} received so far); download stopped.`, {
        details: { path: file, limit },
      });
    }
    onChunk(loaded);
  }
  const out = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
