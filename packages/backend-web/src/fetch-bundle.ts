import type { CacheProgressEvent, FileProgressEvent, LoadProgressEvent } from '@migm/backend-ort';
import { checkOptionKeys, MigmError, validateManifest, verifyBundleFile, type Manifest } from '@migm/core/backend';
import { createSha256, streamInto, type CacheLike } from './bundle-cache.js';
import { cacheStorageStore, defaultBundleStore, type BundleStore } from './bundle-store.js';

/** Progress of one bundle file (bytes received and hashed so far), per file and in total. */
export type BundleProgressEvent = FileProgressEvent;
export type { CacheProgressEvent, LoadProgressEvent };

export interface FetchBundleOptions {
  /** fetch implementation. Default: globalThis.fetch. */
  readonly fetch?: typeof fetch;
  /**
   * Where verified files are cached, so a reload does not download again. Default: the Origin Private File
   * System's 'migm-bundles' folder where this context can write files there, else Cache Storage 'migm-bundles'
   * (files stored in parts of `CACHE_PART_BYTES`: Chromium refuses one entry of 256 MB or more). A `CacheLike`
   * (e.g. `await caches.open(name)`) is used in parts too; `false` disables caching. A cache that fails to store
   * or read a file never fails the load: the file comes from the network and a `cache-error` event says why.
   */
  readonly cache?: BundleStore | CacheLike | false;
  /** Hears file progress (`file-start`, `file-progress`, `file-done`) and `cache-error` events. */
  readonly onProgress?: (event: LoadProgressEvent) => void;
  readonly signal?: AbortSignal;
  /**
   * Milliseconds a request may go without receiving a byte (headers included) before it is stopped with
   * BUNDLE_MISMATCH (`details.reason: 'stalled'`). Default 30,000; `Infinity` waits as long as the platform does.
   */
  readonly idleTimeoutMs?: number;
  /**
   * Origins (e.g. 'https://cdn.example.com') that a redirect may lead to, besides the request's own; 'any'
   * allows every origin. Default: none, so a redirect to another origin (the manifest's included) is refused
   * with BUNDLE_MISMATCH (`details.reason: 'redirect'`) before its body is read.
   */
  readonly redirectOrigins?: readonly string[] | 'any';
  /**
   * Files not to download, chosen from the validated manifest: e.g. `selectPrecision(m, dtype, device).unused`,
   * the graph files of other precisions. They are left out of `files` and of the progress totals.
   */
  readonly skip?: (manifest: Manifest) => ReadonlySet<string>;
}

/** A fetched bundle: the validated manifest and the verified bytes of each file. */
export interface FetchedBundle {
  readonly baseUrl: string;
  readonly manifest: Manifest;
  readonly files: ReadonlyMap<string, Uint8Array>;
}

/**
 * Why a download failed, in `error.details.reason` of its BUNDLE_MISMATCH: `network` (no response), `http`
 * (a status other than 2xx), `redirect` (to an origin not allowed), `stalled` (no byte for `idleTimeoutMs`),
 * `truncated` (the body ended or broke off before the manifest's size), `too-large` (more bytes than the
 * manifest's size, or than MAX_MANIFEST_BYTES).
 */
export type FetchFailure = 'network' | 'http' | 'redirect' | 'stalled' | 'truncated' | 'too-large';

/** The largest manifest.json read (as in @migm/backend-node). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** The default of `idleTimeoutMs`. */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;

const FETCH_OPTION_KEYS = [
  'skip',
  'fetch',
  'cache',
  'onProgress',
  'signal',
  'idleTimeoutMs',
  'redirectOrigins',
] as const satisfies readonly (keyof FetchBundleOptions)[];
// Every option must be listed: a new one missing here fails to type-check instead of being refused at run time.
const everyFetchKey: [Exclude<keyof FetchBundleOptions, (typeof FETCH_OPTION_KEYS)[number]>] extends [never] ? true : never = true;
void everyFetchKey;

