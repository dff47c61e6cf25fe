// A bundle whose base graph keeps its weights in ONNX external data, read from disk by readBundleDir (the same
// hardened, verified reads as every bundle file) and handed to onnxruntime-node from memory. External data
// naming a file outside the manifest, outside the folder, or with a wrong sha256 is refused with nothing run.
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { generate, type Manifest } from '@migm/core';
import { externalizeInitializers } from '@migm/backend-ort';
import { createNodeBackend, sha256Node, type LoadProgressEvent } from '../src/index.js';

const TINY = fileURLToPath(new URL('../../backend-ort/test/fixtures/tiny-bundle/', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'migm-extdata-node-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A copy of the tiny bundle with base.onnx's weights in `location` (written as `dataFile`), listed as `list`. */
function externalBundle(name: string, edit: { location?: string; dataFile?: string; list?: string[]; listInFiles?: boolean } = {}): string {
  const dir = join(root, name, 'bundle');
  cpSync(TINY, dir, { recursive: true });
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  const location = edit.location ?? 'base.onnx.data';
  const { model, data } = externalizeInitializers(readFileSync(join(dir, 'base.onnx')), location);
  writeFileSync(join(dir, 'base.onnx'), model);
  // The listed file is always there; the graph may point elsewhere (dataFile), where a copy is put too.
  writeFileSync(join(dir, 'base.onnx.data'), data);
  if (edit.dataFile) writeFileSync(join(dir, edit.dataFile), data);
  const files = m.files as { path: string; bytes: number; sha256: string }[];
  Object.assign(
    files.find((f) => f.path === 'base.onnx')!,
    { bytes: model.length, sha256: sha256Node(model) },
  );
  m.graphs.shortcut!.compatibility.baseSha256 = sha256Node(model); // the shortcut names its base by the graph file's sha256
  if (edit.listInFiles !== false) files.push({ path: 'base.onnx.data', bytes: data.length, sha256: sha256Node(data) });
  (m.graphs.base as { externalData?: string[] }).externalData = edit.list ?? ['base.onnx.data'];
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m, null, 2));
  return dir;
}

async function load(dir: string): Promise<{ error?: { code: string; message: string }; events: LoadProgressEvent[] }> {
  const events: LoadProgressEvent[] = [];
  try {
    const backend = await createNodeBackend({ bundle: dir, threads: 1, onProgress: (e) => events.push(e) });
    await backend.dispose();
    return { events };
  } catch (err) {
    return { error: err as { code: string; message: string }, events };
  }
}

describe('external data in Node', () => {
  it('loads and generates what the inline bundle generates, reporting bytes verified and sessions created', async () => {
    const dir = externalBundle('ok');
    const events: LoadProgressEvent[] = [];
    const external = await createNodeBackend({ bundle: dir, threads: 1, onProgress: (e) => events.push(e) });
    const inline = await createNodeBackend({ bundle: TINY, threads: 1 });
    const opts = { condition: [2, 5], seed: 3, steps: 4 } as const;
    expect(Array.from((await generate(external, opts)).tokens)).toEqual(Array.from((await generate(inline, opts)).tokens));
    await external.dispose();
    await inline.dispose();
    const done = events.filter((e) => e.type === 'file-done');
    expect(done.map((e) => e.type === 'file-done' && e.file)).toContain('base.onnx.data');
    const last = done.at(-1)!;
    expect(last.type === 'file-done' && last.totalLoaded === last.totalBytes).toBe(true);
    expect(events.filter((e) => e.type === 'session-done').map((e) => e.type === 'session-done' && e.role)).toEqual(['base', 'head', 'decoder', 'shortcut']);
    // Every file event comes before the first session: all bytes are verified before onnxruntime sees any.
    const firstSession = events.findIndex((e) => e.type === 'session-start');
    expect(events.slice(firstSession).some((e) => e.type.startsWith('file-'))).toBe(false);
  });

  it('refuses external data with a wrong sha256 before any session', async () => {
    const dir = externalBundle('sha');
    const data = readFileSync(join(dir, 'base.onnx.data'));
    data[100] = data[100]! ^ 0xff;
    writeFileSync(join(dir, 'base.onnx.data'), data);
    const r = await load(dir);
    expect(r.error).toMatchObject({ code: 'BUNDLE_MISMATCH', message: expect.stringMatching(/base\.onnx\.data has sha256/) });
    expect(r.events.some((e) => e.type === 'session-start')).toBe(false);
  });

  it('refuses external data naming a file that the manifest does not list (present in the folder)', async () => {
    const r = await load(externalBundle('unlisted', { location: 'weights.bin', dataFile: 'weights.bin' }));
    expect(r.error).toMatchObject({ code: 'BUNDLE_MISMATCH', message: expect.stringMatching(/not one of the graph's externalData files/) });
    expect(r.events.some((e) => e.type === 'session-start')).toBe(false);
    const r2 = await load(externalBundle('unlisted2', { list: ['weights.bin'], listInFiles: true }));
    expect(r2.error).toMatchObject({ code: 'BUNDLE_MISMATCH', message: expect.stringMatching(/weights\.bin, which is not a loaded file/) });
    expect(r2.events.some((e) => e.type === 'session-start')).toBe(false);
  });

  it('refuses external data outside the bundle folder (a parent path, an absolute path, a symlink)', async () => {
    const up = externalBundle('up', { location: '../base.onnx.data', dataFile: '../base.onnx.data' });
    const r = await load(up);
    expect(r.error).toMatchObject({ code: 'BUNDLE_MISMATCH', message: expect.stringMatching(/not a plain file name/) });
    expect(r.error!.message).not.toContain('../');
    expect(r.events.some((e) => e.type === 'session-start')).toBe(false);
    const abs = externalBundle('abs', { location: join(root, 'abs', 'base.onnx.data'), dataFile: '../base.onnx.data' });
    expect((await load(abs)).error).toMatchObject({ code: 'BUNDLE_MISMATCH', message: expect.stringMatching(/not a plain file name/) });
    // The listed file itself a symlink to a copy outside: the loader refuses it before reading.
    const linked = externalBundle('link');
    cpSync(join(linked, 'base.onnx.data'), join(root, 'link', 'outside.data'));
    rmSync(join(linked, 'base.onnx.data'));
    symlinkSync(join(root, 'link', 'outside.data'), join(linked, 'base.onnx.data'));
    const r3 = await load(linked);
    expect(r3.error).toMatchObject({ code: 'BUNDLE_MISMATCH', message: expect.stringMatching(/base\.onnx\.data is a symbolic link/) });
    expect(r3.events.some((e) => e.type === 'session-start')).toBe(false);
  });
});
