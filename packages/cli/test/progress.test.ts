// Load and generation progress: plain lines off a terminal (a child process with stderr piped, on a bundle padded
// past LARGE_BUNDLE_BYTES), a redrawn line on one, and --count's default by image size.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { LoadProgressEvent } from '@migm/backend-node';
import type { StepEvent } from '@migm/core';
import { defaultCount, LARGE_BUNDLE_BYTES, loadProgress, progressBar } from '../src/progress.js';

const TINY = fileURLToPath(new URL('../../backend-ort/test/fixtures/tiny-bundle/', import.meta.url));
const BIN = fileURLToPath(new URL('../bin/migm.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'migm-cli-progress-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const varint = (n: number): number[] => {
  const out: number[] = [];
  for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n % 128) | 0x80);
  return [...out, n];
};
const field = (num: number, body: Uint8Array) => Buffer.concat([Buffer.from([...varint(num * 8 + 2), ...varint(body.length)]), body]);

/**
 * The ONNX model with an unused uint8 initializer of `bytes` bytes appended: a second ModelProto.graph field,
 * which protobuf merges into the first. onnxruntime drops the initializer at load; the file is simply larger.
 */
function padModel(model: Uint8Array, bytes: number): Buffer {
  const tensor = Buffer.concat([Buffer.from([0x08, ...varint(bytes), 0x10, 2]), field(8, Buffer.from('migm_pad')), field(9, new Uint8Array(bytes).fill(7))]);
  return Buffer.concat([model, field(7, field(5, tensor))]);
}

function largeBundle(): string {
  const out = join(dir, 'large');
  cpSync(TINY, out, { recursive: true });
  const m = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as {
    files: { path: string; bytes: number; sha256: string }[];
    graphs: { shortcut: { compatibility: { baseSha256: string } } };
  };
  const base = padModel(readFileSync(join(out, 'base.onnx')), LARGE_BUNDLE_BYTES + 8 * 1024 * 1024);
  writeFileSync(join(out, 'base.onnx'), base);
  const sha = createHash('sha256').update(base).digest('hex');
  Object.assign(
    m.files.find((f) => f.path === 'base.onnx')!,
    { bytes: base.length, sha256: sha },
  );
  m.graphs.shortcut.compatibility.baseSha256 = sha;
  writeFileSync(join(out, 'manifest.json'), JSON.stringify(m, null, 2));
  return out;
}

