// Where fetchBundle keeps verified files between page loads. Two stores share one interface: the Origin Private
// File System (the default where it can write: it wrote a 512 MiB file 2.3-3.7x faster than Cache Storage in
// Chromium, docs/web.md; writes are atomic; a file's size is known from its metadata before a byte is read), and
// Cache Storage in parts (bundle-cache.ts; everywhere else, e.g. a Safari page, which has no createWritable).
import { MigmError } from '@migm/core/backend';
import {
  BUNDLE_CACHE_NAME,
  clearBundleCache as clearCacheStorage,
  createSha256,
  listBundleCache as listCacheStorage,
  openBundleCache,
  readCachedFile,
  streamInto,
  writeCachedFile,
  type CachedBundleFile,
  type CacheLike,
  type CacheReadResult,
} from './bundle-cache.js';

/** A place for verified bundle files. `fetchBundle`'s `cache` option takes one (or a `CacheLike`). */
export interface BundleStore {
  /** 'opfs', 'cache-storage', or a name of your own. */
  readonly kind: string;
  /**
   * Reads the stored copy of a file into `into` (exactly `expected.bytes`), hashing as it streams, and checks its
   * size before reading and its sha256 after. A wrong or broken copy is deleted and reported as a miss.
   */
  read(
    url: string,
    expected: { readonly bytes: number; readonly sha256: string },
    into: Uint8Array,
    onBytes: (loaded: number) => void,
  ): Promise<CacheReadResult>;
  /** Stores a verified file; throws (after removing anything partial) when it cannot. */
  write(url: string, sha256: string, bytes: Uint8Array): Promise<void>;
  list(): Promise<CachedBundleFile[]>;
  /** Removes every stored file. */
  clear(): Promise<void>;
}

/** Chunked Cache Storage as a BundleStore. */
export function cacheStorageStore(cache: CacheLike): BundleStore {
  return {
    kind: 'cache-storage',
    read: (url, expected, into, onBytes) => readCachedFile(cache, url, expected, into, onBytes),
    write: (url, sha256, bytes) => writeCachedFile(cache, url, sha256, bytes),
    list: () => listCacheStorage(cache),
    clear: async () => void (await clearCacheStorage(cache)),
  };
}

// Minimal File System Access shapes (TypeScript 5.9's DOM lib lacks createWritable and async iteration).
interface WritableLike {
  write(data: Uint8Array): Promise<void>;
  close(): Promise<void>;
  abort(): Promise<void>;
}
interface FileHandleLike {
  getFile(): Promise<Blob>;
  createWritable?(): Promise<WritableLike>;
}
/** The part of FileSystemDirectoryHandle used here. */
export interface DirectoryLike {
  getFileHandle(name: string, options?: { create?: boolean }): Promise<FileHandleLike>;
  getDirectoryHandle(name: string, options?: { create?: boolean }): Promise<DirectoryLike>;
  removeEntry(name: string, options?: { recursive?: boolean }): Promise<void>;
  keys(): AsyncIterable<string>;
}

const isMissing = (err: unknown) => (err as { name?: string })?.name === 'NotFoundError';

/**
 * A BundleStore in a folder of the Origin Private File System: each file is `<sha256>.bin` (so identical files
 * of two bundles are stored once) with `<sha256>.json` beside it ({ url, bytes }) for listing, written after the
 * data. createWritable writes to a temporary file that replaces the old one only on close, so a write that
 * fails half-way leaves nothing behind.
 */
