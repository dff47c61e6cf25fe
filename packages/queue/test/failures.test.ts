import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { createNodeBackend, type OrtBackend } from '@migm/backend-node';
import { bundleDir } from '@migm/bundle-fashion-mnist';
import { generate, tileImages } from '@migm/core';
import { createQueueClient, createQueueWorker, isQueueError, type JobResult, type QueueClient, type QueueWorker } from '../src/index.js';
import { pngBytes } from '../src/result.js';
import { WorkerProcesses } from './processes.js';
import { RedisServer } from './redis.js';

const servers: RedisServer[] = [];
const children = new WorkerProcesses();
const closers: (() => Promise<unknown>)[] = [];
let backend: OrtBackend;

beforeAll(async () => {
  backend = await createNodeBackend({ bundle: bundleDir(), threads: 1 });
});
// Always: child workers killed, connections closed, every redis-server stopped, even when a test failed.
afterAll(async () => {
  await children.killAll();
  for (const close of closers.reverse()) await close().catch(() => {});
  await backend?.dispose();
  for (const s of servers) await s.stop();
});

async function server(persist = false): Promise<RedisServer> {
  const s = new RedisServer();
  servers.push(s);
  await s.start(persist);
  return s;
}
async function client(url: string, queue: string): Promise<QueueClient> {
  const c = await createQueueClient({ redis: url, queue, bundle: backend.manifest });
  closers.push(() => c.close());
  return c;
}
async function direct(request: { condition: number; batch: number; steps: number; seed: number }): Promise<Buffer> {
  const r = await generate(backend, request);
  return pngBytes(tileImages(await backend.decode(r.tokens, r.batch), { range: backend.manifest.image.range ?? [0, 1] }));
}

describe('failures on a real Redis', () => {
  it('a worker killed with SIGKILL mid-job: its jobs finish on the other worker, each exactly once', async () => {
    const redis = await server();
    const queue = 'kill';
    const requests = Array.from({ length: 6 }, (_, i) => ({ condition: i, batch: 2, steps: 24, seed: 100 + i }));
    const c = await client(redis.url, queue);
    // Count 'completed' events per job as Redis publishes them: a duplicate completion would show here.
    const eventsConnection = new Redis(redis.url, { maxRetriesPerRequest: null });
    eventsConnection.on('error', () => {}); // its reconnect attempts after redis-server stops at the end
    closers.push(async () => eventsConnection.disconnect());
    const events = new QueueEvents(queue, { connection: eventsConnection });
    closers.push(() => events.close());
    await events.waitUntilReady();
    const completions = new Map<string, number>();
    events.on('completed', ({ jobId }) => completions.set(jobId, (completions.get(jobId) ?? 0) + 1));

    const a = await children.start(redis.url, queue, 2, 'A');
    const submitted = await Promise.all(requests.map((r) => c.submit(r)));
    const onA = new Set<string>();
    const killed = new Promise<void>((resolve) => {
      for (const s of submitted) {
        c.progress(s.id, (p) => {
          if (p.worker !== 'A' || a.signalCode !== null) return;
          onA.add(s.id);
          if (p.step >= 2) {
            a.kill('SIGKILL');
            resolve();
          }
        });
      }
    });
    await killed;
    await children.start(redis.url, queue, 2, 'B');
    const results: JobResult[] = await Promise.all(submitted.map((s) => c.result(s.id, { timeoutMs: 100_000 })));
    await new Promise((r) => setTimeout(r, 1500)); // time for any late duplicate event to arrive

    expect(onA.size).toBeGreaterThan(0);
    for (const [i, r] of results.entries()) {
      expect(Buffer.from(r.png).equals(await direct(requests[i]!)), `job ${i}`).toBe(true);
      expect(completions.get(r.id), `completed events of job ${i}`).toBe(1);
      if (onA.has(r.id)) {
        expect(r.worker).toBe('B');
        expect(r.attempt).toBeGreaterThanOrEqual(2);
      }
    }
    expect(completions.size).toBe(requests.length);
  });

  it('SIGTERM: a worker finishes the jobs it holds, then exits 0', async () => {
    const redis = await server();
    const queue = 'term';
    const c = await client(redis.url, queue);
    const w = await children.start(redis.url, queue, 4, 'T');
    const submitted = await Promise.all([1, 2].map((seed) => c.submit({ condition: seed, batch: 2, steps: 16, seed })));
    await new Promise<void>((resolve) => c.progress(submitted[0]!.id, () => resolve()));
    const exited = new Promise<number | null>((r) => w.once('exit', (code) => r(code)));
    w.kill('SIGTERM');
    const results = await Promise.all(submitted.map((s) => c.result(s.id, { timeoutMs: 60_000 })));
    expect(results.map((r) => r.worker)).toEqual(['T', 'T']);
    expect(await exited).toBe(0);
  });

  it('Redis going away: CONNECTION_LOST, and nothing reported done that Redis does not hold as done', async () => {
    const redis = await server(true);
    const queue = 'gone';
    const errors: Error[] = [];
    const worker: QueueWorker = await createQueueWorker({ redis: redis.url, queue, backend, batch: 1, onError: (e) => errors.push(e) });
    closers.push(() => worker.close());
    const c = await client(redis.url, queue);
    const requests = Array.from({ length: 6 }, (_, i) => ({ condition: i, batch: 2, steps: 16, seed: 200 + i }));
    const submitted = await Promise.all(requests.map((r) => c.submit(r)));
    const waits = submitted.map((s) => c.result(s.id, { timeoutMs: 100_000 }));
    await Promise.race(waits);
    await redis.kill();
    const outcomes = await Promise.allSettled(waits);

    const done = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [i] : []));
    const lost = outcomes.filter((o) => o.status === 'rejected');
    expect(done.length).toBeGreaterThan(0);
    expect(lost.length).toBeGreaterThan(0);
    for (const o of lost) {
      const err = (o as PromiseRejectedResult).reason as Error;
      expect(isQueueError(err, 'CONNECTION_LOST'), err.message).toBe(true);
      expect(err.message).toMatch(/Redis at redis:\/\/127\.0\.0\.1:\d+ is unreachable/);
    }
    const refused = await c.submit({ condition: 1, steps: 4, seed: 1 }).catch((e: unknown) => e);
    expect(isQueueError(refused, 'CONNECTION_LOST')).toBe(true);
    const asked = await c.result(submitted[5]!.id).catch((e: unknown) => e);
    expect(isQueueError(asked, 'CONNECTION_LOST')).toBe(true);

    // Back on the same data (every write was fsynced): what was reported done is done, with the same image.
    await redis.start(true);
    const after = await client(redis.url, queue);
    for (const i of done) {
      const status = await after.status(submitted[i]!.id);
      expect(status.state).toBe('completed');
      const r = (outcomes[i] as PromiseFulfilledResult<JobResult>).value;
      expect(Buffer.from(r.png).equals(await direct(requests[i]!))).toBe(true);
    }
    expect(errors.map((e) => e.message).join('\n')).toMatch(/Lost the connection to Redis at redis:\/\/127\.0\.0\.1:\d+; reconnecting/);
  });
});
