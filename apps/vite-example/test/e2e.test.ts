// The Vite example end to end: `vite build` (through Vite's API, into a temp folder) must emit the model bundle and
// onnxruntime-web's four runtime files by itself and no other wasm; a static server on 127.0.0.1 serves only
// that output; Debian's Chromium (playwright-core, the demo's launch config) loads the page, which generates on
// wasm from what the build emitted.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { mkdtempSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleDir } from '@migm/bundle-fashion-mnist';
// One Chromium launch config for every e2e test in the repository (path, flags, presence).
import { CHROMIUM, CHROMIUM_ARGS, hasChromium } from '../../demo/test/chromium.js';

const APP = fileURLToPath(new URL('../', import.meta.url));
const ORT_FILES = ['ort-wasm-simd-threaded.wasm', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.jsep.wasm', 'ort-wasm-simd-threaded.jsep.mjs'];
const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
};

let out = '';
let server: Server | undefined;
let origin = '';
let browser: Browser | undefined;

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

beforeAll(async () => {
  out = mkdtempSync(join(tmpdir(), 'migm-vite-example-'));
  await build({ root: APP, configFile: join(APP, 'vite.config.ts'), logLevel: 'silent', build: { outDir: out, emptyOutDir: true } });
  server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const file = join(out, path.endsWith('/') ? `${path}index.html` : path);
    if (!file.startsWith(out + sep) || !statSync(file, { throwIfNoEntry: false })?.isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await browser?.close();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  if (out) rmSync(out, { recursive: true, force: true });
});

describe('vite build of the example', () => {
  it("emits every file of the bundle's manifest under bundle/, byte for byte", () => {
    const manifest = JSON.parse(readFileSync(join(bundleDir(), 'manifest.json'), 'utf8')) as { files: { path: string; sha256: string }[] };
    expect(readFileSync(join(out, 'bundle', 'manifest.json')).equals(readFileSync(join(bundleDir(), 'manifest.json')))).toBe(true);
    for (const f of manifest.files) {
      expect(
        createHash('sha256')
          .update(readFileSync(join(out, 'bundle', f.path)))
          .digest('hex'),
        f.path,
      ).toBe(f.sha256);
    }
  });

  it("emits onnxruntime-web's four runtime files under ort/ with their names, and no other wasm", () => {
    const files = walk(out).map((f) => relative(out, f).split(sep).join('/'));
    expect(files.filter((f) => f.startsWith('ort/')).sort()).toEqual(ORT_FILES.map((f) => `ort/${f}`).sort());
    expect(files.filter((f) => f.endsWith('.wasm')).sort()).toEqual(['ort/ort-wasm-simd-threaded.jsep.wasm', 'ort/ort-wasm-simd-threaded.wasm']);
    const wasmBytes = files.filter((f) => f.endsWith('.wasm')).reduce((a, f) => a + statSync(join(out, f)).size, 0);
    expect(wasmBytes).toBeLessThan(45e6); // the two files backend-web loads, not a second bundled copy of each
  });
});

describe.skipIf(!hasChromium)('the built example in Chromium', () => {
  it('loads the bundle and the runtime from the build and generates on wasm', async () => {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const page = await browser.newPage();
    const errors: string[] = [];
    const failed: string[] = [];
    const served: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    page.on('response', (r) => {
      const url = new URL(r.url());
      if (url.origin === origin) (r.status() === 200 ? served : failed).push(url.pathname);
      else failed.push(r.url()); // nothing may come from elsewhere (a CDN)
    });
    await page.goto(`${origin}/?device=wasm`);
    await page.waitForFunction(
      () =>
        (globalThis as { migmExample?: { ready: boolean; error: string } }).migmExample?.ready ||
        !!(globalThis as { migmExample?: { error: string } }).migmExample?.error,
      null,
      { timeout: 60_000 },
    );
    const state = await page.evaluate(() => (globalThis as unknown as { migmExample: { ready: boolean; device: string; error: string } }).migmExample);
    expect(state.error).toBe('');
    expect(state.device).toBe('wasm');
    await page.selectOption('#class', '7');
    await page.click('#generate');
    await page.waitForFunction(
      () =>
        (globalThis as unknown as { migmExample: { runs: number; error: string } }).migmExample.runs === 1 ||
        !!(globalThis as unknown as { migmExample: { error: string } }).migmExample.error,
      null,
      { timeout: 60_000 },
    );
    const pixels = await page.evaluate(() => {
      const c = document.getElementById('grid') as HTMLCanvasElement;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let min = 255;
      let max = 0;
      for (let i = 0; i < d.length; i += 4) {
        min = Math.min(min, d[i]!);
        max = Math.max(max, d[i]!);
      }
      return { width: c.width, height: c.height, min, max };
    });
    expect(pixels.width).toBeGreaterThan(0);
    expect(pixels.max - pixels.min, 'the images are not blank').toBeGreaterThan(100);
    expect(await page.textContent('#status')).toMatch(/^4 images in \d+ ms on wasm$/);
    expect(errors).toEqual([]);
    expect(failed).toEqual([]);
    expect(served).toEqual(
      expect.arrayContaining(['/bundle/manifest.json', '/bundle/base.onnx', '/ort/ort-wasm-simd-threaded.wasm', '/ort/ort-wasm-simd-threaded.mjs']),
    );
  });
});
