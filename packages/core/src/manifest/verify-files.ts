import { MigmError } from '../errors.js';
import type { Manifest } from './types.js';

/** A sha256 implementation supplied by the platform (node:crypto, Web Crypto); returns lowercase hex. */
export type Sha256 = (bytes: Uint8Array) => Promise<string> | string;

/**
 * Checks one bundle file against its manifest entry: listed, same byte size, same sha256. Throws
 * `BUNDLE_MISMATCH` naming the file and the difference. Backends call this before handing bytes to a runtime.
 */
export async function verifyBundleFile(manifest: Manifest, path: string, bytes: Uint8Array, sha256: Sha256): Promise<void> {
  const entry = manifest.files.find((f) => f.path === path);
  if (entry === undefined) {
    throw new MigmError('BUNDLE_MISMATCH', `Bundle file ${path} is not listed in the manifest's files.`, { details: { path } });
  }
  if (bytes.byteLength !== entry.bytes) {
    throw new MigmError('BUNDLE_MISMATCH', `Bundle file ${path} has ${bytes.byteLength} bytes; the manifest says ${entry.bytes}.`, {
      details: { path, expected: entry.bytes, actual: bytes.byteLength },
    });
  }
  const digest = (await sha256(bytes)).toLowerCase();
  if (digest !== entry.sha256) {
    throw new MigmError(
      'BUNDLE_MISMATCH',
      `Bundle file ${path} has sha256 ${digest}; the manifest says ${entry.sha256} (the file is corrupt or from another bundle).`,
      {
        details: { path, expected: entry.sha256, actual: digest },
      },
    );
  }
}

/** Hex string of a digest buffer (for Web Crypto's ArrayBuffer results). */
export function toHex(buffer: ArrayBuffer | Uint8Array): string {
  const bytes = buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += bytes[i]!.toString(16).padStart(2, '0');
  return s;
}
