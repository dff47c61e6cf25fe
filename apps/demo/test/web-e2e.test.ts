// End-to-end test of the web demo in Debian's Chromium (playwright-core, no downloaded browser): builds the
// page with Vite, serves it on 127.0.0.1 with COOP/COEP, generates on wasm (the embedded default bundle) and
// on WebGPU (SwiftShader; the tiny bundle keeps that workload small), compares the first step's logits with
// onnxruntime-node, cancels, feeds bad inputs, runs core's conformance suite in the browser, and saves
// screenshots: to the temp folder (migm-demo-screenshots), or to docs/img/ with MIGM_UPDATE_SCREENSHOTS=1, so
// `pnpm check` leaves the tracked files alone. Nothing here gates on speed.
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import * as ortNode from 'onnxruntime-node';
import { classCondition, generate, validateManifest, type GenerateOptions, type Manifest } from '@migm/core';
import { OrtBackend, type OrtModule } from '@migm/backend-ort';
import { defaultBundleDir, TINY_BUNDLE } from '../web/assets.mjs';
import { startServer } from '../web/serve.mjs';
import { buildDemo, DEMO_VIEWPORT, demoView, generateOn, hasChromium, launchChromium, noteSkipped, openPage, WEB } from './chromium.js';

const TRAINING = fileURLToPath(new URL('../../../training/', import.meta.url));
const PYTHON = process.env.MIGM_PYTHON ?? join(TRAINING, '.venv', 'bin', 'python'); // made by scripts/setup.sh
const SHOTS =
  process.env.MIGM_UPDATE_SCREENSHOTS === '1' ? fileURLToPath(new URL('../../../docs/img/', import.meta.url)) : join(tmpdir(), 'migm-demo-screenshots');
/** Max abs difference of first-step logits, browser vs onnxruntime-node. wasm runs the same CPU kernels; WebGPU reorders float sums. */
const TOL = { wasm: 1e-4, webgpu: 1e-3 } as const;

interface DemoView {
  state: string;
  steps: number;
  finished: number;
  manifest: Manifest;
  selection: { device: string; requested: string; deviceFeatures: boolean; fallbacks: { device: string; message: string }[] };
  download: { events: number; totalLoaded: number; totalBytes: number };
  last: { label: string; predictor: string; ms: number; images: { data: Float32Array; batch: number; channels: number; height: number; width: number } }[];
}
interface CaseResult {
  name: string;
  ok: boolean;
  ms: number;
  error?: string;
}

noteSkipped('web e2e');

