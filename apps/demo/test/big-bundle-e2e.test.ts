// Large bundles through the demo page in Debian's Chromium, with the bundle cache on (a persistent profile, as a
// user's browser has): a bundle with one graph file over Chromium's 256 MB limit per Cache Storage entry (a
// random-init MaskGIT import made here, its base graph padded with an unused initializer) loads, generates, and
// after a reload comes from the cache without the big file being fetched again (the server's request log says
// so); the page's purge button empties the cache. A bundle whose base graph keeps its weights in ONNX external
// data loads too, and external data that names a file outside the manifest, outside the folder, or with a wrong
// sha256 is refused before any session exists. Timings are printed, never asserted.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BrowserContext, Page } from 'playwright-core';
import type { Manifest } from '@migm/core';
import { externalizeInitializers } from '@migm/backend-ort';
import { TINY_BUNDLE } from '../web/assets.mjs';
import { startServer } from '../web/serve.mjs';
import { buildDemo, demoView, hasChromium, launchPersistentChromium, noteSkipped, openPage } from './chromium.js';

const TRAINING = fileURLToPath(new URL('../../../training/', import.meta.url));
const PYTHON = process.env.MIGM_PYTHON ?? join(TRAINING, '.venv', 'bin', 'python'); // made by scripts/setup.sh (the toolkit's torch, not Debian's)
/** Bytes of the unused initializer added to the base graph: the file ends up over 256 MiB (Chromium's limit is 256 MB). */
const PAD_BYTES = 280 * 1024 * 1024;

interface DemoView {
  state: string;
  finished: number;
  manifest: Manifest;
  download: { events: number; totalLoaded: number; totalBytes: number; cachedFiles: string[] };
  cacheErrors: string[];
  cache: { files: number; bytes: number };
  sessions: number;
  loadMs: number;
  last: { images: { data: Float32Array; batch: number } }[];
}

type FileEntry = { path: string; bytes: number; sha256: string };
/** The page globals the checks below use (this tsconfig has no DOM types). */
type PageGlobals = {
  caches: { has(name: string): Promise<boolean>; open(name: string): Promise<{ keys(): Promise<unknown[]> }> };
  navigator: { storage: { getDirectory(): Promise<{ getDirectoryHandle(name: string): Promise<unknown> }> } };
};
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const varint = (n: number): number[] => {
  const out: number[] = [];
  for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n % 128) | 0x80);
  return [...out, n];
};
const field = (num: number, body: Uint8Array) => Buffer.concat([Buffer.from([...varint(num * 8 + 2), ...varint(body.length)]), body]);

/** The model with an unused uint8 initializer appended (a second ModelProto.graph field, merged by protobuf into the first). */
function padModel(model: Uint8Array, bytes: number): Buffer {
  const tensor = Buffer.concat([Buffer.from([0x08, ...varint(bytes), 0x10, 2]), field(8, Buffer.from('migm_pad')), field(9, Buffer.alloc(bytes, 7))]);
  return Buffer.concat([model, field(7, field(5, tensor))]);
}

/** Rewrites a bundle's base graph (and what names it: its files entry, the shortcut's baseSha256), plus extra files. */
function rewriteBase(dir: string, base: Uint8Array, extra: { path: string; bytes: Uint8Array; listed?: boolean }[] = [], externalData?: string[]): void {
  const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  const files = m.files as FileEntry[];
  writeFileSync(join(dir, m.graphs.base.file), base);
  Object.assign(
    files.find((f) => f.path === m.graphs.base.file)!,
    { bytes: base.length, sha256: sha(base) },
  );
  if (m.graphs.shortcut) m.graphs.shortcut.compatibility.baseSha256 = sha(base);
  for (const e of extra) {
    writeFileSync(join(dir, e.path), e.bytes);
    if (e.listed !== false) files.push({ path: e.path, bytes: e.bytes.length, sha256: sha(e.bytes) });
  }
  if (externalData) (m.graphs.base as { externalData?: string[] }).externalData = externalData;
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m, null, 2));
}

noteSkipped('big-bundle e2e');

