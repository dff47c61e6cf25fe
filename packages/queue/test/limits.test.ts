// Issue 27, findings 3 and 4 (and 5's last part): what one request may cost, checked before a worker sees it
// and again by the worker; hostile jobs written straight into Redis; locks; finished jobs swept on a timer.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { createNodeBackend, type OrtBackend } from '@migm/backend-node';
import { bundleDir } from '@migm/bundle-fashion-mnist';
import { createQueueClient, createQueueServer, DEFAULT_LIMITS, isQueueError, type QueueClient } from '../src/http-entry.js';
import { createQueueWorker, type QueueWorker, type QueueWorkerOptions } from '../src/worker-entry.js';
import { RedisServer } from './redis.js';

const redis = new RedisServer();
let backend: OrtBackend;
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  await redis.start();
  backend = await createNodeBackend({ bundle: bundleDir(), threads: 1 });
});
afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => {});
  await backend?.dispose();
  await redis.stop();
});

async function client(queue: string, extra: { resultTtlSeconds?: number } = {}): Promise<QueueClient> {
  const c = await createQueueClient({ redis: redis.url, queue, bundle: backend.manifest, ...extra });
  closers.push(() => c.close());
  return c;
}
async function worker(queue: string, extra: Partial<QueueWorkerOptions> = {}): Promise<QueueWorker> {
  const w = await createQueueWorker({ redis: redis.url, queue, backend, batch: 4, batchWaitMs: 10, ...extra });
  closers.push(() => w.close());
  return w;
}
function connection(): Redis {
  const c = new Redis(redis.url, { maxRetriesPerRequest: null });
  c.on('error', () => {});
  closers.push(async () => c.disconnect());
  return c;
}

// The probe's requests (2026-12-07): ~80 bytes each, minutes of worker time and gigabytes.
const EXPENSIVE = [
  { request: { condition: 1, batch: 1, steps: 1, columns: 2048, scale: 16 }, limit: 'maxPixels' }, // 3.3 GB, ran 3 times
  { request: { condition: 1, batch: 496, steps: 196, predictor: 'vanilla' }, limit: 'maxCost' }, // ~31 min at 2.65 GB
  { request: { condition: 1, batch: 1000, steps: 1 }, limit: 'maxMemoryBytes' }, // core's memory estimate: 496 fit
  { request: { condition: 1, batch: 1025, steps: 1 }, limit: 'maxImages' },
] as const;

