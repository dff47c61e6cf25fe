import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { MigmError, validateManifest, verifyBundleFile, type Manifest } from '@migm/core';

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

/**
 * Reads `dir/manifest.json`, validates it against the schema, then reads every listed file and checks its
 * size and sha256 before anything uses it. Errors name the file and the mismatch (`INVALID_MANIFEST`,
 * `BUNDLE_MISMATCH`).
 *
 * @example
 * const bundle = await readBundleDir('./node_modules/@migm/bundle-fashion-mnist/bundle');
 * console.log(bundle.manifest.condition.classNames);
 */
export async function readBundleDir(dir: string): Promise<BundleFiles> {
  const root = resolve(dir);
  const info = await stat(root).catch(() => null);
  if (!info?.isDirectory()) {
    throw new MigmError('BUNDLE_MISMATCH', `Bundle directory ${root} does not exist or is not a directory.`, { details: { path: root } });
  }
  const manifestPath = join(root, 'manifest.json');
  const text = await readFile(manifestPath, 'utf8').catch((err: unknown) => {
    throw new MigmError('BUNDLE_MISMATCH', `Bundle directory ${root} has no readable manifest.json.`, { cause: err, details: { path: manifestPath } });
  });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new MigmError('INVALID_MANIFEST', `${manifestPath} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const manifest = validateManifest(parsed);
  const files = new Map<string, Uint8Array>();
  for (const entry of manifest.files) {
    const path = join(root, entry.path);
    const bytes = await readFile(path).catch((err: unknown) => {
      throw new MigmError('BUNDLE_MISMATCH', `Bundle file ${entry.path} is missing from ${root}.`, { cause: err, details: { path: entry.path } });
    });
    const view = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    await verifyBundleFile(manifest, entry.path, view, sha256Node);
    files.set(entry.path, view);
  }
  return { dir: root, manifest, files };
}
