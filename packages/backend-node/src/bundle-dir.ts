import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, open, realpath, stat, type FileHandle } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import type { FileProgressEvent, LoadProgressEvent } from '@migm/backend-ort';
import { MigmError, validateManifest, verifyBundleFile, type Manifest } from '@migm/core/backend';

/** A bundle read from disk: its validated manifest and the verified bytes of each file. */
export interface BundleFiles {
  readonly dir: string;
  readonly manifest: Manifest;
  readonly files: ReadonlyMap<string, Uint8Array>;
}

/** sha256 with node:crypto, lowercase hex. */
export function sha256Node(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The largest manifest.json read (a thousand class names fit many times over). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** Bytes read (and hashed) per read call: progress events come this often. */
const READ_BYTES = 16 * 1024 * 1024;

export interface ReadBundleOptions {
  /**
   * Hears `file-start`, `file-progress` (bytes read and hashed so far, per file and in total) and `file-done`
   * (size and sha256 checked): the events fetchBundle sends in the browser, with `cached` always false.
   */
  readonly onProgress?: (event: LoadProgressEvent) => void;
  /**
   * Files not to read, chosen from the validated manifest: e.g. `selectPrecision(m, dtype, device).unused`, the
   * graph files of other precisions. They are left out of `files` and of the progress totals.
   */
  readonly skip?: (manifest: Manifest) => ReadonlySet<string>;
}

/**
 * Reads `dir/manifest.json`, validates it against the schema, then reads every listed file and checks its
 * size and sha256 before anything uses it. Errors name the file and the mismatch (`INVALID_MANIFEST`,
 * `BUNDLE_MISMATCH`) and never quote a file's contents.
 *
 * Only regular files inside the bundle's real directory are opened: a symlink (to a file or through a
 * folder) that leaves the bundle, a FIFO, a device or a socket is refused before any byte is read, and a file
 * whose size differs from the manifest's is refused from its metadata, so nothing larger is read. The bundle
 * directory itself may be a symlink (package managers link packages that way).
 *
 * @example
 * const bundle = await readBundleDir('./node_modules/@migm/bundle-fashion-mnist/bundle');
 * console.log(bundle.manifest.condition.classNames);
 */
export async function readBundleDir(dir: string, options: ReadBundleOptions = {}): Promise<BundleFiles> {
  if (typeof dir !== 'string' || dir.length === 0 || dir.includes('\0')) {
    throw new MigmError(
      'INVALID_OPTION',
      `Invalid bundle directory: got ${typeof dir === 'string' ? JSON.stringify(dir.slice(0, 80)) : typeof dir}; a non-empty path is allowed.`,
    );
  }
  const given = resolve(dir);
  const root = await realpath(given).catch(() => null);
  const info = root === null ? null : await stat(root).catch(() => null);
  if (root === null || !info?.isDirectory()) {
    throw new MigmError('BUNDLE_MISMATCH', `Bundle directory ${given} does not exist or is not a directory.`, { details: { path: given } });
  }
  const manifestPath = join(root, 'manifest.json');
  const { bytes: manifestBytes } = await readInside(root, 'manifest.json', { max: MAX_MANIFEST_BYTES });
  let parsed: unknown;
  try {
    parsed = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(manifestBytes));
  } catch (err) {
    // V8's JSON errors quote the text; a manifest may be any file, so say only where it broke.
    const at = /position (\d+)/.exec((err as Error).message)?.[1];
    throw new MigmError('INVALID_MANIFEST', `${manifestPath} is not valid UTF-8 JSON${at !== undefined ? ` (error at byte ${at})` : ''}.`);
  }
  const manifest = validateManifest(parsed);
  const files = new Map<string, Uint8Array>();
  const skip = options.skip?.(manifest);
  const wanted = skip ? manifest.files.filter((f) => !skip.has(f.path)) : manifest.files;
  const totalBytes = wanted.reduce((a, f) => a + f.bytes, 0);
  let totalLoaded = 0;
  const emit = options.onProgress;
  for (const entry of wanted) {
    const event = (type: FileProgressEvent['type'], loaded: number) =>
      emit?.({ type, file: entry.path, loaded, total: entry.bytes, totalLoaded: totalLoaded + loaded, totalBytes, cached: false });
    event('file-start', 0);
    // Hashed as it is read: one pass over a file of hundreds of MB instead of a read and then a hash.
    const { bytes, sha256 } = await readInside(root, entry.path, { exact: entry.bytes }, (loaded) => event('file-progress', loaded));
    await verifyBundleFile(manifest, entry.path, bytes, () => sha256);
    event('file-done', bytes.byteLength);
    totalLoaded += bytes.byteLength;
    files.set(entry.path, bytes);
  }
  return { dir: root, manifest, files };
}

