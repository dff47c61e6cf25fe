// How a browser can keep a model file of hundreds of MB: one Cache Storage entry, Cache Storage in parts (what
// @migm/backend-web does), or the Origin Private File System. In headless Debian Chromium with a persistent
// profile (a real profile's quota), it writes and reads back one file of --mb MB each way and prints a table;
// --json FILE writes the numbers. Not a test: `node web/cache-bench.mjs [--mb 512] [--part-mb 32] [--json FILE]`.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { startServer } from './serve.mjs';

const flag = (name, fallback) => {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : fallback;
};
const MB = Number(flag('--mb', '512'));
const PART_MB = Number(flag('--part-mb', '32'));
const json = flag('--json', undefined);
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const tmp = mkdtempSync(join(tmpdir(), 'migm-cache-bench-'));
writeFileSync(join(tmp, 'index.html'), '<!doctype html><title>cache bench</title>');
const server = await startServer({ root: tmp });
const context = await chromium.launchPersistentContext(join(tmp, 'profile'), {
  executablePath: CHROMIUM,
  args: ['--headless', '--no-sandbox', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
});
try {
  const page = await context.newPage();
  await page.goto(server.url);
  const result = await page.evaluate(
    async ({ mb, partMb }) => {
      const bytes = mb * 1024 * 1024;
      const part = partMb * 1024 * 1024;
      const data = new Uint8Array(bytes);
      for (let i = 0; i < bytes; i += 65536) crypto.getRandomValues(data.subarray(i, Math.min(bytes, i + 65536)));
      const into = new Uint8Array(bytes);
      const readStream = async (stream, offset) => {
        const reader = stream.getReader();
        let at = offset;
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return at - offset;
          into.set(value, at);
          at += value.byteLength;
        }
      };
      const same = () => {
        for (let i = 0; i < bytes; i += 4099) if (into[i] !== data[i]) return false;
        return true;
      };
      const time = async (fn) => {
        const t0 = performance.now();
        try {
          await fn();
          return { ms: performance.now() - t0 };
        } catch (err) {
          return { ms: performance.now() - t0, error: `${err.name}: ${err.message}` };
        }
      };
      const rows = [];
      const estimate = await navigator.storage.estimate();

      await caches.delete('bench');
      let cache = await caches.open('bench');
      const single = await time(() => cache.put('/single', new Response(data)));
      into.fill(0);
      const singleRead = single.error ? { ms: 0, error: 'nothing stored' } : await time(async () => readStream((await cache.match('/single')).body, 0));
      rows.push({ way: 'Cache Storage, one entry', write: single, read: singleRead, intact: !single.error && same() });
      await caches.delete('bench');

      cache = await caches.open('bench');
      const parts = Math.ceil(bytes / part);
      const chunkedWrite = await time(async () => {
        for (let p = 0; p < parts; p++) await cache.put(`/part?${p}`, new Response(data.subarray(p * part, Math.min(bytes, (p + 1) * part))));
      });
      into.fill(0);
      const chunkedRead = await time(async () => {
        let at = 0;
        for (let p = 0; p < parts; p++) at += await readStream((await cache.match(`/part?${p}`)).body, at);
      });
      rows.push({ way: `Cache Storage, ${partMb} MiB parts (${parts} entries)`, write: chunkedWrite, read: chunkedRead, intact: same() });
      await caches.delete('bench');

      const root = await navigator.storage.getDirectory();
      const opfsWrite = await time(async () => {
        const handle = await root.getFileHandle('bench.bin', { create: true });
        const w = await handle.createWritable();
        await w.write(data);
        await w.close();
      });
      into.fill(0);
      const opfsRead = await time(async () => readStream((await (await root.getFileHandle('bench.bin')).getFile()).stream(), 0));
      rows.push({ way: 'OPFS, one file (createWritable)', write: opfsWrite, read: opfsRead, intact: same() });
      await root.removeEntry('bench.bin').catch(() => {});
      return { mb, partMb, quotaGB: estimate.quota / 1e9, rows, userAgent: navigator.userAgent };
    },
    { mb: MB, partMb: PART_MB },
  );
  const cell = (r) => (r.error ? `failed (${r.error.slice(0, 60)})` : `${(r.ms / 1000).toFixed(2)} s (${(result.mb / (r.ms / 1000)).toFixed(0)} MB/s)`);
  console.log(
    `| ${result.mb} MiB file, Chromium (${/Chrome\/[\d.]+/.exec(result.userAgent)?.[0] ?? '?'}), quota ${result.quotaGB.toFixed(0)} GB | write | read back | intact |`,
  );
  console.log('|---|---|---|---|');
  for (const r of result.rows) console.log(`| ${r.way} | ${cell(r.write)} | ${cell(r.read)} | ${r.intact ? 'yes' : 'no'} |`);
  if (json) writeFileSync(json, `${JSON.stringify({ date: new Date().toISOString(), ...result }, null, 2)}\n`);
} finally {
  await context.close();
  await server.close();
  rmSync(tmp, { recursive: true, force: true });
}