describe.skipIf(!hasChromium)('web demo in Chromium', () => {
  let browser: Browser;
  let server: { url: string; close: () => Promise<void> };
  let tmp: string;
  const defaultManifest = JSON.parse(readFileSync(join(defaultBundleDir(), 'manifest.json'), 'utf8')) as Manifest;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    await buildDemo();
    // Bad bundles for the error paths: one file changed by a byte, and a manifest from the future.
    tmp = mkdtempSync(join(tmpdir(), 'migm-web-e2e-'));
    cpSync(TINY_BUNDLE, join(tmp, 'tampered'), { recursive: true });
    const dec = readFileSync(join(tmp, 'tampered', 'decoder.onnx'));
    dec.writeUInt8(dec.readUInt8(dec.length - 1) ^ 0xff, dec.length - 1);
    writeFileSync(join(tmp, 'tampered', 'decoder.onnx'), dec);
    cpSync(TINY_BUNDLE, join(tmp, 'schema'), { recursive: true });
    const m = JSON.parse(readFileSync(join(tmp, 'schema', 'manifest.json'), 'utf8')) as { schemaVersion: number };
    m.schemaVersion = 99;
    writeFileSync(join(tmp, 'schema', 'manifest.json'), JSON.stringify(m));
    // An imported MaskGIT-family bundle (RGB images, class-token layout, packed class feature): the small config
    // of `import-maskgit --random-init`, the same structure as the paper's model at a size a test can load.
    await promisify(execFile)(PYTHON, ['-m', 'migm_train', 'import-maskgit', '--random-init', '--config', 'small', '--out', join(tmp, 'maskgit')], {
      cwd: TRAINING,
      timeout: 120_000,
    });
    server = await startServer({
      mounts: { '/tiny/': TINY_BUNDLE, '/tampered/': join(tmp, 'tampered'), '/schema/': join(tmp, 'schema'), '/maskgit/': join(tmp, 'maskgit') },
    });
    browser = await launchChromium();
    mkdirSync(SHOTS, { recursive: true });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  /** Opens a page, recording console errors and uncaught exceptions (except those `allow` matches). */
  const open = (path: string, allow?: RegExp): Promise<Page> =>
    openPage(browser, server.url + path, { errors: consoleErrors, label: path, ...(allow ? { allow } : {}), viewport: DEMO_VIEWPORT });
  const view = (page: Page) => demoView<DemoView>(page);
  const waitState = (page: Page, states: string[], timeout = 120_000) =>
    page.waitForFunction(`${JSON.stringify(states)}.includes(document.body.dataset.state)`, undefined, { timeout });
  function expectRealImages(v: DemoView, batch: number, m: Manifest): void {
    for (const r of v.last) {
      const { data, channels, height, width } = r.images;
      expect([r.images.batch, channels, height, width]).toEqual([batch, m.image.channels, m.image.height, m.image.width]);
      const plane = channels * height * width;
      for (let b = 0; b < batch; b++) {
        const img = Array.from(data.subarray(b * plane, (b + 1) * plane));
        const mean = img.reduce((a, x) => a + x, 0) / plane;
        const sd = Math.sqrt(img.reduce((a, x) => a + (x - mean) ** 2, 0) / plane);
        expect(img.every(Number.isFinite)).toBe(true);
        expect(Math.max(...img)).toBeGreaterThan(Math.min(...img)); // not constant
        expect(img.some((x) => x !== 0)).toBe(true); // not blank
        expect(sd).toBeGreaterThan(0.02 * ((m.image.range?.[1] ?? 1) - (m.image.range?.[0] ?? 0)));
      }
    }
  }

  it('web sources type-check', async () => {
    await promisify(execFile)(process.execPath, [createRequire(import.meta.url).resolve('typescript/bin/tsc'), '-p', join(WEB, 'tsconfig.json')]);
  }, 120_000);

  it('generates on wasm with the embedded bundle, previews steps, cancels, compares (screenshots)', async () => {
    const page = await open('?device=wasm');
    await waitState(page, ['idle']);
    let v = await view(page);
    expect(v.selection.device).toBe('wasm');
    expect(v.manifest.name).toBe(defaultManifest.name);
    expect(await page.locator('#class option').count()).toBe(classCondition(defaultManifest, 'the class list').numClasses);
    await page.screenshot({ path: join(SHOTS, 'demo-idle.png') });

    await page.fill('#batch', '4');
    await page.fill('#seed', '7');
    v = await generateOn<DemoView>(page);
    expect(v.last).toHaveLength(1);
    expect(v.steps).toBe(Number(await page.inputValue('#steps')));
    expectRealImages(v, 4, defaultManifest);
    expect(await page.locator('#results canvas').count()).toBe(1);
    // Each result saves its grid as a PNG file.
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#results .result button.download')]);
    expect(download.suggestedFilename()).toMatch(/^migm-shortcut-\d+-steps-\d+-full\.png$/);
    expect(
      readFileSync((await download.path())!)
        .subarray(0, 8)
        .toString('hex'),
    ).toBe('89504e470d0a1a0a');

    // Cancellation, with slow motion so the run is surely mid-way; the mid-generation screenshot comes first.
    await page.check('#slow');
    await page.fill('#batch', '8');
    const defaultSteps = await page.inputValue('#steps');
    await page.fill('#steps', String(Math.min(12, defaultManifest.tokens.count))); // a few seconds in slow motion
    await page.click('#generate');
    await page.waitForFunction(`globalThis.migmDemo.steps >= 2 && document.body.dataset.state === 'generating'`);
    await page.screenshot({ path: join(SHOTS, 'demo-generating.png') });
    await page.click('#cancel');
    await waitState(page, ['idle']);
    expect(await page.textContent('#status')).toMatch(/Cancelled/);
    v = await view(page);
    expect(v.last).toHaveLength(0);
    expect(v.steps).toBeLessThan(Number(await page.inputValue('#steps')));

    // Compare mode: vanilla and the shortcut on the same seed, both timed.
    await page.uncheck('#slow');
    await page.fill('#steps', defaultSteps);
    await page.uncheck('#preview');
    await page.check('#compare');
    await page.selectOption('#method', 'shortcut');
    await page.fill('#batch', '4');
    v = await generateOn<DemoView>(page);
    expect(v.last.map((r) => r.predictor)).toEqual(['vanilla', 'shortcut']);
    expectRealImages(v, 4, defaultManifest);
    expect(v.last.every((r) => r.ms > 0)).toBe(true);
    expect(await page.textContent('.speedup')).toMatch(/Shortcut is [\d.]+× as fast as vanilla/);
    await page.screenshot({ path: join(SHOTS, 'demo-compare.png'), fullPage: true });
    await page.close();
  }, 240_000);

  it('shows readable messages for bad bundles and out-of-range N and B, and stays usable', async () => {
    const page = await open('?device=wasm', /Failed to load resource.*404/);
    await waitState(page, ['idle']);
    const tryBundle = async (url: string, message: RegExp) => {
      await page.fill('#bundle-url', url);
      await page.click('#load');
      await waitState(page, ['idle', 'no-model']);
      await expect.poll(() => page.locator('#error').isVisible()).toBe(true);
      expect(await page.textContent('#error span')).toMatch(message);
      expect(await page.evaluate(() => (globalThis as unknown as { document: { body: { dataset: { state: string } } } }).document.body.dataset.state)).toBe(
        'idle',
      ); // the previous model stays
    };
    await tryBundle('/missing/', /Could not load the model bundle: .*HTTP 404/);
    await tryBundle('/tampered/', /decoder\.onnx.*sha256/);
    await tryBundle('/schema/', /schema ?version|schemaVersion/i);

    const L = defaultManifest.tokens.count;
    await page.fill('#steps', String(L + 1));
    expect(await page.textContent('#form-error')).toContain(`Steps N must be a whole number from 1 to ${L} (got ${L + 1})`);
    expect(await page.isDisabled('#generate')).toBe(true);
    await page.fill('#steps', '4');
    await page.selectOption('#method', 'shortcut');
    await page.fill('#budget', '5');
    expect(await page.textContent('#form-error')).toContain('Full steps B must be a whole number from 1 to 4 (got 5)');
    await page.fill('#budget', '2');
    expect(await page.isHidden('#form-error')).toBe(true);
    await page.click('#error button');
    await page.fill('#batch', '2');
    const v = await generateOn<DemoView>(page);
    expectRealImages(v, 2, defaultManifest);
    await page.close();
  }, 180_000);

  it('loads an imported MaskGIT bundle from its URL with byte progress, and generates RGB images with the shortcut (wasm)', async () => {
    const m = JSON.parse(readFileSync(join(tmp, 'maskgit', 'manifest.json'), 'utf8')) as Manifest;
    const page = await open('?device=wasm&bundle=/maskgit/');
    await waitState(page, ['idle', 'no-model']);
    expect(await page.isHidden('#error')).toBe(true);
    let v = await view(page);
    expect(v.manifest.name).toBe(m.name);
    expect(m.image.channels).toBe(3);
    // Every listed byte was counted by the page's progress, which reached the manifest's total.
    const total = m.files.reduce((a, f) => a + f.bytes, 0);
    expect(v.download.totalBytes).toBe(total);
    expect(v.download.totalLoaded).toBe(total);
    expect(v.download.events).toBeGreaterThanOrEqual(m.files.length);
    expect(await page.locator('#class option').count()).toBe(classCondition(m, 'the class list').numClasses);
    await page.uncheck('#preview');
    await page.selectOption('#method', 'shortcut');
    await page.fill('#batch', '2');
    v = await generateOn<DemoView>(page);
    expect(v.last.map((r) => r.predictor)).toEqual(['shortcut']);
    expectRealImages(v, 2, m);
    await page.close();
  }, 180_000);

  it('generates on WebGPU (software adapter, tiny bundle)', async () => {
    const page = await open('?device=webgpu&bundle=/tiny/');
    await waitState(page, ['idle', 'no-model']);
    expect(await page.isHidden('#error')).toBe(true);
    let v = await view(page);
    expect(v.selection).toMatchObject({ requested: 'webgpu', device: 'webgpu', deviceFeatures: true });
    await page.uncheck('#preview');
    await page.fill('#batch', '2');
    v = await generateOn<DemoView>(page);
    const tiny = JSON.parse(readFileSync(join(TINY_BUNDLE, 'manifest.json'), 'utf8')) as Manifest;
    expectRealImages(v, 2, tiny);
    await page.close();
  }, 180_000);

  describe('first-step logits agree with onnxruntime-node for the same seed', () => {
    const cases = [
      { device: 'wasm', bundle: 'default', dir: defaultBundleDir(), path: '/bundle/' },
      { device: 'webgpu', bundle: 'tiny', dir: TINY_BUNDLE, path: '/tiny/' },
    ] as const;
    for (const c of cases) {
      it(`${c.device}, ${c.bundle} bundle (tolerance ${TOL[c.device]})`, async () => {
        const manifest = JSON.parse(readFileSync(join(c.dir, 'manifest.json'), 'utf8')) as Manifest;
        // The host sampler, so the first step's logits come back to a host buffer that the probe can copy (with the
        // device sampler, the default on WebGPU, they stay in a GPU buffer; device-sampling-e2e.test.ts checks that path).
        const options: GenerateOptions = {
          condition: [1, 4],
          seed: 21,
          steps: Math.min(4, manifest.tokens.count),
          predictor: 'shortcut',
          budget: 2,
          sampler: 'host',
        };
        const page = await open('selftest.html');
        await page.waitForFunction('globalThis.selftest !== undefined');
        const web = await page.evaluate(
          ([device, opts, path]) =>
            (
              globalThis as unknown as {
                selftest: {
                  firstStep(d: string, o: unknown, b: string): Promise<{ device: string; deviceFeatures: boolean; logits: number[]; tokens: number[] }>;
                };
              }
            ).selftest.firstStep(device, opts, path),
          [c.device, options, c.path] as const,
        );
        await page.close();
        expect(web.device).toBe(c.device);
        expect(web.deviceFeatures).toBe(c.device === 'webgpu');
        const files = new Map(manifest.files.map((f) => [f.path, new Uint8Array(readFileSync(join(c.dir, f.path)))]));
        const node = await OrtBackend.create({
          ort: ortNode as unknown as OrtModule,
          bundle: { manifest: validateManifest(manifest), files },
          name: 'onnxruntime-node',
          device: 'cpu',
        });
        let first: Float32Array | undefined;
        const forward = node.forward.bind(node);
        node.forward = async (input) => {
          const f = await forward(input);
          first ??= (input.logits as Float32Array).slice();
          return f;
        };
        const r = await generate(node, options);
        await node.dispose();
        expect(web.logits.length).toBe(first!.length);
        let worst = 0;
        for (let i = 0; i < first!.length; i++) worst = Math.max(worst, Math.abs(web.logits[i]! - first![i]!));
        console.log(
          `first-step logits, ${c.device} vs onnxruntime-node (${c.bundle} bundle): max abs difference ${worst.toExponential(2)}; final tokens ${web.tokens.every((t, i) => t === r.tokens[i]) ? 'identical' : 'differ'}`,
        );
        expect(worst).toBeLessThanOrEqual(TOL[c.device]);
        expect(first!.some((x) => x !== 0)).toBe(true);
      }, 180_000);
    }
  });

  describe('core conformance suite in the browser (tiny bundle)', () => {
    const variants = [
      { device: 'wasm', deviceFeatures: false, label: 'wasm' },
      { device: 'webgpu', deviceFeatures: true, label: 'webgpu, features on the GPU' },
      { device: 'webgpu', deviceFeatures: false, label: 'webgpu, host features' },
    ] as const;
    for (const { device, deviceFeatures, label } of variants) {
      it(`on ${label}`, async () => {
        const page = await open('selftest.html');
        await page.waitForFunction('globalThis.selftest !== undefined');
        const results = await page.evaluate(
          ([d, g]) =>
            (globalThis as unknown as { selftest: { conformance(d: string, b: string, g: boolean): Promise<CaseResult[]> } }).selftest.conformance(
              d,
              '/tiny/',
              g,
            ),
          [device, deviceFeatures] as const,
        );
        await page.close();
        expect(results.length).toBeGreaterThanOrEqual(10);
        expect(results.filter((r) => !r.ok).map((r) => `${r.name}: ${r.error}`)).toEqual([]);
      }, 240_000);
    }
  });

  it('logged no console errors', () => {
    expect(consoleErrors).toEqual([]);
  });
});
