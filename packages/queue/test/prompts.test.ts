// Prompts through the queue: a text-conditioned bundle (a small aMUSEd bundle with random weights, made at test
// time by the training toolkit: packages/backend-node/test/amused-bundle.ts) takes `prompt` / `negativePrompt`,
// checked by the client, the HTTP front and again by the worker; a prompt to a class bundle, or a class to a text
// bundle, is core's INVALID_OPTION.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import { createNodeBackend, type OrtBackend } from '@migm/backend-node';
import { bundleDir } from '@migm/bundle-fashion-mnist';
import { generate, isMigmError, tileImages, type Manifest, type TextCondition } from '@migm/core';
import { tokenizerFor } from '@migm/tokenizers';
import { createQueueClient, createQueueServer, isQueueError, type GenerationRequest, type QueueClient } from '../src/http-entry.js';
import { createQueueWorker, type QueueWorker } from '../src/worker-entry.js';
import { pngBytes } from '../src/result.js';
import { amusedTestBundle } from '../../backend-node/test/amused-bundle.js';
import { RedisServer } from './redis.js';

const redis = new RedisServer();
let dir: string;
let backend: OrtBackend;
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  dir = amusedTestBundle();
  await redis.start();
  backend = await createNodeBackend({ bundle: dir, threads: 1 });
}, 300_000);
afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => {});
  await backend?.dispose();
  await redis.stop();
});

async function client(queue: string, extra: { limits?: { maxPromptChars?: number } } = {}): Promise<QueueClient> {
  // The bundle directory: the client reads manifest.json and the tokenizer file (sha256-checked), no model.
  const c = await createQueueClient({ redis: redis.url, queue, bundle: dir, ...extra });
  closers.push(() => c.close());
  return c;
}
async function worker(queue: string, batch: number): Promise<QueueWorker> {
  const w = await createQueueWorker({ redis: redis.url, queue, backend, batch, batchWaitMs: 200 });
  closers.push(() => w.close());
  return w;
}
function connection(): Redis {
  const c = new Redis(redis.url, { maxRetriesPerRequest: null });
  c.on('error', () => {});
  closers.push(async () => c.disconnect());
  return c;
}

/** The PNG generate() gives for a request, run directly in this process. */
async function direct(request: GenerationRequest & { seed: number }): Promise<Buffer> {
  const { scale, columns: _c, ...options } = request;
  const r = await generate(backend, options);
  return pngBytes(tileImages(await backend.decode(r.tokens, r.batch), { range: backend.manifest.image.range ?? [0, 1], scale: scale ?? 1 }));
}

const LONG = 'a very long prompt about a lighthouse on a cliff at dawn, '.repeat(12); // ~140 CLIP tokens
const REQUESTS: (GenerationRequest & { seed: number })[] = [
  { prompt: 'a photo of a red fox in the snow', batch: 2, steps: 6, seed: 11 },
  { prompt: ['an astronaut riding a horse', 'a bowl of ramen, studio lighting'], negativePrompt: 'blurry', steps: 6, seed: 12, scale: 2 },
  { prompt: LONG, batch: 1, steps: 6, seed: 13 },
  { prompt: '', batch: 2, negativePrompt: ['', 'low quality'], steps: 6, seed: 14 },
];

