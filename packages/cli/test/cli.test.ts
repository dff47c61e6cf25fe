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
const dir = mkdtempSync(join(tmpdir(), 'migm-cli-'));

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a) => void out.push(a.join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...a) => void err.push(a.join(' ')));
  try {
    const code = await main(argv);
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

describe('migm argument errors: one line, non-zero exit, no stack trace', () => {
  const cases: [string[], number, RegExp][] = [
    [['frobnicate'], 2, /unknown command 'frobnicate'/],
    [['bench', '--quick'], 2, /'bench' is no longer part of the published CLI; in the migm repository run `pnpm bench/],
    [['generate', '--bundle', TINY, '--nope'], 2, /unknown option '--nope'/],
    [['generate', '--bundle', TINY], 2, /--class is required/],
    [['generate', '--bundle', TINY, '--class', 'spaceship'], 2, /unknown class 'spaceship'/],
    [['generate', '--bundle', TINY, '--class', '3', '--steps', 'many'], 2, /--steps must be an integer/],
    [['generate', '--bundle', TINY, '--class', '3', '--count', '0'], 2, /--count must be an integer from 1/],
    [['generate', '--bundle', TINY, '--class', '3', '--budget', '9'], 2, /--budget must be an integer from 1 to 4/],
    [
      ['generate', '--bundle', TINY, '--class', '3', '--method', 'magic'],
      2,
      /--method must be one of vanilla, shortcut, reuse, taylor, shortcut-taylor, adams, got 'magic'/,
    ],
    [['generate', '--bundle', TINY, '--class', '3', '--device', 'tpu'], 2, /--device must be one of cpu, cuda, auto/],
    [['generate', '--bundle', join(dir, 'missing'), '--class', '3'], 1, /does not exist/],
    [
      ['compare', '--bundle', TINY, '--class', '3', '--method', 'vanilla'],
      2,
      /--method must be one of shortcut, reuse, taylor, shortcut-taylor, adams for compare/,
    ],
    [['generate', '--bundle', TINY, '--class', '3', '--count', '-1'], 2, /--count must be an integer from 1 to 1024, got '-1'/],
    [['generate', '--bundle', TINY, '--class', '3', '--seed', '-5'], 2, /--seed must be an integer from 0/],
    [
      ['generate', '--bundle', TINY, '--class', '3', '--method', 'vanilla', '--budget', '3'],
      2,
      /--budget applies to accelerated methods.*vanilla runs every step/,
    ],
    // The output path is checked before the bundle is even read: a missing bundle would be exit 1 'does not exist'.
    [
      ['generate', '--bundle', join(dir, 'missing'), '--class', '3', '--out', join(dir, 'no-such-folder', 'x.png')],
      2,
      /--out .*folder .*no-such-folder does not exist/,
    ],
    [
      ['generate', '--bundle', join(dir, 'missing'), '--class', '3', '--out', join(dir, `${'x'.repeat(300)}.png`)],
      2,
      /--out .* is too long for the file system/,
    ],
    [['compare', '--bundle', join(dir, 'missing'), '--class', '3', '--out', dir], 2, /--out .* is a folder/],
    [['record', '--bundle', join(dir, 'missing'), '--out', join(dir, 'a', 'b', 'c')], 2, /--out .*folder .* does not exist/],
  ];
  for (const [argv, code, message] of cases) {
    it(argv.slice(0, 1).concat(argv.slice(3)).join(' ') || argv.join(' '), async () => {
      const r = await run(argv);
      expect(r.code).toBe(code);
      expect(r.err).toMatch(message);
      expect(r.err.split('\n')).toHaveLength(1);
      expect(r.err).not.toMatch(/\n\s+at /);
    });
  }
});

describe('migm <command> --help', () => {
  for (const [command, flag] of [
    ['generate', '--help'],
    ['generate', '-h'],
    ['info', '--help'],
    ['compare', '--help'],
    ['record', '-h'],
  ] as const) {
    it(`${command} ${flag} prints that command's usage and exits 0`, async () => {
      const r = await run([command, flag]);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(new RegExp(`^usage: migm ${command}`));
      expect(r.err).toBe('');
    });
  }
});

