// ONNX external data: allowed only from files the manifest lists for the graph (plain names, verified bytes),
// handed to onnxruntime from memory; every other reference is refused before any session exists.
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as ort from 'onnxruntime-node';
import { generate, isMigmError, type Manifest } from '@migm/core';
import { externalizeInitializers, inspectGraph, OrtBackend, type OrtModule, type SessionProgressEvent, type VerifiedBundle } from '../src/index.js';
import { nodeOrt, readTiny } from './helpers.js';
import { identityModel } from './onnx-craft.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** The tiny bundle with base.onnx's weights moved to `base.onnx.data` (listed in files and graphs.base.externalData). */
function externalTiny(edit?: { location?: string; list?: string[]; data?: Uint8Array }): VerifiedBundle {
  const tiny = readTiny();
  const manifest = structuredClone(tiny.manifest) as Manifest;
  const location = edit?.location ?? 'base.onnx.data';
  const { model, data, moved } = externalizeInitializers(tiny.files.get('base.onnx')!, location);
  expect(moved.length).toBeGreaterThan(0);
  const files = new Map(tiny.files);
  const stored = edit?.data ?? data;
  files.set('base.onnx', model).set('base.onnx.data', stored);
  const base = manifest.files.find((f) => f.path === 'base.onnx')!;
  Object.assign(base, { bytes: model.length, sha256: sha(model) });
  (manifest.files as { path: string; bytes: number; sha256: string }[]).push({ path: 'base.onnx.data', bytes: stored.length, sha256: sha(stored) });
  (manifest.graphs.base as { externalData?: string[] }).externalData = edit?.list ?? ['base.onnx.data'];
  return { manifest, files };
}

/** onnxruntime-node that records every session it is asked to create. */
function spyOrt(): { ort: OrtModule; created: { bytes: number; externalData: string[] }[] } {
  const created: { bytes: number; externalData: string[] }[] = [];
  const spy = {
    ...nodeOrt,
    InferenceSession: {
      create: (bytes: Uint8Array, o?: { externalData?: { path: string }[] }) => {
        created.push({ bytes: bytes.length, externalData: (o?.externalData ?? []).map((e) => e.path) });
        return ort.InferenceSession.create(bytes, o as never);
      },
    },
  } as unknown as OrtModule;
  return { ort: spy, created };
}

const dir = mkdtempSync(join(tmpdir(), 'migm-extdata-ok-'));
const cwd = process.cwd();
afterAll(() => {
  process.chdir(cwd);
  rmSync(dir, { recursive: true, force: true });
});

describe('external data from files the manifest lists', () => {
  it('a graph with its weights in a listed file loads from memory and generates what the inline graph generates', async () => {
    const bundle = externalTiny();
    expect(inspectGraph(bundle.files.get('base.onnx')!).externalTensors.length).toBeGreaterThan(0);
    // A decoy with the same name in the working directory: onnxruntime must use the verified bytes, not this file.
    writeFileSync(join(dir, 'base.onnx.data'), new Uint8Array(bundle.files.get('base.onnx.data')!.length));
    const { ort: spy, created } = spyOrt();
    const events: SessionProgressEvent[] = [];
    process.chdir(dir);
    let external: OrtBackend;
    try {
      external = await OrtBackend.create({ ort: spy, bundle, name: 'test', device: 'cpu', shortcut: false, onProgress: (e) => events.push(e) });
    } finally {
      process.chdir(cwd);
    }
    expect(created.find((c) => c.externalData.length > 0)?.externalData).toEqual(['base.onnx.data']);
    expect(events.filter((e) => e.type === 'session-done').map((e) => e.role)).toEqual(['base', 'head', 'decoder']);
    expect(events.every((e) => e.count === 3)).toBe(true);
    const inline = await OrtBackend.create({ ort: nodeOrt, bundle: readTiny(), name: 'test', device: 'cpu', shortcut: false });
    const opts = { condition: [1, 3], seed: 5, steps: 4 } as const;
    const a = await generate(external!, opts);
    const b = await generate(inline, opts);
    expect(Array.from(a.tokens)).toEqual(Array.from(b.tokens));
    await external!.dispose();
    await inline.dispose();
  });

  async function refused(bundle: VerifiedBundle, message: RegExp): Promise<void> {
    const { ort: spy, created } = spyOrt();
    let error: unknown;
    try {
      await OrtBackend.create({ ort: spy, bundle, name: 'test', device: 'cpu', shortcut: false });
    } catch (err) {
      error = err;
    }
    expect(isMigmError(error, 'BUNDLE_MISMATCH'), String(error)).toBe(true);
    expect((error as Error).message).toMatch(message);
    expect(created).toEqual([]); // refused before any session (the head and decoder included) was created
  }

  it('refuses external data the graph does not list (even a bundle file), naming tensors, not the location', async () => {
    const bundle = externalTiny({ list: ['decoder.onnx'] });
    await refused(bundle, /not one of the graph's externalData files/);
    const b2 = externalTiny();
    delete (b2.manifest.graphs.base as { externalData?: string[] }).externalData;
    await refused(b2, /lists no externalData files/);
  });

  it('refuses a location outside the bundle folder or behind a path', async () => {
    await refused(externalTiny({ location: '../base.onnx.data' }), /not a plain file name/);
    await refused(externalTiny({ location: '/etc/passwd' }), /not a plain file name/);
    await refused(externalTiny({ location: 'sub/base.onnx.data' }), /not a plain file name/);
    const err = await OrtBackend.create({ ort: nodeOrt, bundle: externalTiny({ location: '/etc/passwd' }), name: 't', device: 'cpu' }).catch((e: Error) => e);
    expect((err as Error).message).not.toMatch(/passwd/);
  });

  it('refuses a listed name that is not a loaded file, and an offset or length past the end of the file', async () => {
    await refused(externalTiny({ list: ['base.onnx.data', 'missing.bin'] }), /missing\.bin, which is not a loaded file/);
    await refused(externalTiny({ data: new Uint8Array(16) }), /offset and length lie outside the file/);
  });

  it('refuses the hostile identity model even when its location is listed but is no bundle file', async () => {
    const tiny = readTiny();
    const manifest = structuredClone(tiny.manifest) as Manifest;
    const hostile = identityModel({ external: { location: 'secret.txt', length: 8 } });
    Object.assign(
      manifest.files.find((f) => f.path === 'decoder.onnx')!,
      { bytes: hostile.length, sha256: sha(hostile) },
    );
    (manifest.graphs.decoder as { externalData?: string[] }).externalData = ['secret.txt'];
    await refused({ manifest, files: new Map(tiny.files).set('decoder.onnx', hostile) }, /secret\.txt, which is not a loaded file/);
  });
});
