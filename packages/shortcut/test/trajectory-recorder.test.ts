import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TestBackend } from '@migm/core/testing';
import { TrajectoryRecorder, type TrajectoryFile, type TrajectoryIndex, type TrajectorySink } from '../src/index.js';
import { directorySink } from '../src/node.js';

function memorySink(): TrajectorySink & { files: Map<string, Uint8Array[]>; index: string } {
  const files = new Map<string, Uint8Array[]>();
  return {
    files,
    index: '',
    async append(file: TrajectoryFile, data: Uint8Array) {
      files.set(file, [...(files.get(file) ?? []), data.slice()]);
    },
    async writeIndex(json: string) {
      this.index = json;
    },
  };
}

const concat = (parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((a, p) => a + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};

describe('TrajectoryRecorder', () => {
  it('records features per step and branch, final tokens, reveal steps and classes', async () => {
    const be = new TestBackend();
    const sink = memorySink();
    const rec = new TrajectoryRecorder(be, sink);
    const r1 = await rec.record({ condition: [0, 2], steps: 5, seed: 1 });
    await rec.record({ condition: 1, batch: 3, steps: 5, seed: 2 });
    const index = (await rec.finish())!;
    const { count: L } = be.manifest.tokens;
    const D = be.manifest.featureDim;
    expect(index).toMatchObject({ format: 'migm-trajectories', version: 1, steps: 5, branches: 2, images: 5, tokens: L, featureDim: D });
    expect(index.counts.reduce((a, b) => a + b, 0)).toBe(L);
    expect(index.runs.map((r) => [r.images, r.firstImage, r.featureOffset])).toEqual([
      [2, 0, 0],
      [3, 2, 5 * 2 * 2 * L * D * 4],
    ]);
    expect(JSON.parse(sink.index)).toEqual(index);

    const features = new Float32Array(concat(sink.files.get('features.f32')!).buffer);
    expect(features.length).toBe(5 * 2 * 5 * L * D);
    const tokens = new Int32Array(concat(sink.files.get('tokens.i32')!).buffer);
    const reveal = new Int32Array(concat(sink.files.get('reveal_step.i32')!).buffer);
    const classes = new Int32Array(concat(sink.files.get('classes.i32')!).buffer);
    expect(Array.from(classes)).toEqual([0, 2, 1, 1, 1]);
    expect(Array.from(tokens.subarray(0, 2 * L))).toEqual(Array.from(r1.tokens));
    // Every position is revealed once, at a step whose count matches the schedule.
    for (let img = 0; img < 5; img++) {
      const perStep = new Array(5).fill(0);
      for (let p = 0; p < L; p++) perStep[reveal[img * L + p]!]++;
      expect(perStep).toEqual(index.counts);
    }
    // Step 0's feature is the base model on an all-masked grid: row 1 (cond, class 2) and row 3 (uncond).
    const { maskId } = be.manifest.tokens;
    const logits = new Float32Array(2 * L * be.manifest.tokens.codebookSize);
    const f = await be.forward({ tokens: new Int32Array(2 * L).fill(maskId), classes: Int32Array.of(2, 3), rows: 2, logits });
    const expected = await be.readFeature(f);
    be.release(f);
    const row = (r: number) => Array.from(features.subarray(r * L * D, (r + 1) * L * D));
    expect(row(1)).toEqual(Array.from(expected.subarray(0, L * D)));
    expect(row(3)).toEqual(Array.from(expected.subarray(L * D)));
    expect(be.live.size).toBe(0);
  });

  it('refuses runs with other settings before writing anything, and use after finish', async () => {
    const be = new TestBackend();
    const sink = memorySink();
    const rec = new TrajectoryRecorder(be, sink);
    await rec.record({ condition: 0, steps: 5, seed: 1 });
    const written = sink.files.get('features.f32')!.length;
    await expect(rec.record({ condition: 0, steps: 4, seed: 1 })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    await expect(rec.record({ condition: 0, steps: 5, guidance: 0 })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    expect(sink.files.get('features.f32')!.length).toBe(written);
    await rec.finish();
    await expect(rec.record({ condition: 0, steps: 5 })).rejects.toMatchObject({ code: 'DISPOSED' });
  });

  it('keeps later runs readable after a failed run (runs are located by their offsets)', async () => {
    const be = new TestBackend();
    const sink = memorySink();
    const rec = new TrajectoryRecorder(be, sink);
    await rec.record({ condition: 0, steps: 5, seed: 1 });
    const controller = new AbortController();
    await expect(
      rec.record({ condition: 1, steps: 5, seed: 2, signal: controller.signal, onStep: (e) => e.step === 2 && controller.abort() }),
    ).rejects.toMatchObject({ code: 'ABORTED' });
    const r3 = await rec.record({ condition: 2, steps: 5, seed: 3 });
    const index = rec.index!;
    expect(index.images).toBe(2);
    const L = be.manifest.tokens.count;
    const D = be.manifest.featureDim;
    const runBytes = 5 * 2 * L * D * 4;
    // The aborted run appended 3 steps of features before stopping; the third run starts after them.
    expect(index.runs[1]!.featureOffset).toBe(runBytes + 3 * 2 * L * D * 4);
    expect(Array.from(new Int32Array(concat(sink.files.get('tokens.i32')!).buffer).subarray(L))).toEqual(Array.from(r3.tokens));
    expect(be.live.size).toBe(0);
  });

  it('writes a directory through directorySink and refuses to overwrite one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'migm-traj-'));
    const be = new TestBackend();
    const rec = new TrajectoryRecorder(be, await directorySink(dir));
    await rec.record({ condition: [0, 1], steps: 4, seed: 3 });
    await rec.finish();
    const index = JSON.parse(await readFile(join(dir, 'trajectories.json'), 'utf8')) as TrajectoryIndex;
    const bytes = await readFile(join(dir, 'features.f32'));
    expect(bytes.length).toBe(index.steps * index.branches * index.images * index.tokens * index.featureDim * 4);
    await expect(directorySink(dir)).rejects.toMatchObject({ code: 'INVALID_OPTION' });
  });
});