describe('progress off a terminal', () => {
  it('migm generate on a large bundle prints a loading line, byte and session lines, step lines with a per-image estimate', async () => {
    const bundle = largeBundle();
    const png = join(dir, 'large.png');
    const r = await promisify(execFile)(process.execPath, [BIN, 'generate', '--bundle', bundle, '--class', '1', '--steps', '4', '--seed', '2', '--out', png], {
      env: { ...process.env, ORT_DISABLE_TELEMETRY: '1' },
      timeout: 120_000,
    });
    const lines = r.stderr.split('\n').filter((l) => l.length > 0);
    expect(r.stderr).not.toContain('\r');
    expect(lines[0]).toMatch(/^migm: loading .*large \(4\d\.\d MB\)$/);
    expect(lines.filter((l) => /^loading: [\d.]+ MB of 4\d\.\d MB verified \(\d+%\)/.test(l)).length).toBeGreaterThanOrEqual(2);
    expect(lines).toContainEqual(expect.stringMatching(/verified \(100%\)/));
    expect(lines.filter((l) => /^loading: session \d\/4 \((base|head|decoder|shortcut)\) ready in/.test(l))).toHaveLength(4);
    expect(lines).toContainEqual(expect.stringMatching(/^migm: loaded .* on cpu: 4\d\.\d MB verified and 4 sessions in [\d.]+ s$/));
    expect(r.stdout).toMatch(/wrote .*large\.png: 16 images/); // --count's default for 28 px images
  }, 150_000);

  // Driven by a fake clock: off a terminal only the bundle's size decides, however long a (loaded) machine takes.
  it('off a terminal a small bundle prints nothing, even past a second; a large one gets the loading line', () => {
    for (const [bytes, elapsed] of [
      [2e5, 400],
      [2e5, 5000],
      [LARGE_BUNDLE_BYTES, 10],
    ] as const) {
      const writes: string[] = [];
      let t = 0;
      const load = loadProgress({ isTTY: false, write: (x: string) => writes.push(x) }, 'b', () => t);
      load.onProgress({ type: 'file-start', file: 'base.onnx', totalLoaded: 0, totalBytes: bytes } as unknown as LoadProgressEvent);
      t = elapsed;
      load.onProgress({ type: 'file-done', file: 'base.onnx', loaded: bytes, totalLoaded: bytes, totalBytes: bytes } as unknown as LoadProgressEvent);
      if (bytes < LARGE_BUNDLE_BYTES) expect(writes).toEqual([]);
      else expect(writes[0]).toMatch(/^migm: loading b \(/);
    }
  });
});

describe('progress on a terminal and defaults', () => {
  const tty = () => {
    const writes: string[] = [];
    return { stream: { isTTY: true, write: (t: string) => writes.push(t) }, writes };
  };
  const step = (step: number, kind: 'full' | 'skipped', elapsedMs: number) =>
    ({ type: 'step', step, steps: 4, kind, batch: 2, elapsedMs }) as unknown as StepEvent;

  it('redraws one line and clears it', () => {
    const { stream, writes } = tty();
    const load = loadProgress(stream, 'b');
    load.onProgress({ type: 'file-progress', file: 'base.onnx', loaded: 5e6, total: 1e7, totalLoaded: 5e6, totalBytes: 2e7, cached: false });
    load.onProgress({ type: 'session-start', role: 'base', file: 'base.onnx', index: 0, count: 3 });
    expect(load.done()).toMatch(/20\.0 MB verified and 0 sessions in/);
    expect(writes.every((w) => w.startsWith('\r'))).toBe(true);
    expect(writes.join('')).toContain('5.0 MB of 20.0 MB verified (25%, base.onnx)');

    const bar = tty();
    const p = progressBar(bar.stream, 'shortcut', { fullSteps: 2, batch: 2 });
    p.onStep(step(0, 'full', 1000));
    expect(bar.writes[0]).toMatch(/^\rshortcut \[#+\.+\] step 1\/4 base {4}1\.0 s ~1\.0 s\/image$/); // 1 s per full step x 2 full steps / 2 images
    p.onStep(step(1, 'skipped', 1100));
    p.done();
    expect(bar.writes.at(-1)).toBe('\r\x1b[2K');
  });

  it('off a terminal, step lines come once past a second, then every 5 s, and at the last step, with the estimate', () => {
    const writes: string[] = [];
    let t = 0;
    const p = progressBar({ write: (s: string) => writes.push(s) }, 'vanilla', { fullSteps: 4, batch: 1 }, () => t);
    for (const [i, ms] of [0, 1000, 6000, 7000].entries()) {
      t = ms;
      p.onStep(step(i, 'full', ms + 500));
    }
    expect(writes.map((w) => w.split(' ')[2])).toEqual(['2/4', '3/4', '4/4']);
    expect(writes[0]).toBe('vanilla: step 2/4 (base) 1.5 s ~3.0 s/image\n'); // 0.75 s per full step x 4
    const quiet: string[] = [];
    const fast = progressBar({ write: (s: string) => quiet.push(s) }, 'vanilla', { fullSteps: 4, batch: 1 });
    for (let i = 0; i < 4; i++) fast.onStep(step(i, 'full', 10 * i));
    expect(quiet).toEqual([]);
  });

  it('--count defaults by image size', () => {
    expect([28, 64, 128, 256, 512].map((s) => defaultCount({ width: s, height: s }))).toEqual([16, 16, 8, 4, 1]);
  });
});
