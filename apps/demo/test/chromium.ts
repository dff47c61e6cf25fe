// Debian's Chromium for the e2e tests (playwright-core drives it; no browser is downloaded), with the flags
// every e2e test launches it with: headless, quiet (no network of its own), WebGPU on (SwiftShader here); and
// the setup every e2e file shares: building the demo page, launching, opening a page that records its errors.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { build } from 'vite';
import { expect } from 'vitest';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--enable-unsafe-webgpu',
];
export const hasChromium = existsSync(CHROMIUM);

/** The demo page's sources (apps/demo/web). */
export const WEB = fileURLToPath(new URL('../web/', import.meta.url));

/** The viewport of pages whose screenshots go into docs/img. */
export const DEMO_VIEWPORT = { width: 1280, height: 860 } as const;

/** Says on stderr that the e2e tests of `what` are skipped, on a machine without Chromium. */
export function noteSkipped(what: string): void {
  if (!hasChromium) console.warn(`${what} skipped: no Chromium at ${CHROMIUM} (scripts/setup.sh installs Debian's chromium).`);
}

/**
 * Builds the demo page with Vite into `outDir` (emptied first), or into its default folder. A file that runs
 * beside other e2e files builds into a folder of its own: they build in parallel and empty theirs.
 */
export async function buildDemo(outDir?: string): Promise<void> {
  await build({ configFile: join(WEB, 'vite.config.ts'), logLevel: 'error', ...(outDir !== undefined ? { build: { outDir, emptyOutDir: true } } : {}) });
}

/** Chromium with CHROMIUM_ARGS. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** Chromium with CHROMIUM_ARGS and a persistent profile in `profile` (storage that outlives a reload, a real profile's quota). */
export function launchPersistentChromium(profile: string, viewport: { width: number; height: number } = DEMO_VIEWPORT): Promise<BrowserContext> {
  return chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, viewport });
}

export interface OpenPageOptions {
  /** Where the page's errors are recorded; nothing is recorded without it. */
  readonly errors?: string[];
  /** Prefix of each recorded error (`label: ...`). */
  readonly label?: string;
  /** Console errors this matches are not recorded. */
  readonly allow?: RegExp;
  /** Record console errors as well as uncaught exceptions (default true). */
  readonly consoleErrors?: boolean;
  /** The page's viewport (a new page of a browser; a persistent context's pages have the context's). */
  readonly viewport?: { width: number; height: number };
  /** Wait until the self-test page has set `globalThis.selftest`. */
  readonly selftest?: boolean;
}

/** Opens `url` in a new page of `owner`, recording console errors and uncaught exceptions into `options.errors`. */
export async function openPage(owner: Browser | BrowserContext, url: string, options: OpenPageOptions = {}): Promise<Page> {
  const page = 'newContext' in owner ? await owner.newPage(options.viewport ? { viewport: options.viewport } : {}) : await owner.newPage();
  const { errors, label, allow } = options;
  const prefix = label === undefined ? '' : `${label}: `;
  if (errors) {
    if (options.consoleErrors !== false) {
      page.on('console', (msg) => {
        if (msg.type() === 'error' && !allow?.test(msg.text())) errors.push(`${prefix}${msg.text()}`);
      });
    }
    page.on('pageerror', (err) => errors.push(`${prefix}uncaught ${err.message}`));
  }
  await page.goto(url);
  if (options.selftest) await page.waitForFunction('globalThis.selftest !== undefined');
  return page;
}

/** What the demo page shows tests (`globalThis.migmDemo`), as far as every e2e file reads it. */
export interface DemoState {
  readonly state: string;
  readonly finished: number;
}

/** The demo page's `globalThis.migmDemo`. */
export function demoView<V extends DemoState>(page: Page): Promise<V> {
  return page.evaluate(() => (globalThis as unknown as { migmDemo: V }).migmDemo);
}

/** Clicks Generate, waits for the run to finish, and returns the page's state (idle again). */
export async function generateOn<V extends DemoState>(page: Page): Promise<V> {
  const before = (await demoView<V>(page)).finished;
  await page.click('#generate');
  await page.waitForFunction(`globalThis.migmDemo.finished > ${before}`, undefined, { timeout: 120_000 });
  const v = await demoView<V>(page);
  expect(v.state).toBe('idle');
  return v;
}
