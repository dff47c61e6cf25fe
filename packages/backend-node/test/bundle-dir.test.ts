import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Manifest } from '@migm/core';
import { testManifest } from '@migm/core/testing';
import { MAX_MANIFEST_BYTES, readBundleDir, sha256Node } from '../src/index.js';

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

describe('readBundleDir on a hostile bundle', () => {
  const outside = async (): Promise<string> => {
    const o = await mkdtemp(join(tmpdir(), 'migm-outside-'));
    await writeFile(join(o, 'secret.onnx'), 'decoder!'); // same bytes as the real file: only the path differs
    return o;
  };

  it('refuses a file symlink, inside or leading outside the bundle, before reading it', async () => {
    await writeBundle();
    const o = await outside();
    try {
      await rm(join(dir, 'decoder.onnx'));
      await symlink(join(o, 'secret.onnx'), join(dir, 'decoder.onnx'));
      await expect(readBundleDir(dir)).rejects.toMatchObject({
        code: 'BUNDLE_MISMATCH',
        message: expect.stringMatching(/decoder\.onnx is a symbolic link.*leading outside the bundle/),
      });
      await rm(join(dir, 'decoder.onnx'));
      await writeFile(join(dir, 'copy.onnx'), 'decoder!');
      await symlink('copy.onnx', join(dir, 'decoder.onnx'));
      await expect(readBundleDir(dir)).rejects.toMatchObject({ code: 'BUNDLE_MISMATCH', message: expect.stringContaining('is a symbolic link') });
      await rm(join(dir, 'decoder.onnx'));
      await symlink('/dev/zero', join(dir, 'decoder.onnx'));
      await expect(readBundleDir(dir)).rejects.toMatchObject({ code: 'BUNDLE_MISMATCH', message: expect.stringContaining('symbolic link') });
    } finally {
      await rm(o, { recursive: true, force: true });
    }
  });

  it('refuses a folder symlink on the way to a file, and a symlinked manifest, without echoing contents', async () => {
    const o = await outside();
    try {
      await writeBundle((m) => {
        m.files = m.files.map((f) => (f.path === 'decoder.onnx' ? { ...f, path: 'sub/secret.onnx' } : f)) as Manifest['files'];
        m.graphs.decoder.file = 'sub/secret.onnx';
      });
      await symlink(o, join(dir, 'sub'));
      await expect(readBundleDir(dir)).rejects.toMatchObject({
        code: 'BUNDLE_MISMATCH',
        message: expect.stringContaining('sub/secret.onnx is a symbolic link or lies behind one leading outside'),
      });
      await rm(join(dir, 'manifest.json'));
      await writeFile(join(o, 'passwd'), 'root:x:0:0:root:/root:/bin/bash\n');
      await symlink(join(o, 'passwd'), join(dir, 'manifest.json'));
      const err = await readBundleDir(dir).catch((e: Error) => e);
      expect(err).toMatchObject({ code: 'BUNDLE_MISMATCH', message: expect.stringContaining('manifest.json is a symbolic link') });
      expect((err as Error).message).not.toContain('root:');
    } finally {
      await rm(o, { recursive: true, force: true });
    }
  });

  it('never quotes a manifest that is not JSON', async () => {
    await writeFile(join(dir, 'manifest.json'), 'root:x:0:0:root:/root:/bin/bash\n');
    const err = await readBundleDir(dir).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'INVALID_MANIFEST', message: expect.stringMatching(/not valid UTF-8 JSON/) });
    expect((err as Error).message).not.toContain('root');
  });

  it('refuses a FIFO in place of a file at once instead of hanging', async () => {
    await writeBundle();
    await rm(join(dir, 'head.onnx'));
    execFileSync('mkfifo', [join(dir, 'head.onnx')]);
    const t0 = Date.now();
    await expect(readBundleDir(dir)).rejects.toMatchObject({ code: 'BUNDLE_MISMATCH', message: expect.stringContaining('head.onnx is not a regular file') });
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('refuses a file far larger than the manifest says from its metadata, without reading it', async () => {
    await writeBundle();
    await truncate(join(dir, 'base.onnx'), 64 * 1024 ** 3); // sparse: 64 GiB announced, nothing allocated
    const rssBefore = process.memoryUsage().rss;
    await expect(readBundleDir(dir)).rejects.toMatchObject({
      code: 'BUNDLE_MISMATCH',
      message: expect.stringContaining(`base.onnx has ${64 * 1024 ** 3} bytes; the manifest says 10`),
    });
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(64 * 1024 ** 2);
  });

  it('bounds the manifest size', async () => {
    await writeFile(join(dir, 'manifest.json'), '');
    await truncate(join(dir, 'manifest.json'), MAX_MANIFEST_BYTES + 1);
    await expect(readBundleDir(dir)).rejects.toMatchObject({
      code: 'BUNDLE_MISMATCH',
      message: expect.stringContaining(`at most ${MAX_MANIFEST_BYTES} are allowed`),
    });
  });

  it('accepts a bundle directory reached through a symlink (package managers link packages)', async () => {
    await writeBundle();
    const link = `${dir}-link`;
    await symlink(dir, link);
    try {
      expect((await readBundleDir(link)).manifest.name).toBe('migm-test-model');
    } finally {
      await rm(link);
    }
  });
});