/**
 * Open flags for bundle files. Where the platform has no O_NOFOLLOW or O_NONBLOCK (Windows: `fs.constants` lacks
 * both), the realpath check before the open and the fstat after it still refuse links and non-files, and
 * {@link readInside} compares the opened file with an lstat of the path (same file id) instead of relying on
 * the open to refuse a final link. Named pipes live outside the file system there, so nothing can block the open.
 */
const HAS_NOFOLLOW = typeof constants.O_NOFOLLOW === 'number';
const OPEN_FLAGS = constants.O_RDONLY | (HAS_NOFOLLOW ? constants.O_NOFOLLOW : 0) | (typeof constants.O_NONBLOCK === 'number' ? constants.O_NONBLOCK : 0);

/**
 * Reads `root/path` only if it is a regular file whose real path lies inside `root`, with a size checked from
 * its metadata (`exact` bytes, or at most `max`) before reading. O_NOFOLLOW refuses a final symlink at open,
 * O_NONBLOCK keeps a FIFO from blocking the open; fstat on the opened handle decides, so a file swapped after
 * the path checks is still judged by what was opened.
 */
async function readInside(
  root: string,
  path: string,
  size: { exact?: number; max?: number },
  onBytes?: (loaded: number) => void,
): Promise<{ bytes: Uint8Array; sha256: string }> {
  const full = join(root, path);
  const refuse = (why: string, extra: Record<string, unknown> = {}): MigmError =>
    new MigmError('BUNDLE_MISMATCH', `Bundle file ${path} ${why}.`, { details: { path, ...extra } });
  const real = await realpath(full).catch((err: NodeJS.ErrnoException) => {
    throw err.code === 'ENOENT' ? refuse(`is missing from ${root}`) : refuse(`cannot be read (${err.code ?? 'error'})`);
  });
  if (real !== full || !real.startsWith(root + sep)) {
    throw refuse(`is a symbolic link or lies behind one${real.startsWith(root + sep) ? '' : ' leading outside the bundle'}; bundles must hold regular files`);
  }
  let handle: FileHandle;
  try {
    handle = await open(full, OPEN_FLAGS);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw refuse(code === 'ELOOP' ? 'is a symbolic link; bundles must hold regular files' : `cannot be opened (${code ?? 'error'})`);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw refuse('is not a regular file (a FIFO, device, socket or folder); bundles must hold regular files');
    if (!HAS_NOFOLLOW) {
      // No O_NOFOLLOW (Windows): the path must still be the regular file that was opened, not a link swapped in
      // between the realpath check and the open.
      const now = await lstat(full, { bigint: true }).catch(() => undefined);
      const opened = await handle.stat({ bigint: true });
      if (!now?.isFile() || now.ino !== opened.ino || now.dev !== opened.dev)
        throw refuse('changed while being opened (a symbolic link or another file); bundles must hold regular files');
    }
    if (size.exact !== undefined && st.size !== size.exact) {
      throw refuse(`has ${st.size} bytes; the manifest says ${size.exact}`, { expected: size.exact, actual: st.size });
    }
    if (size.max !== undefined && st.size > size.max) throw refuse(`has ${st.size} bytes; at most ${size.max} are allowed`);
    const want = st.size;
    // Read one byte more than announced: a file still growing is caught instead of truncated silently.
    const buffer = new Uint8Array(want + 1);
    const hash = createHash('sha256');
    let got = 0;
    while (got < buffer.length) {
      const { bytesRead } = await handle.read(buffer, got, Math.min(READ_BYTES, buffer.length - got), got);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(got, Math.min(got + bytesRead, want)));
      got += bytesRead;
      onBytes?.(Math.min(got, want));
    }
    if (got !== want) throw refuse(`changed size while being read (${want} bytes announced, ${got} read)`);
    return { bytes: buffer.subarray(0, want), sha256: hash.digest('hex') };
  } finally {
    await handle.close();
  }
}
