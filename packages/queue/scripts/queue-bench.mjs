// The queue's benchmark (not a test; needs a build): images per second through BullMQ with 1 and 2 worker
// processes, batching off (--batch 1) and on (--batch 16), against generate() in one process, and the latency
// the queue adds to one image on an idle queue. Prints a table and writes JSON.
//
//   node packages/queue/scripts/queue-bench.mjs [--images 64] [--out queue-bench.json]
//
// Every request is one image (a web app's typical job), condition = i % 10, seed = i, N = 16, B = 5 with the
// learned shortcut on the default bundle. onnxruntime gets 2 threads in one process, 1 each in two.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { generate } from '@migm/core';
import { createNodeBackend } from '@migm/backend-node';
import { bundleDir } from '@migm/bundle-fashion-mnist';
import { createQueueClient } from '../dist/index.js';

process.env.ORT_DISABLE_TELEMETRY ??= '1';
const LOAD_START = loadavg()[0];
const { values } = parseArgs({
  options: { images: { type: 'string', default: '64' }, out: { type: 'string', default: 'queue-bench.json' }, latency: { type: 'string', default: '10' } },
});
const IMAGES = Number(values.images);
const LATENCY_RUNS = Number(values.latency);
const COMMON = { steps: 16, budget: 5, predictor: 'shortcut' };
const WORKER = fileURLToPath(new URL('./worker-process.mjs', import.meta.url));
const requests = (offset) => Array.from({ length: IMAGES }, (_, i) => ({ ...COMMON, condition: i % 10, batch: 1, seed: offset + i }));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const port = await freePort();
const url = `redis://127.0.0.1:${port}`;
const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmpdir()], {
  stdio: 'ignore',
});
const children = new Set([redis]);
const cleanup = () => children.forEach((c) => c.exitCode === null && c.kill('SIGKILL'));
process.on('exit', cleanup);
for (;;) {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {});
  const ok = await probe.connect().then(
    () => probe.ping(),
    () => null,
  );
  probe.disconnect();
  if (ok === 'PONG') break;
  await new Promise((r) => setTimeout(r, 100));
}

async function startWorkers(queue, count, batch) {
  const threads = String(Math.max(1, Math.floor(2 / count)));
  return Promise.all(
    Array.from({ length: count }, (_, i) => {
      const p = spawn(process.execPath, [WORKER, url, queue, String(batch), `w${i}`], {
        stdio: ['ignore', 'pipe', 'inherit'],
        env: { ...process.env, MIGM_THREADS: threads },
      });
      children.add(p);
      return new Promise((resolve) => p.stdout.on('data', (d) => d.toString().includes('ready') && resolve(p)));
    }),
  );
}
async function stopWorkers(procs) {
  await Promise.all(procs.map((p) => new Promise((r) => (p.once('exit', r), p.kill('SIGTERM')))));
}

const rows = [];
// generate() in this process: one image per call, and 16 per call.
const backend = await createNodeBackend({ bundle: bundleDir(), threads: 2 });
await generate(backend, { ...COMMON, condition: 0, batch: 16, seed: 0 }); // warm-up
for (const batch of [1, 16]) {
  const reqs = requests(0);
  const t0 = performance.now();
  for (let i = 0; i < reqs.length; i += batch) {
    const part = reqs.slice(i, i + batch);
    await generate(backend, { ...COMMON, condition: part.map((r) => r.condition), batch: part.length, streams: part.map((r) => [r.seed, 0]) });
  }
  const s = (performance.now() - t0) / 1000;
  rows.push({ setting: `generate() in one process, ${batch} per call`, processes: 1, batch, images: IMAGES, seconds: s, imagesPerSecond: IMAGES / s });
}
const direct1 = [];
for (let i = 0; i < LATENCY_RUNS; i++) {
  const t0 = performance.now();
  await generate(backend, { ...COMMON, condition: 3, batch: 1, seed: 10_000 + i });
  direct1.push(performance.now() - t0);
}
await backend.dispose();

const client = await createQueueClient({ redis: url, queue: 'bench', bundle: bundleDir(), dedupe: false });
for (const [processes, batch] of [
  [1, 1],
  [1, 16],
  [2, 1],
  [2, 16],
]) {
  const queue = `bench-${processes}-${batch}`;
  const c = await createQueueClient({ redis: url, queue, bundle: bundleDir(), dedupe: false });
  const workers = await startWorkers(queue, processes, batch);
  await c.result((await c.submit({ ...COMMON, condition: 0, batch: 1, seed: 999_999 })).id); // warm-up
  const t0 = performance.now();
  const ids = await Promise.all(requests(0).map((r) => c.submit(r)));
  const results = await Promise.all(ids.map((s) => c.result(s.id)));
  const s = (performance.now() - t0) / 1000;
  const perCall = results.reduce((a, r) => a + r.call.images, 0) / results.length;
  rows.push({
    setting: `queue, ${processes} worker process${processes > 1 ? 'es' : ''}, batch ${batch}`,
    processes,
    batch,
    images: IMAGES,
    seconds: s,
    imagesPerSecond: IMAGES / s,
    meanImagesPerCall: perCall,
  });
  await stopWorkers(workers);
  await c.close();
}

// Latency the queue adds to one image: an idle queue, one worker (batch 16, so the 20 ms batch wait is in it).
const latency = await createQueueClient({ redis: url, queue: 'bench-latency', bundle: bundleDir(), dedupe: false });
const [w] = await startWorkers('bench-latency', 1, 16);
await latency.result((await latency.submit({ ...COMMON, condition: 0, batch: 1, seed: 999_999 })).id);
const queued1 = [];
for (let i = 0; i < LATENCY_RUNS; i++) {
  const t0 = performance.now();
  await latency.result((await latency.submit({ ...COMMON, condition: 3, batch: 1, seed: 10_000 + i })).id);
  queued1.push(performance.now() - t0);
}
await stopWorkers([w]);
await latency.close();
await client.close();

const out = {
  date: new Date().toISOString(),
  machine: `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}`,
  // Other work on the machine skews every row; the 1-minute load at the start and the end says how much.
  load: { start: LOAD_START, end: loadavg()[0] },
  settings: { ...COMMON, imagesPerJob: 1, images: IMAGES, bundle: 'default (@migm/bundle-fashion-mnist)' },
  throughput: rows,
  latency: { runs: LATENCY_RUNS, generateMedianMs: median(direct1), queueMedianMs: median(queued1), addedMs: median(queued1) - median(direct1) },
};
writeFileSync(values.out, `${JSON.stringify(out, null, 2)}\n`);
const base = rows[0].imagesPerSecond;
console.log(`| setting | images/s | vs generate(), 1 per call | images per call |\n|---|---|---|---|`);
for (const r of rows)
  console.log(`| ${r.setting} | ${r.imagesPerSecond.toFixed(1)} | ${(r.imagesPerSecond / base).toFixed(2)}x | ${r.meanImagesPerCall?.toFixed(1) ?? r.batch} |`);
console.log(
  `\nOne image on an idle queue (median of ${LATENCY_RUNS}): generate() ${out.latency.generateMedianMs.toFixed(0)} ms, through the queue ${out.latency.queueMedianMs.toFixed(0)} ms: +${out.latency.addedMs.toFixed(0)} ms.`,
);
console.log(`1-minute load average: ${out.load.start.toFixed(1)} at the start, ${out.load.end.toFixed(1)} at the end (${cpus().length} cores).`);
console.log(`wrote ${values.out}`);
cleanup();
