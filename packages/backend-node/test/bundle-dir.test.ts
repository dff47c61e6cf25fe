import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Manifest } from '@migm/core';
import { testManifest } from '@migm/core/testing';
import { readBundleDir, sha256Node } from '../src/index.js';

let dir: string;
const contents: Record<string, string> = { 'base.onnx': 'base-bytes', 'head.onnx': 'head', 'decoder.onnx': 'decoder!', 'shortcut.onnx': 'sc' };

async function writeBundle(mutate: (m: Manifest) => void = () => {}): Promise<void> {
  const m = JSON.parse(JSON.stringify(testManifest())) as Manifest;
  m.files = m.files.map((f) => {
    const bytes = new TextEncoder().encode(contents[f.path]!);
    return { path: f.path, bytes: bytes.length, sha256: sha256Node(bytes) };
  }) as Manifest['files'];
  m.graphs.shortcut!.compatibility.baseSha256 = m.files[0]!.sha256;
  mutate(m);
  for (const [name, text] of Object.entries(contents)) await writeFile(join(dir, name), text);
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(m));
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'migm-bundle-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readBundleDir', () => {
  it('reads a valid bundle and returns verified bytes', async () => {
    await writeBundle();
    const b = await readBundleDir(dir);
    expect(b.manifest.name).toBe('migm-test-model');
    expect(new TextDecoder().decode(b.files.get('decoder.onnx'))).toBe('decoder!');
  });
  it('names a missing directory, manifest or file', async () => {
    await expect(readBundleDir(join(dir, 'nope'))).rejects.toMatchObject({ code: 'BUNDLE_MISMATCH', message: expect.stringContaining('does not exist') });
    await expect(readBundleDir(dir)).rejects.toMatchObject({ code: 'BUNDLE_MISMATCH', message: expect.stringContaining('manifest.json') });
    await writeBundle();
    await rm(join(dir, 'head.onnx'));
    await expect(readBundleDir(dir)).rejects.toMatchObject({ code: 'BUNDLE_MISMATCH', message: expect.stringContaining('head.onnx is missing') });
  });
  it('refuses a tampered file, a wrong size, a bad manifest and an unknown schema version', async () => {
    await writeBundle();
    await writeFile(join(dir, 'decoder.onnx'), 'decoder?');
    await expect(readBundleDir(dir)).rejects.toThrow(/decoder\.onnx has sha256/);
    await writeFile(join(dir, 'decoder.onnx'), 'decoder!!');
    await expect(readBundleDir(dir)).rejects.toThrow(/decoder\.onnx has 9 bytes; the manifest says 8/);
    await writeFile(join(dir, 'manifest.json'), '{ not json');
    await expect(readBundleDir(dir)).rejects.toMatchObject({ code: 'INVALID_MANIFEST' });
    await writeBundle((m) => ((m as { schemaVersion: number }).schemaVersion = 9));
    await expect(readBundleDir(dir)).rejects.toMatchObject({ code: 'INVALID_MANIFEST', message: expect.stringContaining('schemaVersion 9') });
  });
});