describe('migm generate', () => {
  it('writes a decodable PNG grid of the right size and prints timings', async () => {
    const out = join(dir, 'g.png');
    const r = await run([
      'generate',
      '--bundle',
      TINY,
      '--class',
      'Ankle boot',
      '--count',
      '6',
      '--columns',
      '3',
      '--scale',
      '2',
      '--seed',
      '4',
      '--out',
      out,
      '--threads',
      '1',
    ]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/wrote .*g\.png: 6 images, shortcut N=4 B=2, Ankle boot \(9\), seed 4 on cpu/);
    expect(r.out).toMatch(/ms\/image\): .* onnxruntime, .* core; 2 base \+ 2 head \+ 2 shortcut calls/);
    const png = PNG.sync.read(readFileSync(out));
    expect([png.width, png.height]).toEqual([3 * 56 + 4 * 2, 2 * 56 + 3 * 2]);
  });

  it('runs every method', async () => {
    for (const method of ['vanilla', 'shortcut', 'reuse', 'taylor']) {
      const r = await run([
        'generate',
        '--bundle',
        TINY,
        '--class',
        '1',
        '--count',
        '2',
        '--method',
        method,
        '--seed',
        '1',
        '--out',
        join(dir, `${method}.png`),
      ]);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toContain(`${method} N=4`);
    }
  });

  it('--sampler device samples next to the logits with the same tokens as the host sampler', async () => {
    const args = ['generate', '--bundle', TINY, '--class', '2', '--count', '3', '--seed', '9', '--threads', '1'];
    const host = await run([...args, '--sampler', 'host', '--out', join(dir, 'host.png')]);
    const device = await run([...args, '--sampler', 'device', '--out', join(dir, 'device.png')]);
    const auto = await run([...args, '--out', join(dir, 'auto.png')]);
    expect(host.code, host.err).toBe(0);
    expect(device.code, device.err).toBe(0);
    expect(host.out).toMatch(/sampling on the host/);
    expect(device.out).toMatch(/sampling on the device/);
    expect(auto.out).toMatch(/sampling on the host/);
    expect(readFileSync(join(dir, 'device.png')).equals(readFileSync(join(dir, 'host.png')))).toBe(true);
    const bad = await run([...args, '--sampler', 'gpu']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--sampler must be one of auto, host, device, got 'gpu'/);
  });

  it('same seed, same PNG bytes (through the installed bin)', async () => {
    const exec = promisify(execFile);
    const files = [join(dir, 's1.png'), join(dir, 's2.png')];
    for (const f of files)
      await exec(process.execPath, [BIN, 'generate', '--bundle', TINY, '--class', 'bag', '--count', '4', '--seed', '11', '--out', f, '--quiet'], {
        env: { ...process.env, ORT_DISABLE_TELEMETRY: '1' },
      });
    expect(readFileSync(files[0]!).equals(readFileSync(files[1]!))).toBe(true);
    await exec(process.execPath, [
      BIN,
      'generate',
      '--bundle',
      TINY,
      '--class',
      'bag',
      '--count',
      '4',
      '--seed',
      '12',
      '--out',
      join(dir, 's3.png'),
      '--quiet',
    ]);
    expect(readFileSync(files[0]!).equals(readFileSync(join(dir, 's3.png')))).toBe(false);
  });
});

describe('migm --device cuda without the CUDA provider', () => {
  it("prints one clear line, not onnxruntime's raw log (through the installed bin)", async () => {
    const r = await promisify(execFile)(process.execPath, [
      BIN,
      'generate',
      '--bundle',
      TINY,
      '--class',
      'bag',
      '--count',
      '1',
      '--device',
      'cuda',
      '--out',
      join(dir, 'c.png'),
    ]).catch((e: { code: number; stderr: string }) => e);
    expect((r as { code: number }).code).toBe(1);
    const lines = (r as { stderr: string }).stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^migm generate: Device 'cuda' is not available: .*CUDA 12 provider is not installed/);
  });
});

describe('migm compare and info', () => {
  it('compare writes both grids side by side and prints the speed-up', async () => {
    const out = join(dir, 'c.png');
    const r = await run(['compare', '--bundle', TINY, '--class', 'coat', '--count', '4', '--columns', '2', '--scale', '1', '--seed', '3', '--out', out]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/speed-up: \d+\.\d\dx/);
    const png = PNG.sync.read(readFileSync(out));
    const grid = 2 * 28 + 3 * 2;
    // Each grid sits under its label (test/output.test.ts); at --scale 1 the labels are wider than the grids.
    expect(png.height).toBeGreaterThan(grid + 10);
    expect(png.width).toBeGreaterThanOrEqual(2 * grid + 16);
  });
  it('info describes the bundle', async () => {
    const r = await run(['info', '--bundle', TINY]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/16 tokens \(4x4\), codebook 16/);
    expect(r.out).toMatch(/graph shortcut .* trained at N=4/);
  });
});

describe('migm record', () => {
  it('records trajectories into a new directory and refuses to overwrite it', async () => {
    const out = join(dir, 'rec');
    const r = await run(['record', '--bundle', TINY, '--count', '3', '--batch', '2', '--seed', '5', '--out', out]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/3 trajectories, N=4, 2 branch\(es\)/);
    const index = JSON.parse(readFileSync(join(out, 'trajectories.json'), 'utf8'));
    expect(index.runs).toHaveLength(2);
    expect(readFileSync(join(out, 'features.f32')).length).toBe(4 * 2 * 3 * 16 * 32 * 4);
    const again = await run(['record', '--bundle', TINY, '--count', '1', '--out', out]);
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/already holds a trajectory recording/);
    expect((await run(['record', '--bundle', TINY])).err).toMatch(/--out DIR is required/);
  });
});