export function opfsStore(dir: DirectoryLike): BundleStore {
  const remove = async (sha256: string) => {
    for (const name of [`${sha256}.json`, `${sha256}.bin`])
      await dir.removeEntry(name).catch((err: unknown) => (isMissing(err) ? undefined : Promise.reject(err)));
  };
  return {
    kind: 'opfs',
    async read(url, expected, into, onBytes) {
      if (!/^[0-9a-f]{64}$/.test(expected.sha256)) return { hit: false };
      let file: Blob;
      try {
        file = await (await dir.getFileHandle(`${expected.sha256}.bin`)).getFile();
      } catch (err) {
        if (isMissing(err)) return { hit: false };
        throw err;
      }
      // Its size comes from the file's metadata: a wrong-sized copy is dropped without being read.
      if (file.size !== expected.bytes) {
        await remove(expected.sha256);
        return { hit: false, problem: `the cached copy has ${file.size} bytes, the manifest says ${expected.bytes}` };
      }
      const hasher = await createSha256();
      hasher.init();
      let loaded = 0;
      const got = await streamInto(new Response(file), into, 0, expected.bytes, (piece) => {
        hasher.update(piece);
        loaded += piece.byteLength;
        onBytes(loaded);
      });
      if (got !== expected.bytes || hasher.digest('hex') !== expected.sha256) {
        await remove(expected.sha256);
        return { hit: false, problem: got !== expected.bytes ? 'the cached copy changed size while being read' : 'the cached copy does not match its sha256' };
      }
      void url;
      return { hit: true };
    },
    async write(url, sha256, bytes) {
      const handle = await dir.getFileHandle(`${sha256}.bin`, { create: true });
      if (!handle.createWritable) throw new MigmError('UNSUPPORTED', 'This browser cannot write files in the origin private file system from here.');
      const w = await handle.createWritable();
      try {
        await w.write(bytes);
        await w.close();
      } catch (err) {
        await w.abort().catch(() => {});
        await remove(sha256).catch(() => {});
        throw err;
      }
      const meta = await (await dir.getFileHandle(`${sha256}.json`, { create: true })).createWritable!();
      await meta.write(new TextEncoder().encode(JSON.stringify({ url, bytes: bytes.byteLength })));
      await meta.close();
    },
    async list() {
      const out: CachedBundleFile[] = [];
      for await (const name of dir.keys()) {
        const sha256 = /^([0-9a-f]{64})\.json$/.exec(name)?.[1];
        if (!sha256) continue;
        try {
          const meta = JSON.parse(await (await (await dir.getFileHandle(name)).getFile()).text()) as { url?: unknown; bytes?: unknown };
          const data = await (await dir.getFileHandle(`${sha256}.bin`)).getFile();
          out.push({ url: String(meta.url), sha256, bytes: data.size, parts: 1 });
        } catch {
          // a file without its data (being written or removed) is not listed
        }
      }
      return out;
    },
    async clear() {
      const names: string[] = [];
      for await (const name of dir.keys()) names.push(name);
      for (const name of names) await dir.removeEntry(name, { recursive: true });
    },
  };
}

/** The OPFS folder of the bundle store, or undefined where OPFS cannot be written (no createWritable). */
async function opfsFolder(create: boolean): Promise<DirectoryLike | undefined> {
  const storage = (globalThis as unknown as { navigator?: { storage?: { getDirectory?: () => Promise<DirectoryLike> } } }).navigator?.storage;
  const writable = (globalThis as { FileSystemFileHandle?: { prototype: object } }).FileSystemFileHandle?.prototype;
  if (!storage?.getDirectory || !writable || !('createWritable' in writable)) return undefined;
  const root = await storage.getDirectory();
  try {
    return await root.getDirectoryHandle(BUNDLE_CACHE_NAME, { create });
  } catch (err) {
    if (isMissing(err)) return undefined;
    throw err;
  }
}

/**
 * The platform's default bundle store: OPFS where this context can write it, else Cache Storage in parts, else
 * undefined (no caching).
 */
export async function defaultBundleStore(): Promise<BundleStore | undefined> {
  const dir = await opfsFolder(true).catch(() => undefined);
  if (dir) return opfsStore(dir);
  const cache = await openBundleCache().catch(() => undefined);
  return cache ? cacheStorageStore(cache) : undefined;
}

/**
 * Lists the files the bundle cache holds (OPFS and Cache Storage), with their sizes. With a store or cache,
 * lists that one.
 *
 * @example
 * const files = await listBundleCache();
 * console.log(files.length, 'files,', files.reduce((a, f) => a + f.bytes, 0), 'bytes cached');
 */
export async function listBundleCache(store?: BundleStore | CacheLike): Promise<CachedBundleFile[]> {
  if (store) return 'list' in store ? store.list() : listCacheStorage(store);
  const dir = await opfsFolder(false).catch(() => undefined);
  return [...(dir ? await opfsStore(dir).list() : []), ...(await listCacheStorage())];
}

/**
 * Empties the bundle cache: every cached file of every bundle, in OPFS and in Cache Storage. Resolves to false
 * when the platform has neither. With a store or cache, empties that one.
 *
 * @example
 * await clearBundleCache(); // the next fetchBundle downloads every file again
 */
export async function clearBundleCache(store?: BundleStore | CacheLike): Promise<boolean> {
  if (store) {
    if ('clear' in store) await store.clear();
    else await clearCacheStorage(store);
    return true;
  }
  const root = await (globalThis as unknown as { navigator?: { storage?: { getDirectory?: () => Promise<DirectoryLike> } } }).navigator?.storage
    ?.getDirectory?.()
    .catch(() => undefined);
  let done = false;
  if (root) {
    await root.removeEntry(BUNDLE_CACHE_NAME, { recursive: true }).catch((err: unknown) => (isMissing(err) ? undefined : Promise.reject(err)));
    done = true;
  }
  return (await clearCacheStorage()) || done;
}