describe('work limits', () => {
  it('expensive requests are refused with OVER_LIMIT before anything is queued, by the client and over HTTP (400)', async () => {
    const c = await client('costly');
    for (const { request, limit } of EXPENSIVE) {
      const err = await c.submit(request).catch((e: unknown) => e);
      expect(isQueueError(err, 'OVER_LIMIT'), `${limit}: ${String(err)}`).toBe(true);
      expect((err as { details: { limit: string } }).details.limit).toBe(limit);
      expect((err as Error).message).toMatch(new RegExp(`limit '${limit}'.*Nothing was queued`));
    }
    const server = createQueueServer(c);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => server.close(r)));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    for (const { request, limit } of EXPENSIVE) {
      const r = await fetch(`${base}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) });
      expect(r.status, limit).toBe(400);
      expect(await r.json()).toMatchObject({ error: 'OVER_LIMIT', details: { limit } });
    }
    expect((await c.counts())['waiting']).toBe(0);
    // The defaults leave ordinary requests alone, and an operator can tighten them.
    expect((await c.submit({ condition: 1, batch: 16, steps: 16, scale: 4 })).deduplicated).toBe(false);
    const strict = await createQueueClient({ redis: redis.url, queue: 'strict', bundle: backend.manifest, limits: { maxImages: 8 } });
    closers.push(() => strict.close());
    expect(isQueueError(await strict.submit({ condition: 1, batch: 9 }).catch((e: unknown) => e), 'OVER_LIMIT')).toBe(true);
    expect(strict.limits).toEqual({ ...DEFAULT_LIMITS, maxImages: 8 });
    const bad = await createQueueClient({ redis: redis.url, bundle: backend.manifest, limits: { maxCost: 0 } }).catch((e: unknown) => e);
    expect(isQueueError(bad, 'INVALID_CONFIG')).toBe(true);
  });

  it('hostile jobs written straight into Redis fail at once, typed; the innocent jobs around them finish', async () => {
    const name = 'hostile';
    const c = await client(name);
    const conn = connection();
    const raw = new Queue(name, { connection: conn });
    closers.push(() => raw.close());
    const events = new QueueEvents(name, { connection: connection() });
    closers.push(() => events.close());
    await events.waitUntilReady();
    const id = (n: number) => `migm-${n.toString(16).padStart(64, '0')}`;
    const add = (n: number, data: unknown) => raw.add('generate', data as never, { jobId: id(n), attempts: 1 });
    const valid = { condition: 1, batch: 1, steps: 4, seed: 1 };
    // Queued with no worker running, so each is the first thing a worker sees.
    await add(1, { bundle: c.bundleId, request: { ...valid, batch: 3e7 } }); // allocated 3e7 images before: OOM
    await add(2, { bundle: c.bundleId, request: { ...valid, columns: 2048, scale: 16 } });
    await add(3, { bundle: c.bundleId, request: { ...valid, stepz: 4 } });
    await add(4, { bundle: c.bundleId, request: { condition: 1, batch: 1, steps: 4 } }); // no seed
    await add(5, 'not an object');
    await add(6, { bundle: c.bundleId, request: valid });
    await conn.hset(`bull:${name}:${id(6)}`, 'data', '{"bundle": "'); // broken JSON: cycled for 362 s before
    const innocent = await Promise.all([1, 2, 3].map((seed) => c.submit({ condition: seed, batch: 1, steps: 4, seed })));

    const failed = new Map<string, string>();
    events.on('failed', ({ jobId, failedReason }) => failed.set(jobId, failedReason));
    const t0 = Date.now();
    await worker(name);
    const results = await Promise.all(innocent.map((s) => c.result(s.id, { timeoutMs: 60_000 })));
    expect(results.map((r) => r.images)).toEqual([1, 1, 1]);
    const expected: [number, RegExp][] = [
      [1, /^\[OVER_LIMIT\] .*'maxImages' of 1024: it asks for 30000000 images/],
      [2, /^\[OVER_LIMIT\] .*'maxPixels'/],
      [3, /^\[INVALID_OPTION\] .*stepz.*did you mean 'steps'/],
      [4, /^\[MALFORMED_JOB\] its request has no valid seed/],
      [5, /^\[MALFORMED_JOB\] its data is not an object/],
      [6, /^\[MALFORMED_JOB\] its stored JSON is broken/],
    ];
    for (const [n, reason] of expected) {
      expect(await raw.getJobState(id(n)), `job ${n}`).toBe('failed');
      const job = await conn.hget(`bull:${name}:${id(n)}`, 'failedReason');
      expect(job, `job ${n}`).toMatch(reason);
      expect(await conn.hget(`bull:${name}:${id(n)}`, 'ats'), `job ${n} started once`).toBe('1');
    }
    expect(Date.now() - t0).toBeLessThan(30_000);
    // The client reports them as failed, with the worker's code.
    const err = await c.result(id(1)).catch((e: unknown) => e);
    expect(isQueueError(err, 'JOB_FAILED')).toBe(true);
    expect((err as { details: { cause: string } }).details.cause).toBe('OVER_LIMIT');
    const broken = await c.result(id(6)).catch((e: unknown) => e);
    expect(isQueueError(broken, 'JOB_FAILED'), String(broken)).toBe(true);
  });

  it('a job running longer than its lock keeps it and runs exactly once', async () => {
    const name = 'long';
    const c = await client(name);
    const events = new QueueEvents(name, { connection: connection() });
    closers.push(() => events.close());
    await events.waitUntilReady();
    let stalled = 0;
    let completed = 0;
    events.on('stalled', () => stalled++);
    events.on('completed', () => completed++);
    // A 5 s lock and a stalled-job check every 2 s from a second worker: a lapse would be seen at once. (Shorter locks
    // lapsed in clean-clone CI runs at load 17-26, where the whole suite shares 2 cores and a process gets a few
    // percent of one; production locks are 30 s.)
    await worker(name, { lockDurationMs: 5000, stalledIntervalMs: 2000 });
    await worker(name, { lockDurationMs: 5000, stalledIntervalMs: 2000, id: 'watcher' });
    const { id } = await c.submit({ condition: 2, batch: 16, steps: 96, predictor: 'vanilla', seed: 3 });
    const r = await c.result(id, { timeoutMs: 280_000 });
    await new Promise((res) => setTimeout(res, 2500));
    expect(r.call.totalMs).toBeGreaterThan(7500); // well past its 5 s lock
    expect(r.attempt).toBe(1);
    expect(stalled).toBe(0);
    expect(completed).toBe(1);
  });

  it('finished jobs are swept after resultTtlSeconds with no other job finishing', async () => {
    const name = 'sweep';
    const c = await client(name, { resultTtlSeconds: 5 }); // 1 s swept a result before a loaded client read it
    await worker(name, { resultTtlSeconds: 5, cleanIntervalMs: 300 });
    const { id } = await c.submit({ condition: 4, batch: 1, steps: 4, seed: 1 });
    await c.result(id, { timeoutMs: 60_000 });
    expect((await c.status(id)).state).toBe('completed');
    const deadline = Date.now() + 30_000;
    let err: unknown;
    while (Date.now() < deadline) {
      err = await c.status(id).catch((e: unknown) => e);
      if (isQueueError(err, 'NOT_FOUND')) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(isQueueError(err, 'NOT_FOUND'), String(err)).toBe(true);
  });

  it('a bad worker option is a typed error', async () => {
    const err = await createQueueWorker({ redis: redis.url, backend, batch: 0 }).catch((e: unknown) => e);
    expect(isQueueError(err, 'INVALID_CONFIG')).toBe(true);
    expect((err as Error).message).toMatch(/'batch' must be an integer from 1 to 4096/);
  });
});
