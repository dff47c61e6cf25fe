import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { isMigmError } from '@migm/core';
import * as ort from 'onnxruntime-node';
import { checkGraphBytes, inspectGraph, OrtBackend, type OrtModule } from '../src/index.js';
import { nodeOrt, readTiny } from './helpers.js';
import { identityModel } from './onnx-craft.js';

const SECRET = 'TOP SECRET: do not copy me into a PNG';
const dir = mkdtempSync(join(tmpdir(), 'migm-extdata-'));
writeFileSync(join(dir, 'secret.txt'), SECRET);
const cwd = process.cwd();
afterAll(() => {
  process.chdir(cwd);
  rmSync(dir, { recursive: true, force: true });
});
const hostile = identityModel({ external: { location: 'secret.txt', length: SECRET.length } });

describe('graph inspection before a session is made', () => {
  it('the crafted model is a real threat: onnxruntime alone reads the file next to the working directory', async () => {
    process.chdir(dir);
    try {
      const session = await ort.InferenceSession.create(hostile);
      const out = await session.run({});
      expect(Buffer.from(out['Y']!.data as Uint8Array).toString()).toBe(SECRET);
      await session.release();
    } finally {
      process.chdir(cwd);
    }
  });

  it('finds external data, foreign operator domains and broken bytes; accepts the real bundle graphs', () => {
    expect(inspectGraph(hostile).externalTensors).toEqual(['W']);
    expect(inspectGraph(identityModel({ inline: new Uint8Array([1, 2]), domain: 'evil.customops' })).domains).toEqual(['evil.customops']);
    expect(inspectGraph(identityModel({ inline: new Uint8Array([1, 2]) }))).toEqual({ externalTensors: [], externalRefs: [], domains: [], malformed: [] });
    expect(inspectGraph(hostile.subarray(0, hostile.length - 3)).malformed[0]).toMatch(/truncated/);
    expect(inspectGraph(new TextEncoder().encode('root:x:0:0:root:/root:/bin/bash\n')).malformed.length).toBe(1);
    const tiny = readTiny();
    for (const [path, bytes] of tiny.files)
      if (path.endsWith('.onnx')) expect(inspectGraph(bytes), path).toEqual({ externalTensors: [], externalRefs: [], domains: [], malformed: [] });
  });

  it('refuses the hostile decoder with BUNDLE_MISMATCH before onnxruntime sees it, without echoing its location', async () => {
    const tiny = readTiny();
    const manifest = structuredClone(tiny.manifest);
    const entry = manifest.files.find((f) => f.path === manifest.graphs.decoder.file)!;
    entry.bytes = hostile.length;
    entry.sha256 = createHash('sha256').update(hostile).digest('hex'); // a hostile bundle ships its own hashes
    const bundle = { manifest, files: new Map(tiny.files).set(manifest.graphs.decoder.file, hostile) };
    const created: number[] = [];
    const spy = {
      ...nodeOrt,
      InferenceSession: { create: (bytes: Uint8Array, o?: object) => (created.push(bytes.length), ort.InferenceSession.create(bytes, o)) },
    } as unknown as OrtModule;
    process.chdir(dir);
    let error: unknown;
    try {
      await OrtBackend.create({ ort: spy, bundle, name: 'test', device: 'cpu' });
    } catch (err) {
      error = err;
    } finally {
      process.chdir(cwd);
    }
    expect(isMigmError(error, 'BUNDLE_MISMATCH')).toBe(true);
    expect((error as Error).message).toMatch(/external files \('W'\)/);
    expect((error as Error).message).not.toMatch(/secret/);
    expect(created).not.toContain(hostile.length);
  });

  it('refuses a custom-op domain and names the allowed ones', () => {
    expect(() => checkGraphBytes('x.onnx', identityModel({ inline: new Uint8Array([1]), domain: 'my.ops' }))).toThrow(
      /operator domain\(s\) 'my.ops'; allowed: '', 'ai.onnx', 'ai.onnx.ml', 'com.microsoft'/,
    );
  });
});
