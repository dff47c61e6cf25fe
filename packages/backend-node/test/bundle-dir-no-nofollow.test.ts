// The loader where the platform has no O_NOFOLLOW / O_NONBLOCK (Windows: fs.constants lacks both), simulated on
// this machine: the flags are removed from node:fs's constants, and a file is swapped for a symlink right after
// it is opened (what O_NOFOLLOW would have refused atomically).
import { mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Manifest } from '@migm/core';
import { testManifest } from '@migm/core/testing';

const swap = vi.hoisted(() => ({ after: undefined as undefined | ((path: string) => Promise<void>) }));

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const { O_NOFOLLOW: _f, O_NONBLOCK: _n, ...constants } = fs.constants;
  return { ...fs, constants, default: { ...fs, constants } };
});
vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof import('node:fs/promises')>();
  const open = async (...args: Parameters<typeof real.open>): ReturnType<typeof real.open> => {
    const handle = await real.open(...args);
    await swap.after?.(String(args[0]));
    return handle;
  };
  return { ...real, open, default: { ...real, open } };
});

const { readBundleDir, sha256Node } = await import('../src/index.js');

let dir: string;
const contents: Record<string, string> = { 'base.onnx': 'base-bytes', 'head.onnx': 'head', 'decoder.onnx': 'decoder!', 'shortcut.onnx': 'sc' };

async function writeBundle(): Promise<void> {
  const m = JSON.parse(JSON.stringify(testManifest())) as Manifest;
  m.files = m.files.map((f) => {
    const bytes = new TextEncoder().encode(contents[f.path]!);
    return { path: f.path, bytes: bytes.length, sha256: sha256Node(bytes) };
  }) as Manifest['files'];
  m.graphs.shortcut!.compatibility.baseSha256 = m.files[0]!.sha256;
  for (const [name, text] of Object.entries(contents)) await writeFile(join(dir, name), text);
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(m));
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'migm-nofollow-'));
  swap.after = undefined;
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('readBundleDir without O_NOFOLLOW (the Windows fall-back)', () => {
  it('the simulation holds: node:fs has no O_NOFOLLOW here', async () => {
    const fs = await import('node:fs');
    expect(fs.constants.O_NOFOLLOW).toBeUndefined();
    expect(typeof fsp.open).toBe('function');
  });

  it('reads a valid bundle', async () => {
    await writeBundle();
    const b = await readBundleDir(dir);
    expect(new TextDecoder().decode(b.files.get('decoder.onnx'))).toBe('decoder!');
  });

  it('refuses a file symlink before opening it (realpath check)', async () => {
    await writeBundle();
    await writeFile(join(dir, 'copy.onnx'), 'decoder!');
    await rm(join(dir, 'decoder.onnx'));
    await symlink('copy.onnx', join(dir, 'decoder.onnx'));
    await expect(readBundleDir(dir)).rejects.toMatchObject({ code: 'BUNDLE_MISMATCH', message: expect.stringContaining('is a symbolic link') });
  });

  it('refuses a file swapped for a symlink between the path check and the open (same-file check after the open)', async () => {
    await writeBundle();
    await writeFile(join(dir, 'copy.onnx'), 'decoder!');
    await symlink('copy.onnx', join(dir, 'link.onnx'));
    swap.after = async (path) => {
      if (!path.endsWith('decoder.onnx')) return;
      swap.after = undefined;
      await rename(join(dir, 'link.onnx'), join(dir, 'decoder.onnx'));
    };
    await expect(readBundleDir(dir)).rejects.toMatchObject({
      code: 'BUNDLE_MISMATCH',
      message: expect.stringContaining('decoder.onnx changed while being opened'),
    });
  });
});
