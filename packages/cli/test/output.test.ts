// What the CLI prints: --json (one object on stdout, for scripts), --out - (the PNG on stdout, the human lines
// on stderr), plurals, class names one per line, and a silent --device auto fall-back.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { PNG } from 'pngjs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/main.js';

const TINY = fileURLToPath(new URL('../../backend-ort/test/fixtures/tiny-bundle/', import.meta.url));
const BIN = fileURLToPath(new URL('../bin/migm.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'migm-cli-output-'));
const ENV = { ...process.env, ORT_DISABLE_TELEMETRY: '1' };

async function run(argv: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((...a) => void out.push(a.join(' ')));
  vi.spyOn(console, 'error').mockImplementation((...a) => void err.push(a.join(' ')));
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => err.push(String(chunk)) > 0);
  try {
    return { code: await main(argv), out, err };
  } finally {
    vi.restoreAllMocks();
    stderr.mockRestore();
  }
}

/** The bin, with stdout as bytes (the PNG of --out -). */
function bin(args: string[]): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: ENV, encoding: 'buffer', maxBuffer: 64 << 20 }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr: stderr.toString('utf8') }),
    );
  });
}

afterEach(() => vi.restoreAllMocks());

describe('migm generate --json', () => {
  it('prints exactly one JSON object on stdout and nothing on stderr', async () => {
    const out = join(dir, 'j.png');
    const r = await run(['generate', '--bundle', TINY, '--class', 'bag', '--count', '3', '--seed', '2', '--out', out, '--json']);
    expect(r.code, r.err.join('')).toBe(0);
    expect(r.out).toHaveLength(1);
    expect(r.err).toEqual([]);
    const j = JSON.parse(r.out[0]!) as Record<string, unknown> & { timings: Record<string, number>; sampler: { device: boolean; reason: string | null } };
    expect(j).toMatchObject({
      command: 'generate',
      out,
      device: 'cpu',
      method: 'shortcut',
      steps: 4,
      budget: 2,
      seed: 2,
      count: 3,
      class: 8,
      className: 'Bag',
    });
    expect((j['bundle'] as { name: string }).name).toBeTruthy();
    expect(j.timings.msPerImage).toBeCloseTo(j.timings.totalMs! / 3, 6);
    expect(j.sampler.device).toBe(false);
    expect(typeof j.sampler.reason).toBe('string'); // the why lives here, not in every human timing line
    expect(PNG.sync.read(readFileSync(out)).width).toBeGreaterThan(0);
  });

  it('says "1 image", and the timing line leaves out the sampler reason', async () => {
    const r = await run(['generate', '--bundle', TINY, '--class', '1', '--count', '1', '--seed', '1', '--out', join(dir, 'one.png'), '--quiet']);
    expect(r.code).toBe(0);
    expect(r.out[0]).toMatch(/: 1 image, /);
    expect(r.out[1]).toMatch(/sampling on the host$/);
  });
});

describe('migm generate --out -', () => {
  it('writes the same PNG to stdout as to a file, and the result lines to stderr', async () => {
    const args = ['generate', '--bundle', TINY, '--class', 'coat', '--count', '2', '--seed', '7', '--quiet'];
    const piped = await bin([...args, '--out', '-']);
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdout.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    expect(piped.stderr).toMatch(/^wrote the PNG to stdout: 2 images, /);
    const file = join(dir, 'o.png');
    const written = await bin([...args, '--out', file]);
    expect(written.code).toBe(0);
    expect(piped.stdout.equals(readFileSync(file))).toBe(true);
  });

  it('refuses --out - with --json (both want stdout) before loading anything', async () => {
    const r = await run(['generate', '--bundle', join(dir, 'no-such-bundle'), '--class', '1', '--out', '-', '--json']);
    expect(r.code).toBe(2);
    expect(r.err.join('')).toMatch(/--out - and --json both write to stdout/);
  });
});

describe('migm compare --json and info', () => {
  it('compare --json: both runs and the speed-up in one object', async () => {
    const r = await run(['compare', '--bundle', TINY, '--class', 'coat', '--count', '2', '--seed', '3', '--out', join(dir, 'c.png'), '--json']);
    expect(r.code, r.err.join('')).toBe(0);
    expect(r.out).toHaveLength(1);
    const j = JSON.parse(r.out[0]!) as { command: string; left: { method: string }; right: { method: string }; speedup: number };
    expect([j.command, j.left.method, j.right.method]).toEqual(['compare', 'vanilla', 'shortcut']);
    expect(j.speedup).toBeGreaterThan(0);
  });

  it('compare labels each grid: a white strip above it with dark text, the grids below unchanged', async () => {
    const args = ['--bundle', TINY, '--class', 'coat', '--count', '4', '--columns', '2', '--scale', '4', '--seed', '3', '--quiet'];
    const out = join(dir, 'labelled.png');
    const alone = join(dir, 'vanilla-alone.png');
    expect((await run(['compare', ...args, '--out', out])).code).toBe(0);
    expect((await run(['generate', ...args, '--method', 'vanilla', '--out', alone])).code).toBe(0);
    const png = PNG.sync.read(readFileSync(out));
    const v = PNG.sync.read(readFileSync(alone)); // the left grid as generate draws it
    const strip = png.height - v.height;
    expect(strip).toBeGreaterThan(16);
    const dark = (x0: number, x1: number): number => {
      let n = 0;
      for (let y = 0; y < strip; y++) for (let x = x0; x < x1; x++) if (png.data[(y * png.width + x) * 4]! < 96) n++;
      return n;
    };
    expect(dark(0, v.width), 'text over the left grid').toBeGreaterThan(40);
    expect(dark(png.width - v.width, png.width), 'text over the right grid').toBeGreaterThan(40);
    for (let y = 0; y < v.height; y++) {
      const row = png.data.subarray((strip + y) * png.width * 4, ((strip + y) * png.width + v.width) * 4);
      expect(Buffer.from(row).equals(v.data.subarray(y * v.width * 4, (y + 1) * v.width * 4)), `row ${y}`).toBe(true);
    }
  });

  it('info lists the class names one per line, after the summary; --json gives the manifest', async () => {
    const r = await run(['info', '--bundle', TINY]);
    expect(r.code).toBe(0);
    const at = r.out.findIndex((l) => /^classes \(10, id name\):$/.test(l));
    expect(at).toBeGreaterThan(0);
    expect(r.out.slice(at + 1)).toEqual(expect.arrayContaining(['  0 T-shirt/top', '  9 Ankle boot']));
    expect(r.out.slice(at + 1)).toHaveLength(10);
    const j = await run(['info', '--bundle', TINY, '--json']);
    expect(j.out).toHaveLength(1);
    const info = JSON.parse(j.out[0]!) as { command: string; manifest: { condition: { classNames: string[] } } };
    expect(info.command).toBe('info');
    expect(info.manifest.condition.classNames).toHaveLength(10);
  });
});

describe('migm --device auto on a machine without CUDA', () => {
  it('falls back to the CPU without printing install instructions (through the bin)', async () => {
    const r = await bin(['generate', '--bundle', TINY, '--class', 'bag', '--count', '1', '--device', 'auto', '--out', join(dir, 'auto.png'), '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout.toString()).toMatch(/on cpu/);
  });
});
