import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { validateManifest, type Manifest } from '@migm/core';
import * as ort from 'onnxruntime-node';
import { OrtBackend, type OrtModule, type VerifiedBundle } from '../src/index.js';

/** The tiny bundle made by `training/` with its `tiny` preset (16 tokens, width 32): real graphs, seconds to run. */
export const TINY_BUNDLE = fileURLToPath(new URL('./fixtures/tiny-bundle/', import.meta.url));

export function readTiny(mutate?: (m: Manifest) => void): VerifiedBundle {
  const manifest = JSON.parse(readFileSync(`${TINY_BUNDLE}manifest.json`, 'utf8')) as Manifest;
  mutate?.(manifest);
  const files = new Map<string, Uint8Array>();
  for (const f of manifest.files) {
    const bytes = readFileSync(`${TINY_BUNDLE}${f.path}`);
    if (createHash('sha256').update(bytes).digest('hex') !== f.sha256) throw new Error(`fixture ${f.path} does not match its manifest`);
    files.set(f.path, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  }
  return { manifest: validateManifest(manifest), files };
}

export const nodeOrt = ort as unknown as OrtModule;

export function tinyBackend(extra: { classifier?: boolean; shortcut?: boolean; deviceSampling?: boolean } = {}): Promise<OrtBackend> {
  return OrtBackend.create({
    ort: nodeOrt,
    bundle: readTiny(),
    name: 'onnxruntime-node',
    device: 'cpu',
    sessionOptions: { executionProviders: ['cpu'], intraOpNumThreads: 1 },
    ...extra,
  });
}