interface Context {
  readonly doFetch: typeof fetch;
  readonly signal: AbortSignal | undefined;
  readonly idleMs: number;
  readonly redirectOrigins: readonly string[] | 'any';
}

/**
 * Fetches `manifest.json` from `baseUrl`, validates it, then fetches every listed file (from the cache when a
 * verified copy is there) into one buffer of the manifest's size, hashing it (streaming sha256) as it arrives,
 * and checks size and sha256 before returning it. Files are cached under their URL plus their sha256, so a new
 * bundle version never reads a stale copy. Network failures are BUNDLE_MISMATCH with `details.reason` (a
 * `FetchFailure`); an abort through `signal` is ABORTED.
 *
 * @example
 * const bundle = await fetchBundle('/models/fashion-mnist/', {
 *   onProgress: (e) => e.type === 'file-progress' && console.log(e.totalLoaded, e.totalBytes),
 * });
 */
export async function fetchBundle(baseUrl: string, given: FetchBundleOptions = {}): Promise<FetchedBundle> {
  if (typeof baseUrl !== 'string' || baseUrl.length === 0)
    throw new MigmError('INVALID_OPTION', `fetchBundle: the base URL must be a non-empty string, got ${typeof baseUrl === 'string' ? '""' : typeof baseUrl}.`);
  if (given === null || typeof given !== 'object')
    throw new MigmError('INVALID_OPTION', `fetchBundle: options must be an object, got ${given === null ? 'null' : typeof given}.`);
  const options = checkOptionKeys(given, FETCH_OPTION_KEYS, 'fetchBundle()');
  const fetchImpl = options.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== 'function') throw new MigmError('UNSUPPORTED', 'fetchBundle needs a fetch implementation; none is available here.');
  // Called as a plain function: browsers refuse a fetch whose `this` is not the global scope ("Illegal invocation").
  const doFetch: typeof fetch = (input, init) => fetchImpl(input, init);
  const idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
  if (typeof idleMs !== 'number' || !(idleMs > 0)) {
    throw new MigmError('INVALID_OPTION', `Invalid option 'idleTimeoutMs': got ${String(idleMs)}; a number of milliseconds > 0 (or Infinity) is allowed.`);
  }
  const redirectOrigins = options.redirectOrigins ?? [];
  if (redirectOrigins !== 'any' && !(Array.isArray(redirectOrigins) && redirectOrigins.every((o) => typeof o === 'string'))) {
    throw new MigmError('INVALID_OPTION', "Invalid option 'redirectOrigins': an array of origins or 'any' is allowed.");
  }
  const ctx: Context = { doFetch, signal: options.signal, idleMs, redirectOrigins };
  const base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  const emit = options.onProgress ?? (() => {});
  const chosen = options.cache;
  const cache: BundleStore | undefined =
    chosen === false
      ? undefined
      : chosen === undefined
        ? await defaultBundleStore().catch(() => undefined) // e.g. storage refused on an opaque origin
        : 'match' in chosen
          ? cacheStorageStore(chosen)
          : chosen;

  const manifestUrl = `${base}manifest.json`;
  const manifestBytes = await download(ctx, manifestUrl, 'manifest.json', { max: MAX_MANIFEST_BYTES }, () => {});
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(manifestBytes));
  } catch {
    // No cause or message from the parser: they quote the text, which may be anything the server sent.
    throw new MigmError('INVALID_MANIFEST', `${manifestUrl} is not valid UTF-8 JSON.`);
  }
  const manifest = validateManifest(parsed);
  const skip = options.skip?.(manifest);
  const wanted = skip ? manifest.files.filter((f) => !skip.has(f.path)) : manifest.files;
  const totalBytes = wanted.reduce((a, f) => a + f.bytes, 0);
  let totalLoaded = 0;
  const files = new Map<string, Uint8Array>();
  for (const entry of wanted) {
    // Relative bases ('/models/x/') stay relative so they resolve against the page; absolute ones are joined.
    const url = /^[a-z][a-z0-9+.-]*:/i.test(base) ? new URL(entry.path, base).href : `${base}${entry.path}`;
    const fileEvent = (type: FileProgressEvent['type'], loaded: number, cached: boolean) =>
      emit({ type, file: entry.path, loaded, total: entry.bytes, totalLoaded: totalLoaded + loaded, totalBytes, cached });
    const cacheError = (operation: CacheProgressEvent['operation'], message: string) => emit({ type: 'cache-error', file: entry.path, operation, message });
    // One buffer of the manifest's size: the cache or the network writes into it as the bytes are hashed.
    const bytes = new Uint8Array(entry.bytes);
    let cached = false;
    if (cache) {
      try {
        let started = false;
        const read = await cache.read(url, entry, bytes, (loaded) => {
          if (!started) fileEvent('file-start', 0, (started = true));
          fileEvent('file-progress', loaded, true);
        });
        cached = read.hit;
        if (!read.hit && read.problem) cacheError('read', read.problem);
      } catch (err) {
        cacheError('read', errorText(err));
      }
      throwIfAborted(ctx.signal, url);
    }
    if (!cached) {
      fileEvent('file-start', 0, false);
      const hasher = await createSha256();
      hasher.init();
      await download(ctx, url, entry.path, { into: bytes }, (piece, loaded) => {
        hasher.update(piece);
        fileEvent('file-progress', loaded, false);
      });
      const digest = hasher.digest('hex');
      await verifyBundleFile(manifest, entry.path, bytes, () => digest);
      if (cache) {
        try {
          await cache.write(url, entry.sha256, bytes);
        } catch (err) {
          cacheError('write', errorText(err)); // the file is verified and in memory: the load goes on
        }
      }
    }
    fileEvent('file-done', bytes.byteLength, cached);
    totalLoaded += bytes.byteLength;
    files.set(entry.path, bytes);
  }
  return { baseUrl: base, manifest, files };
}

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name === 'Error' ? '' : `${err.name}: `}${err.message}` : String(err);
}

function throwIfAborted(signal: AbortSignal | undefined, url: string): void {
  if (signal?.aborted) throw new MigmError('ABORTED', `Download of ${url} was aborted.`, { cause: signal.reason });
}

function failure(reason: FetchFailure, url: string, message: string, extra: Record<string, unknown> = {}, cause?: unknown): MigmError {
  return new MigmError('BUNDLE_MISMATCH', message, { ...(cause === undefined ? {} : { cause }), details: { reason, url, ...extra } });
}

/**
 * Downloads one URL: into `target.into` (exactly its length: fewer bytes are `truncated`, more `too-large`) or
 * into a new buffer of at most `target.max` bytes. One request with its own AbortController: the caller's
 * signal aborts it, and so does the idle watchdog when no byte arrives for `idleMs`.
 */
async function download(
  ctx: Context,
  url: string,
  file: string,
  target: { into: Uint8Array } | { max: number },
  onPiece: (piece: Uint8Array, loaded: number) => void,
): Promise<Uint8Array> {
  throwIfAborted(ctx.signal, url);
  const ctl = new AbortController();
  let stalled = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const kick = () => {
    if (timer !== undefined) clearTimeout(timer);
    if (Number.isFinite(ctx.idleMs))
      timer = setTimeout(() => {
        stalled = true;
        ctl.abort(new Error('idle timeout'));
      }, ctx.idleMs);
  };
  const onAbort = () => ctl.abort(ctx.signal!.reason);
  ctx.signal?.addEventListener('abort', onAbort, { once: true });
  // What a failure of the request or its body means: the caller's abort, the watchdog, or the network.
  const broken = (err: unknown, during: string, loaded: number, limit: number): MigmError => {
    if (ctx.signal?.aborted) return new MigmError('ABORTED', `Download of ${url} was aborted.`, { cause: err });
    if (stalled)
      return failure(
        'stalled',
        url,
        `Could not fetch ${url}: no data for ${ctx.idleMs / 1000} s ${during} (idleTimeoutMs); download stopped.`,
        { path: file, loaded, idleTimeoutMs: ctx.idleMs },
        err,
      );
    if (during === 'waiting for a response') return failure('network', url, `Could not fetch ${url}: ${errorText(err)}`, { path: file }, err);
    return failure(
      'truncated',
      url,
      `Bundle file ${file} was cut short: the connection broke after ${loaded}${Number.isFinite(limit) ? ` of ${limit}` : ''} bytes (${errorText(err)}).`,
      { path: file, loaded, ...(Number.isFinite(limit) ? { expected: limit } : {}) },
      err,
    );
  };
  try {
    kick();
    let res: Response;
    try {
      res = await ctx.doFetch(url, { signal: ctl.signal, redirect: 'follow' });
    } catch (err) {
      throw broken(err, 'waiting for a response', 0, 0);
    }
    const cancel = () => res.body?.cancel().catch(() => {});
    if (!res.ok) {
      await cancel();
      throw failure('http', url, `Could not fetch ${url}: HTTP ${res.status} ${res.statusText}.`, { status: res.status, path: file });
    }
    checkRedirect(ctx, url, res, file, cancel);
    const limit = 'into' in target ? target.into.byteLength : target.max;
    const tooLarge = async (size: string): Promise<never> => {
      await cancel();
      throw failure('too-large', url, `Bundle file ${file} is larger than the ${limit} bytes allowed (${size}); download stopped.`, { path: file, limit });
    };
    const announced = Number(res.headers.get('content-length') ?? Number.NaN);
    // With a content-encoding the header counts compressed bytes, so only the decoded stream can tell.
    if (Number.isFinite(announced) && announced > limit && !res.headers.get('content-encoding')) await tooLarge(`the server announces ${announced}`);
    // A file goes into its buffer of the manifest's size; the manifest (size unknown, at most 4 MiB) into a scratch one.
    const into = 'into' in target ? target.into : new Uint8Array(limit);
    let loaded = 0;
    let got: number;
    try {
      got = await streamInto(res, into, 0, limit, (piece) => {
        kick();
        loaded += piece.byteLength;
        onPiece(piece, loaded);
      });
    } catch (err) {
      throw broken(err, `after ${loaded} bytes`, loaded, 'into' in target ? limit : Number.NaN); // a manifest's size is not known
    }
    if (got > limit) await tooLarge(`${loaded + 1} or more received`);
    if (!('into' in target)) return into.slice(0, got);
    if (got < limit) {
      throw failure('truncated', url, `Bundle file ${file} was cut short: the body ended after ${got} of ${limit} bytes.`, {
        path: file,
        loaded: got,
        expected: limit,
      });
    }
    return into;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    ctx.signal?.removeEventListener('abort', onAbort);
  }
}

/** Refuses a response that a redirect brought from an origin the caller did not allow (before its body is read). */
function checkRedirect(ctx: Context, url: string, res: Response, file: string, cancel: () => void): void {
  if (!res.url || ctx.redirectOrigins === 'any') return; // responses made in code (tests, service workers) have no URL
  const base = (globalThis as { location?: { href: string } }).location?.href;
  let from: string;
  let to: string;
  try {
    from = new URL(url, base).origin;
    to = new URL(res.url).origin;
  } catch {
    return; // a relative URL with no page to resolve it against: the platform's fetch decided
  }
  if (to === from || ctx.redirectOrigins.includes(to)) return;
  cancel();
  throw failure('redirect', url, `Could not fetch ${url}: the server redirected to another origin (${to}); allow it with fetchBundle's redirectOrigins.`, {
    path: file,
    origin: to,
  });
}
