import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeBackend, type OrtBackend } from '@migm/backend-node';
import { bundleDir } from '@migm/bundle-fashion-mnist';
import { generate, isMigmError, tileImages } from '@migm/core';
import { createQueueClient, createQueueServer, createQueueWorker, isQueueError, type QueueClient, type QueueWorker } from '../src/index.js';
import { pngBytes } from '../src/result.js';
import { RedisServer } from './redis.js';

const redis = new RedisServer();
let backend: OrtBackend;
const workers: QueueWorker[] = [];
const clients: QueueClient[] = [];

beforeAll(async () => {
  await redis.start();
  backend = await createNodeBackend({ bundle: bundleDir(), threads: 1 });
});
afterAll(async () => {
  for (const c of clients) await c.close().catch(() => {});
  for (const w of workers) await w.close().catch(() => {});
  await backend?.dispose();
  await redis.stop();
});

async function client(queue: string, extra: { maxQueued?: number; dedupe?: boolean } = {}): Promise<QueueClient> {
  const c = await createQueueClient({ redis: redis.url, queue, bundle: backend.manifest, ...extra });
  clients.push(c);
  return c;
}
async function worker(queue: string, batch: number): Promise<QueueWorker> {
  const w = await createQueueWorker({ redis: redis.url, queue, backend, batch, batchWaitMs: 50 });
  workers.push(w);
  return w;
}

/** The PNG generate() gives for a request, run directly in this process. */
async function direct(request: { condition: number | null; batch: number; steps: number; budget?: number; seed: number; scale?: number }): Promise<Buffer> {
  const { scale, ...options } = request;
  const r = await generate(backend, options);
  return pngBytes(tileImages(await backend.decode(r.tokens, r.batch), { range: backend.manifest.image.range ?? [0, 1], scale: scale ?? 1 }));
}

const REQUESTS = [
  { condition: 7, batch: 2, steps: 6, budget: 3, seed: 11 },
  { condition: 0, batch: 1, steps: 6, budget: 3, seed: 12, scale: 2 },
  { condition: null, batch: 3, steps: 6, budget: 3, seed: 13 },
  { condition: 3, batch: 2, steps: 6, budget: 3, seed: 14 },
];

