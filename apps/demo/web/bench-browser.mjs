// What the browser benchmarks share: the built page, a persistent Debian Chromium (never a downloaded browser),
// and the summed memory of its processes. One place, so every bench measures memory the same way.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import { chromium } from 'playwright-core';

const WEB = fileURLToPath(new URL('.', import.meta.url));
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Summed RSS (bytes) of the processes started with this profile: the browser, its renderers, GPU and utility processes. */
export function chromiumRss(profile) {
  let sum = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(profile)) continue;
      const kb = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
      sum += Number(kb ?? 0) * 1024;
    } catch {
      // the process ended between the listing and the read
    }
  }
  return sum;
}

/** Builds the demo (index and selftest pages) into `outDir`. */
export async function buildPages(outDir) {
  await build({ configFile: join(WEB, 'vite.config.ts'), logLevel: 'error', build: { outDir, emptyOutDir: true } });
}

/** Headless Chromium with a persistent profile (so the page's bundle cache persists across reloads). */
export function launchBenchChromium(profile) {
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-quic'],
  });
}