describe.skipIf(!hasChromium)('large and external-data bundles in the demo page, cache on (Chromium)', () => {
  let context: BrowserContext;
  let server: { url: string; close: () => Promise<void> };
  let tmp: string;
  const log: string[] = [];
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'migm-big-e2e-'));
    // Its own build folder: other e2e files build the page in parallel and empty theirs.
    const dist = join(tmp, 'dist');
    await buildDemo(dist);
    await promisify(execFile)(PYTHON, ['-m', 'migm_train', 'import-maskgit', '--random-init', '--config', 'small', '--out', join(tmp, 'big')], {
      cwd: TRAINING,
      timeout: 180_000,
    });
    const big = join(tmp, 'big');
    const baseFile = (JSON.parse(readFileSync(join(big, 'manifest.json'), 'utf8')) as Manifest).graphs.base.file;
    rewriteBase(big, padModel(readFileSync(join(big, baseFile)), PAD_BYTES));

    // External data: the tiny bundle with base.onnx's weights in base.onnx.data, and three hostile variants.
    const tinyBase = readFileSync(join(TINY_BUNDLE, 'base.onnx'));
    const external = (name: string, location: string, edit: (data: Buffer) => { path: string; bytes: Uint8Array; listed?: boolean }[]) => {
      cpSync(TINY_BUNDLE, join(tmp, name), { recursive: true });
      const { model, data } = externalizeInitializers(tinyBase, location);
      rewriteBase(join(tmp, name), model, edit(Buffer.from(data)), ['base.onnx.data']);
    };
    external('ext', 'base.onnx.data', (data) => [{ path: 'base.onnx.data', bytes: data }]);
    // The graph points at weights.bin, which the folder holds but the manifest does not list.
    external('ext-unlisted', 'weights.bin', (data) => [
      { path: 'base.onnx.data', bytes: data },
      { path: 'weights.bin', bytes: data, listed: false },
    ]);
    // The graph points into another bundle's folder.
    external('ext-outside', '../ext/base.onnx.data', (data) => [{ path: 'base.onnx.data', bytes: data }]);
    // The served file's bytes differ from the sha256 listed (listed: a copy with one byte changed). Not the other
    // way round: the cache keeps files by sha256, so a listed hash of /ext/'s file would be served from the cache.
    external('ext-sha', 'base.onnx.data', (data) => {
      const listed = Buffer.from(data);
      listed[200] = listed[200]! ^ 0xff;
      return [{ path: 'base.onnx.data', bytes: listed }];
    });
    const served = readFileSync(join(tmp, 'ext', 'base.onnx.data'));
    writeFileSync(join(tmp, 'ext-sha', 'base.onnx.data'), served);

    const mounts = Object.fromEntries(['big', 'ext', 'ext-unlisted', 'ext-outside', 'ext-sha'].map((n) => [`/${n}/`, join(tmp, n)]));
    server = await startServer({ root: dist, mounts, log });
    // A persistent profile: the cache outlives a reload, with a real profile's storage quota (not incognito's).
    context = await launchPersistentChromium(join(tmp, 'profile'));
  }, 300_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const open = (path: string, allow?: RegExp): Promise<Page> =>
    openPage(context, server.url + path, { errors: consoleErrors, label: path, ...(allow ? { allow } : {}) });
  const view = (page: Page) => demoView<DemoView>(page);
  // The page lists the cache after a load without holding the load up: wait for that listing (slow on a loaded machine).
  const waitListed = (page: Page, files: number) =>
    page.waitForFunction(`document.querySelector('#cache-info')?.dataset.files === '${files}'`, undefined, { timeout: 60_000 });
  const waitState = (page: Page, states: string[], timeout = 240_000) =>
    page.waitForFunction(`${JSON.stringify(states)}.includes(document.body.dataset.state)`, undefined, { timeout });
  async function generateOne(page: Page): Promise<void> {
    const before = (await view(page)).finished;
    await page.uncheck('#preview');
    await page.selectOption('#method', 'shortcut');
    await page.fill('#batch', '1');
    await page.fill('#steps', '4');
    await page.fill('#budget', '2');
    await page.click('#generate');
    await page.waitForFunction(`globalThis.migmDemo.finished > ${before}`, undefined, { timeout: 120_000 });
    const v = await view(page);
    expect(v.state).toBe('idle');
    const img = Array.from(v.last[0]!.images.data);
    expect(img.every(Number.isFinite)).toBe(true);
    expect(Math.max(...img)).toBeGreaterThan(Math.min(...img));
  }

  it('a bundle with a graph file over 256 MB loads and generates; a reload reads it from the cache; purge empties the cache', async () => {
    const m = JSON.parse(readFileSync(join(tmp, 'big', 'manifest.json'), 'utf8')) as Manifest;
    const baseEntry = m.files.find((f) => f.path === m.graphs.base.file)!;
    expect(baseEntry.bytes).toBeGreaterThan(256 * 1024 * 1024);
    const total = m.files.reduce((a, f) => a + f.bytes, 0);

    const page = await open('?device=wasm&bundle=/big/');
    await waitState(page, ['idle', 'no-model']);
    expect(await page.isHidden('#error'), (await page.textContent('#error span').catch(() => '')) ?? '').toBe(true);
    await waitListed(page, m.files.length);
    let v = await view(page);
    expect(v.download.totalLoaded).toBe(total);
    expect(v.download.cachedFiles).toEqual([]);
    expect(v.cacheErrors).toEqual([]); // every file was stored, the 280 MiB one in parts
    expect(v.cache).toEqual({ files: m.files.length, bytes: total });
    expect(await page.getAttribute('#cache-info', 'data-files')).toBe(String(m.files.length));
    const firstLoadMs = v.loadMs;
    await generateOne(page);

    const before = log.length;
    await page.reload();
    await waitState(page, ['idle', 'no-model']);
    expect(await page.isHidden('#error')).toBe(true);
    v = await view(page);
    const again = log.slice(before).filter((l) => l.startsWith('GET /big/'));
    expect(again).toEqual(['GET /big/manifest.json']); // not one bundle file fetched again
    expect(v.download.cachedFiles.sort()).toEqual(m.files.map((f) => f.path).sort());
    expect(v.download.totalLoaded).toBe(total);
    expect(v.cacheErrors).toEqual([]);
    console.log(
      `big bundle (${(total / 1e6).toFixed(0)} MB, base graph ${(baseEntry.bytes / 1e6).toFixed(0)} MB): first load ${(firstLoadMs / 1000).toFixed(1)} s, from the cache ${(v.loadMs / 1000).toFixed(1)} s`,
    );
    await generateOne(page);

    await page.click('#clear-cache');
    await page.waitForFunction(`document.querySelector('#clear-cache').dataset.purged === '1'`);
    v = await view(page);
    expect(v.cache).toEqual({ files: 0, bytes: 0 });
    // Nothing is left in either store: no OPFS folder, no Cache Storage.
    expect(
      await page.evaluate(async () => {
        const { navigator, caches } = globalThis as unknown as PageGlobals;
        const root = await navigator.storage.getDirectory();
        const folder = await root.getDirectoryHandle('migm-bundles').then(
          () => true,
          () => false,
        );
        return { folder, caches: await caches.has('migm-bundles') };
      }),
    ).toEqual({ folder: false, caches: false });
    expect(await page.textContent('#cache-info')).toBe('Cache: empty.');
    await page.close();
  }, 420_000);

  it('the same with Cache Storage as the store (the fallback where OPFS cannot be written): the big file goes in parts', async () => {
    const m = JSON.parse(readFileSync(join(tmp, 'big', 'manifest.json'), 'utf8')) as Manifest;
    const total = m.files.reduce((a, f) => a + f.bytes, 0);
    const page = await open('?device=wasm&bundle=/big/&cache=cache-storage');
    await waitState(page, ['idle', 'no-model']);
    expect(await page.isHidden('#error'), (await page.textContent('#error span').catch(() => '')) ?? '').toBe(true);
    await waitListed(page, m.files.length);
    let v = await view(page);
    expect(v.cacheErrors).toEqual([]); // a single entry of this size would fail: Chromium refuses 256 MB or more
    expect(v.cache).toEqual({ files: m.files.length, bytes: total });
    const entries = await page.evaluate(async () => (await (await (globalThis as unknown as PageGlobals).caches.open('migm-bundles')).keys()).length);
    expect(entries).toBeGreaterThan(m.files.length * 2); // every file's parts plus its index entry
    const before = log.length;
    await page.reload();
    await waitState(page, ['idle', 'no-model']);
    v = await view(page);
    expect(log.slice(before).filter((l) => l.startsWith('GET /big/'))).toEqual(['GET /big/manifest.json']);
    expect(v.download.cachedFiles.length).toBe(m.files.length);
    console.log(`big bundle through Cache Storage in parts: cached load ${(v.loadMs / 1000).toFixed(1)} s`);
    await page.click('#clear-cache');
    await page.waitForFunction(`document.querySelector('#clear-cache').dataset.purged === '1'`);
    expect((await view(page)).cache).toEqual({ files: 0, bytes: 0 });
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).caches.has('migm-bundles'))).toBe(false);
    await page.close();
  }, 300_000);

  it('a bundle whose base graph keeps its weights in listed external data loads and generates', async () => {
    const page = await open('?device=wasm&bundle=/ext/');
    await waitState(page, ['idle', 'no-model']);
    expect(await page.isHidden('#error'), (await page.textContent('#error span').catch(() => '')) ?? '').toBe(true);
    const v = await view(page);
    expect(v.sessions).toBeGreaterThanOrEqual(3);
    expect(v.download.totalBytes).toBe(v.manifest.files.reduce((a, f) => a + f.bytes, 0));
    expect(v.manifest.files.map((f) => f.path)).toContain('base.onnx.data');
    await generateOne(page);
    await page.close();
  }, 180_000);

  it('external data outside the manifest, outside the folder, or with a wrong sha256 is refused before any session', async () => {
    const page = await open('?device=wasm&bundle=/ext/');
    await waitState(page, ['idle']);
    const refused = async (url: string, message: RegExp) => {
      await page.fill('#bundle-url', url);
      await page.click('#load');
      await waitState(page, ['idle', 'no-model']);
      await expect.poll(() => page.locator('#error').isVisible()).toBe(true);
      expect(await page.textContent('#error span')).toMatch(message);
      expect((await view(page)).sessions).toBe(0); // nothing was run: no session was even started
      await page.click('#error button');
    };
    await refused('/ext-unlisted/', /base\.onnx was refused before loading: .*not one of the graph's externalData files/);
    await refused('/ext-outside/', /base\.onnx was refused before loading: .*not a plain file name/);
    await refused('/ext-sha/', /base\.onnx\.data has sha256/);
    await page.close();
  }, 180_000);

  it('logged no console errors', () => {
    expect(consoleErrors).toEqual([]);
  });
});