describe('queue on a real Redis', () => {
  it('submit -> the PNG generate() gives for the same seed, batching off and on', async () => {
    const expected = await Promise.all(REQUESTS.map(direct));
    for (const batch of [1, 8]) {
      const name = `same-${batch}`;
      const c = await client(name);
      const w = await worker(name, batch);
      const submitted = await Promise.all(REQUESTS.map((r) => c.submit(r)));
      const results = await Promise.all(submitted.map((s) => c.result(s.id, { timeoutMs: 90_000 })));
      results.forEach((r, i) => {
        expect(Buffer.from(r.png).equals(expected[i]!), `job ${i}, batch ${batch}`).toBe(true);
        expect(r.seed).toBe(REQUESTS[i]!.seed);
        expect(r.bundle.id).toBe(c.bundleId);
        expect(r.images).toBe(REQUESTS[i]!.batch);
      });
      // Batching off: one job per call; on: the four compatible jobs (8 images) share calls.
      if (batch === 1) expect(results.every((r) => r.call.jobs === 1)).toBe(true);
      else expect(Math.max(...results.map((r) => r.call.jobs))).toBeGreaterThan(1);
      await w.close();
    }
  });

  it('with dedupe a duplicate submit is the same job; a bad request never reaches the queue', async () => {
    const c = await client('dedupe', { dedupe: true });
    const a = await c.submit({ condition: 1, batch: 1, steps: 4, seed: 5 });
    const b = await c.submit({ seed: 5, steps: 4, batch: 1, condition: 1 });
    expect(b.id).toBe(a.id);
    expect(b.deduplicated).toBe(true);
    const other = await c.submit({ condition: 1, batch: 1, steps: 4, seed: 6 });
    expect(other.id).not.toBe(a.id);
    for (const bad of [{ condition: 1, budjet: 3 }, { condition: 99 }, { condition: 1, steps: 0 }, { condition: 1, scale: 0 }, { condition: 1, seed: -1 }]) {
      const err = await c.submit(bad as never).catch((e: unknown) => e);
      expect(isMigmError(err, 'INVALID_OPTION'), JSON.stringify(bad)).toBe(true);
    }
    expect((await c.counts())['waiting']).toBe(2);
  });

  it('a full queue refuses new work with QUEUE_FULL and queues nothing', async () => {
    const c = await client('full', { maxQueued: 3 });
    for (const seed of [1, 2, 3]) await c.submit({ condition: 2, steps: 4, seed });
    const err = await c.submit({ condition: 2, steps: 4, seed: 4 }).catch((e: unknown) => e);
    expect(isQueueError(err, 'QUEUE_FULL')).toBe(true);
    expect((err as Error).message).toMatch(/3 jobs wait and the limit is 3/);
    expect((await c.counts())['waiting']).toBe(3);
  });

  it('cancel stops a running job within one step; the other job of its call finishes', async () => {
    const name = 'cancel';
    const c = await client(name);
    await worker(name, 8);
    const steps = 48;
    const [a, b] = await Promise.all([c.submit({ condition: 4, batch: 4, steps, seed: 21 }), c.submit({ condition: 5, batch: 4, steps, seed: 22 })]);
    const seen: number[] = [];
    await new Promise<void>((resolve) => {
      c.progress(a.id, (p) => {
        seen.push(p.step);
        if (p.step === 3) resolve();
      });
    });
    expect(await c.cancel(a.id)).toBe('signalled');
    const err = await c.result(a.id, { timeoutMs: 60_000 }).catch((e: unknown) => e);
    expect(isQueueError(err, 'CANCELLED'), String(err)).toBe(true);
    const m = /cancel received after step (\d+), stopped after step (\d+) of (\d+)/.exec((err as Error).message);
    expect(m, (err as Error).message).not.toBeNull();
    expect(Number(m![2]) - Number(m![1])).toBeLessThanOrEqual(1);
    expect(Number(m![2])).toBeLessThan(steps);
    const rb = await c.result(b.id, { timeoutMs: 90_000 });
    expect(Buffer.from(rb.png).equals(await direct({ condition: 5, batch: 4, steps, seed: 22 }))).toBe(true);
    // A waiting job is removed outright.
    const idle = await client('cancel-idle');
    const w = await idle.submit({ condition: 1, steps: 4, seed: 1 });
    expect(await idle.cancel(w.id)).toBe('removed');
    expect(isQueueError(await idle.result(w.id).catch((e: unknown) => e), 'CANCELLED')).toBe(true);
  });

  it('HTTP front: POST a request, progress as server-sent events, GET the PNG, errors as status codes', async () => {
    const c = await client('http', { maxQueued: 50 });
    await worker('http', 4);
    const server = createQueueServer(c);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const request = { condition: 8, batch: 2, steps: 24, budget: 6, seed: 31 };
      const json = { 'content-type': 'application/json' };
      const posted = await fetch(`${base}/jobs`, { method: 'POST', headers: json, body: JSON.stringify(request) });
      expect(posted.status).toBe(202);
      const { id } = (await posted.json()) as { id: string };
      const events = await (await fetch(`${base}/jobs/${id}/events`)).text();
      expect(events).toMatch(/event: progress\ndata: \{"step":\d+,"steps":24,"kind":"(full|skipped)","worker":"/);
      expect(events).toMatch(/event: completed\ndata: \{"id":"migm-[0-9a-f]{64}","seed":31/);
      const png = await fetch(`${base}/jobs/${id}/png`);
      expect(png.status).toBe(200);
      expect(png.headers.get('content-type')).toBe('image/png');
      expect(Buffer.from(await png.arrayBuffer()).equals(await direct(request))).toBe(true);
      const bad = await fetch(`${base}/jobs`, { method: 'POST', headers: json, body: JSON.stringify({ condition: 8, stepz: 4 }) });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { message: string }).message).toMatch(/did you mean 'steps'/);
      expect((await fetch(`${base}/jobs`, { method: 'POST', headers: json, body: '{' })).status).toBe(400);
      expect((await fetch(`${base}/jobs/nope`)).status).toBe(404);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});