describe('prompts in the queue (aMUSEd bundle, real Redis)', () => {
  it('a prompt job gives the PNG generate() gives for the same seed, batching off and on; truncation is reported per job', async () => {
    const expected = await Promise.all(REQUESTS.map(direct));
    for (const batch of [1, 8]) {
      const name = `text-${batch}`;
      const c = await client(name);
      const w = await worker(name, batch);
      const submitted = await Promise.all(REQUESTS.map((r) => c.submit(r)));
      const results = await Promise.all(submitted.map((s) => c.result(s.id, { timeoutMs: 120_000 })));
      results.forEach((r, i) => {
        expect(Buffer.from(r.png).equals(expected[i]!), `job ${i}, batch ${batch}`).toBe(true);
        expect(r.images).toBe([2, 2, 1, 2][i]);
        // Only the job whose own prompt was over 77 tokens says so, whatever shared its call.
        expect(r.text, `job ${i}`).toEqual({ truncated: i === 2 });
      });
      // Batching on: jobs with different prompts and negative prompts share calls.
      if (batch === 1) expect(results.every((r) => r.call.jobs === 1)).toBe(true);
      else expect(Math.max(...results.map((r) => r.call.jobs))).toBeGreaterThan(1);
      await w.close();
    }
  });

  it('bad prompts are refused before anything is queued: by the client and over HTTP (400)', async () => {
    const c = await client('bad-text', { limits: { maxPromptChars: 300 } });
    const invalid: [unknown, RegExp][] = [
      [{ condition: 3 }, /conditioned on text: give 'prompt'/],
      [{ steps: 4 }, /'prompt'.*a prompt string .* is required/],
      [{ prompt: 7 }, /'prompt': got 7; a prompt string, or an array of one per image/],
      [{ prompt: ['a', 5], batch: 2 }, /'prompt\[1\]'.*must be a string/],
      [{ prompt: 'a fox', negativePrompt: { text: 'x' } }, /'negativePrompt'/],
      [{ prompt: ['a', 'b'], batch: 3 }, /one prompt per image is required \(batch is 3\)/],
    ];
    for (const [request, message] of invalid) {
      const err = await c.submit(request as never).catch((e: unknown) => e);
      expect(isMigmError(err, 'INVALID_OPTION'), `${JSON.stringify(request)}: ${String(err)}`).toBe(true);
      expect((err as Error).message).toMatch(message);
    }
    const long = await c.submit({ prompt: 'x'.repeat(301) }).catch((e: unknown) => e);
    expect(isQueueError(long, 'OVER_LIMIT'), String(long)).toBe(true);
    expect((long as { details: unknown }).details).toEqual({ limit: 'maxPromptChars', value: 301, max: 300, option: 'prompt' });
    const longNegative = await c.submit({ prompt: ['a', 'b'], negativePrompt: ['', 'y'.repeat(400)] }).catch((e: unknown) => e);
    expect((longNegative as Error).message).toMatch(/'maxPromptChars' of 300: 'negativePrompt\[1\]' has 400 characters/);
    expect(c.limits.maxPromptChars).toBe(300);

    const server = createQueueServer(c);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => server.close(r)));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    const post = async (body: unknown) => {
      const r = await fetch(`${base}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: r.status, body: (await r.json()) as { error: string; message: string; details?: unknown } };
    };
    const cls = await post({ condition: 3 });
    expect(cls.status).toBe(400);
    expect(cls.body.error).toBe('INVALID_OPTION');
    expect(cls.body.message).toMatch(/conditioned on text/);
    expect((await post({ prompt: ['a', 5], batch: 2 })).body.error).toBe('INVALID_OPTION');
    const over = await post({ prompt: 'z'.repeat(500) });
    expect([over.status, over.body.error]).toEqual([400, 'OVER_LIMIT']);
    expect((await c.counts())['waiting']).toBe(0);
    // A good one goes through the same front.
    const ok = await post({ prompt: 'a lighthouse', steps: 2, seed: 3 });
    expect(ok.status).toBe(202);
    expect((await c.counts())['waiting']).toBe(1);

    // A prompt to a class bundle is core's error too.
    const classClient = await createQueueClient({ redis: redis.url, queue: 'class-bundle', bundle: bundleDir() });
    closers.push(() => classClient.close());
    for (const request of [{ prompt: 'a sneaker' }, { condition: 1, negativePrompt: 'blurry' }]) {
      const err = await classClient.submit(request).catch((e: unknown) => e);
      expect(isMigmError(err, 'INVALID_OPTION'), String(err)).toBe(true);
      expect((err as Error).message).toMatch(/conditioned on a class id: give 'condition'/);
    }
  });

  it('the worker checks prompts again: jobs written straight into Redis fail at once, typed', async () => {
    const name = 'text-hostile';
    const c = await client(name);
    const conn = connection();
    const raw = new Queue(name, { connection: conn });
    closers.push(() => raw.close());
    const events = new QueueEvents(name, { connection: connection() });
    closers.push(() => events.close());
    await events.waitUntilReady();
    const id = (n: number) => `migm-${n.toString(16).padStart(64, '0')}`;
    const add = (n: number, request: unknown) => raw.add('generate', { bundle: c.bundleId, request } as never, { jobId: id(n), attempts: 1 });
    await add(1, { prompt: 'p'.repeat(5000), steps: 2, seed: 1 }); // over the default maxPromptChars (2,000)
    await add(2, { prompt: 42, steps: 2, seed: 1 });
    await add(3, { condition: 1, steps: 2, seed: 1 });
    await add(4, { prompt: ['a', 'b', 'c'], batch: 2, steps: 2, seed: 1 });
    const innocent = await c.submit({ prompt: 'a quiet harbour', steps: 2, seed: 5 });
    await worker(name, 4);
    expect((await c.result(innocent.id, { timeoutMs: 60_000 })).images).toBe(1);
    const expected: [number, RegExp][] = [
      [1, /^\[OVER_LIMIT\] .*'maxPromptChars' of 2,000: 'prompt' has 5,000 characters/],
      [2, /^\[INVALID_OPTION\] .*'prompt': got 42; a prompt string/],
      [3, /^\[INVALID_OPTION\] .*conditioned on text/],
      [4, /^\[INVALID_OPTION\] .*one prompt per image is required \(batch is 2\)/],
    ];
    for (const [n, reason] of expected) {
      // The innocent job may finish before the worker's failures are written: wait for each job's state.
      const deadline = Date.now() + 30_000;
      while ((await raw.getJobState(id(n))) !== 'failed' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(await raw.getJobState(id(n)), `job ${n}`).toBe('failed');
      expect(await conn.hget(`bull:${name}:${id(n)}`, 'failedReason'), `job ${n}`).toMatch(reason);
    }
    const err = await c.result(id(2)).catch((e: unknown) => e);
    expect(isQueueError(err, 'JOB_FAILED')).toBe(true);
    expect((err as { details: { cause: string } }).details.cause).toBe('INVALID_OPTION');
  });

  it('a client given a text manifest needs its tokenizer; with it, requests are checked the same way', async () => {
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
    const missing = await createQueueClient({ redis: redis.url, queue: 'manifest-only', bundle: manifest }).catch((e: unknown) => e);
    expect(isQueueError(missing, 'INVALID_CONFIG'), String(missing)).toBe(true);
    expect((missing as Error).message).toMatch(/conditioned on text.*give the bundle directory, or 'tokenizer'/);
    const c = manifest.condition as TextCondition;
    const tokenizer = tokenizerFor(c, new Uint8Array(readFileSync(join(dir, c.tokenizer.file))));
    const withTokenizer = await createQueueClient({ redis: redis.url, queue: 'manifest-only', bundle: manifest, tokenizer });
    closers.push(() => withTokenizer.close());
    expect(isMigmError(await withTokenizer.submit({ condition: 1 } as never).catch((e: unknown) => e), 'INVALID_OPTION')).toBe(true);
    expect((await withTokenizer.submit({ prompt: 'a fox', steps: 2 })).deduplicated).toBe(false);
  });
});
