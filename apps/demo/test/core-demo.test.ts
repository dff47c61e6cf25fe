import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { encodePng } from '../src/png.js';

describe('encodePng', () => {
  it('round-trips an RGBA raster', () => {
    const data = new Uint8ClampedArray(3 * 2 * 4).map((_, i) => (i * 37) % 256);
    const decoded = PNG.sync.read(encodePng({ width: 3, height: 2, data }));
    expect([decoded.width, decoded.height]).toEqual([3, 2]);
    expect(Array.from(decoded.data)).toEqual(Array.from(data));
  });
});

describe('core demo CLI', () => {
  it('runs every predictor and writes a decodable grid of the right size', () => {
    const dir = mkdtempSync(join(tmpdir(), 'migm-demo-'));
    const out = join(dir, 'grid.png');
    const text = execFileSync(process.execPath, ['dist/core-demo.js', '--steps', '8', '--budget', '3', '--batch', '2', '--out', out], {
      cwd: new URL('..', import.meta.url),
      encoding: 'utf8',
      env: { ...process.env, INIT_CWD: '' },
    });
    for (const p of ['vanilla', 'shortcut', 'reuse', 'taylor']) expect(text).toMatch(new RegExp(`^${p}\\s+\\d+`, 'm'));
    const png = PNG.sync.read(readFileSync(out));
    // 2 columns x 4 rows of 28x28 images at scale 4 with 2 px padding.
    expect(png.width).toBe(2 * 112 + 3 * 2);
    expect(png.height).toBe(4 * 112 + 5 * 2);
  });
});
