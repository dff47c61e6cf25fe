import { hostname } from 'node:os';
import { Queue, Worker, UnrecoverableError, type Job, type JobJsonRaw } from 'bullmq';
import { Redis } from 'ioredis';
import { generate, isMigmError, isValidSeed, tileImages, type Backend, type ImageBatch, type Manifest } from '@migm/core';
import { createNodeBackend } from '@migm/backend-node';
import { encodeFailure, isQueueError, QueueError } from './errors.js';
import { cancelChannel, cancelKey, redactUrl } from './keys.js';
import { checkRequest, resolveLimits, type QueueLimits } from './limits.js';
import { batchedOptions, bundleId, compatibilityKey, imageCount, imagePrompts, type JobData, type QueuedRequest } from './request.js';
import { pngBytes, type JobProgress, type StoredResult } from './result.js';

export type { JobData } from './request.js';

/** Options of `createQueueWorker`. Give `backend` (a loaded one, left open on close) or `bundle` (a directory). */
export interface QueueWorkerOptions {
  /** Redis URL, e.g. `redis://127.0.0.1:6379`. */
  readonly redis: string;
  /** Queue name. Default `'migm'`. */
  readonly queue?: string;
  readonly backend?: Backend;
  /** Bundle directory, loaded once with @migm/backend-node and disposed on close. */
  readonly bundle?: string;
  /** onnxruntime threads when the worker loads the bundle itself. */
  readonly threads?: number;
  /** Most images per generate() call; compatible jobs are merged up to it. 1 turns batching off. Default 16. */
  readonly batch?: number;
  /** generate() calls at once. Default 1. */
  readonly concurrency?: number;
  /** How long a job waits for compatible company before its call starts, ms. Default 20. */
  readonly batchWaitMs?: number;
  /** BullMQ job lock, ms: a job whose worker stops renewing it (killed) is redelivered after about this long. Default 30000. */
  readonly lockDurationMs?: number;
  /** How often this worker looks for stalled jobs, ms. Default 30000. */
  readonly stalledIntervalMs?: number;
  /** Redeliveries of a stalled job before it fails. Default 1. */
  readonly maxStalledCount?: number;
  /**
   * What one job may cost; checked again here before anything is allocated, so a job written straight into
   * Redis is held to the same bounds as one from `submit`. Give workers the clients' limits. Default `DEFAULT_LIMITS`.
   */
  readonly limits?: QueueLimits;
  /** Finished jobs older than this are removed by every worker's sweep, seconds. Default 3600 (the client's `resultTtlSeconds`). */
  readonly resultTtlSeconds?: number;
  /** How often this worker sweeps finished jobs older than `resultTtlSeconds` out of Redis, ms. Default 60000. */
  readonly cleanIntervalMs?: number;
  /** Name in results and progress. Default `<host>:<pid>`. */
  readonly id?: string;
  /** Connection and processing errors (e.g. Redis gone); the worker keeps retrying. Default: ignored. */
  readonly onError?: (error: Error) => void;
  /** After each generate() call: how many jobs and images it held and how long it took. */
  readonly onCall?: (call: { jobs: number; images: number; ms: number }) => void;
}

interface Pending {
  readonly job: Job<JobData>;
  /** BullMQ's lock token for this delivery of the job. */
  readonly token: string | undefined;
  /** When its lock was last extended by this worker, ms. */
  extendedAt: number;
  readonly request: QueuedRequest;
  readonly images: number;
  readonly resolve: (r: StoredResult) => void;
  readonly reject: (e: Error) => void;
  settled: boolean;
  /** Its generate() call once started: the steps done so far. */
  call?: { step: number };
  /** Steps its call had done when the cancellation arrived. */
  cancelledAt?: number;
}

interface Group {
  items: Pending[];
  images: number;
  ready: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** A running worker: `close()` finishes the jobs it holds, then disconnects (what SIGTERM should call). */
export interface QueueWorker {
  readonly id: string;
  readonly bundleId: string;
  /** Stops taking jobs, finishes the ones it holds, disconnects, disposes a backend it loaded. */
  close(): Promise<void>;
}

function intOption(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min || v > max)
    throw new QueueError('INVALID_CONFIG', `createQueueWorker: '${name}' must be an integer from ${min} to ${max}, got ${String(value)}.`);
  return v;
}

/** What a worker takes from a job it could not parse: the processor fails it at once as MALFORMED_JOB. */
const MALFORMED = Symbol('malformed job');

/**
 * BullMQ's Worker, except that a job whose stored JSON is broken (written straight into Redis) becomes a job
 * the processor fails at once, instead of an exception in BullMQ's fetch loop that leaves the job active until
 * its lock lapses, over and over.
 */
class GuardedWorker extends Worker<JobData, StoredResult> {
  protected override createJob(raw: JobJsonRaw, jobId: string): Job<JobData, StoredResult> {
    try {
      return super.createJob(raw, jobId);
    } catch (err) {
      const reason = `its stored ${(err as Error).name === 'SyntaxError' ? 'JSON is broken' : 'form is unreadable'}`;
      const { parent: _parent, ...rest } = raw;
      const job = super.createJob({ ...rest, data: '{}', progress: '0', opts: '{}', returnvalue: 'null' }, jobId);
      (job as unknown as Record<symbol, string>)[MALFORMED] = reason;
      return job;
    }
  }
}

/**
 * Whether a prompt of this job (its own, not its call-mates') was longer than the tokenizer reads and was cut.
 * `reports`: the call's distinct prompts (only negative prompts of guided calls are among them).
 */
function jobTruncated(request: QueuedRequest, manifest: Manifest, reports: readonly { prompt: string; truncated: boolean }[]): boolean {
  const c = manifest.condition;
  if (c.type !== 'text') return false;
  const cut = new Set(reports.filter((r) => r.truncated).map((r) => r.prompt));
  const { prompts, negatives } = imagePrompts(request, c.negativePrompt);
  return [...prompts, ...negatives].some((p) => cut.has(p));
}

/** Checks a job as stored (anything may have written it) before the worker allocates anything for it. */
function checkJob(
  job: Job<JobData>,
  manifest: Manifest,
  bundle: string,
  hasShortcut: boolean,
  limits: Required<QueueLimits>,
  tokenizer: Backend['tokenizer'],
): QueuedRequest {
  const malformed = (why: string) => new UnrecoverableError(encodeFailure('MALFORMED_JOB', why));
  const broken = (job as unknown as Record<symbol, string | undefined>)[MALFORMED];
  if (broken !== undefined) throw malformed(broken);
  const data = job.data as unknown;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) throw malformed('its data is not an object { request, bundle }');
  const { request, bundle: jobBundle } = data as Partial<JobData>;
  if (typeof jobBundle !== 'string') throw malformed("its data has no bundle id (a string 'bundle')");
  if (jobBundle !== bundle) {
    throw new UnrecoverableError(
      encodeFailure('BUNDLE_MISMATCH', `job is for bundle ${jobBundle.slice(0, 12)}…, this worker runs ${manifest.name} (${bundle.slice(0, 12)}…)`),
    );
  }
  if (request === null || typeof request !== 'object' || Array.isArray(request)) throw malformed("its data has no request object ('request')");
  if (!isValidSeed((request as { seed?: unknown }).seed)) throw malformed('its request has no valid seed (submit fixes one)');
  try {
    // The client's own checks, on what Redis holds: a job that skipped submit meets them here.
    return checkRequest(request, manifest, hasShortcut, limits, tokenizer);
  } catch (err) {
    if (isMigmError(err) || isQueueError(err)) throw new UnrecoverableError(encodeFailure(err.code, err.message));
    throw err;
  }
}

/**
 * Starts a worker: it loads the bundle once, takes jobs from the queue, merges compatible ones (same options
 * but classes, counts, seeds and layout) into one `generate()` call of at most `batch` images, gives each job
 * its own images as a PNG, reports every step as progress, and stops a cancelled job at its next step.
 *
 * @example
 * const worker = await createQueueWorker({ redis: 'redis://127.0.0.1:6379', bundle: bundleDir(), batch: 16 });
 * process.on('SIGTERM', () => void worker.close());
 */
export async function createQueueWorker(options: QueueWorkerOptions): Promise<QueueWorker> {
  const queue = options.queue ?? 'migm';
  const batch = intOption('batch', options.batch, 16, 1, 4096);
  const limits = resolveLimits(options.limits, 'createQueueWorker');
  const ttlMs = intOption('resultTtlSeconds', options.resultTtlSeconds, 3600, 1, 365 * 86_400) * 1000;
  const cleanMs = intOption('cleanIntervalMs', options.cleanIntervalMs, 60_000, 100, 86_400_000);
  const lockDuration = intOption('lockDurationMs', options.lockDurationMs, 30_000, 1000, 3_600_000);
  const concurrency = intOption('concurrency', options.concurrency, 1, 1, 64);
  const waitMs = intOption('batchWaitMs', options.batchWaitMs, 20, 0, 60_000);
  const id = options.id ?? `${hostname()}:${process.pid}`;
  const onError = options.onError ?? (() => {});
  if ((options.backend === undefined) === (options.bundle === undefined))
    throw new QueueError('INVALID_CONFIG', 'createQueueWorker: give exactly one of backend and bundle.');
  const backend =
    options.backend ?? (await createNodeBackend({ bundle: options.bundle!, ...(options.threads !== undefined ? { threads: options.threads } : {}) }));
  const ownsBackend = options.backend === undefined;
  const manifest = backend.manifest;
  const bundle = bundleId(manifest);
  const hasShortcut = backend.capabilities.velocity;
  const range = manifest.image.range ?? [0, 1];

  const connection = new Redis(options.redis, { maxRetriesPerRequest: null, lazyConnect: true });
  const subscriber = new Redis(options.redis, { maxRetriesPerRequest: null, lazyConnect: true });
  let closing = false;
  for (const c of [connection, subscriber]) c.on('error', (e: Error) => onError(new Error(`Redis at ${redactUrl(options.redis)}: ${e.message}`, { cause: e })));
  // Said once per outage: ioredis keeps reconnecting, and a job finished meanwhile cannot be recorded (its
  // lock runs out and another worker runs it again, so nothing is lost or reported twice).
  let up = true;
  connection.on('close', () => {
    if (closing || !up) return;
    up = false;
    onError(new Error(`Lost the connection to Redis at ${redactUrl(options.redis)}; reconnecting.`));
  });
  connection.on('ready', () => void (up = true));
  try {
    await connection.connect();
    await subscriber.connect();
  } catch (err) {
    connection.disconnect();
    subscriber.disconnect();
    if (ownsBackend) await backend.dispose();
    throw new QueueError('CONNECTION_LOST', `Redis at ${redactUrl(options.redis)} is unreachable: ${(err as Error).message}.`, { cause: err });
  }

  const groups = new Map<string, Group>();
  const held = new Map<string, Pending>();
  let running = 0;

  const settle = (p: Pending, outcome: { result: StoredResult } | { error: Error }): void => {
    if (p.settled) return;
    p.settled = true;
    held.delete(p.job.id!);
    if ('result' in outcome) p.resolve(outcome.result);
    else p.reject(outcome.error);
  };
  const cancelled = (p: Pending, step: number, steps: number): UnrecoverableError =>
    new UnrecoverableError(
      encodeFailure('CANCELLED', `cancel received after step ${p.cancelledAt ?? 0}, stopped after step ${step}${steps ? ` of ${steps}` : ''}`),
    );

  // Starts calls while a slot is free and a group is full, has waited long enough, or the worker is closing.
  const pump = (): void => {
    // Several chunks of one group can start in one pump when concurrency allows.
    for (let started = true; started;) {
      started = false;
      for (const [key, g] of groups) {
        if (running >= concurrency) return;
        if (!(g.ready || closing || g.images >= batch)) continue;
        const chunk: Pending[] = [];
        let images = 0;
        while (g.items.length > 0 && (chunk.length === 0 || images + g.items[0]!.images <= batch)) {
          const p = g.items.shift()!;
          images += p.images;
          chunk.push(p);
        }
        g.images -= images;
        if (g.items.length === 0) {
          clearTimeout(g.timer);
          groups.delete(key);
        }
        if (chunk.length === 0) continue; // every job of the group was cancelled while it waited
        running++;
        started = true;
        void runCall(chunk).finally(() => {
          running--;
          pump();
        });
      }
    }
  };

  const runCall = async (chunk: Pending[]): Promise<void> => {
    const live = chunk.filter((p) => !p.settled);
    if (live.length === 0) return;
    const controller = new AbortController();
    const progress: Promise<unknown>[] = [];
    const call = { step: 0 };
    for (const p of live) p.call = call;
    const started = Date.now();
    try {
      const result = await generate(backend, {
        ...batchedOptions(
          live.map((p) => p.request),
          manifest,
        ),
        signal: controller.signal,
        onStep: (e) => {
          const step = (call.step = e.step + 1);
          // BullMQ renews locks on a timer; a step is also a moment the event loop is ours, so renew here too
          // when half the lock has passed: a long call keeps its jobs however busy the process is.
          const now = Date.now();
          for (const p of live) {
            if (p.settled || p.token === undefined || now - p.extendedAt < lockDuration / 2) continue;
            p.extendedAt = now;
            progress.push(p.job.extendLock(p.token, lockDuration).catch(() => {}));
          }
          for (const p of live) {
            if (p.settled) continue;
            if (p.cancelledAt !== undefined) settle(p, { error: cancelled(p, step, e.steps) });
            else {
              const data: JobProgress = { step, steps: e.steps, kind: e.kind, worker: id };
              progress.push(p.job.updateProgress(data as unknown as object).catch(() => {}));
            }
          }
          // Every job of the call cancelled: nothing left to compute for.
          if (live.every((p) => p.settled)) controller.abort();
        },
      });
      const images = await backend.decode(result.tokens, result.batch);
      const per = images.channels * images.height * images.width;
      let offset = 0;
      for (const p of live) {
        const slice: ImageBatch = { ...images, batch: p.images, data: images.data.subarray(offset * per, (offset + p.images) * per) };
        offset += p.images;
        if (p.settled) continue;
        const grid = tileImages(slice, { range, scale: p.request.scale ?? 1, ...(p.request.columns !== undefined ? { columns: p.request.columns } : {}) });
        const t = result.timings;
        settle(p, {
          result: {
            png: pngBytes(grid).toString('base64'),
            width: grid.width,
            height: grid.height,
            images: p.images,
            seed: p.request.seed,
            bundle: { id: bundle, name: manifest.name, version: manifest.version ?? null },
            call: { totalMs: t.totalMs, backendMs: t.backendMs, coreMs: t.coreMs, jobs: live.length, images: result.batch },
            latencyMs: Date.now() - p.job.timestamp,
            worker: id,
            attempt: p.job.attemptsStarted,
            ...(result.text === null ? {} : { text: { truncated: jobTruncated(p.request, manifest, result.text.prompts) } }),
          },
        });
      }
      options.onCall?.({ jobs: live.length, images: result.batch, ms: Date.now() - started });
    } catch (err) {
      for (const p of live) {
        if (p.cancelledAt !== undefined) settle(p, { error: cancelled(p, call.step, 0) });
        else settle(p, { error: isMigmError(err) ? new UnrecoverableError(encodeFailure(err.code, err.message)) : (err as Error) });
      }
    } finally {
      await Promise.all(progress);
    }
  };

  const processJob = async (job: Job<JobData>, token?: string): Promise<StoredResult> => {
    const request = checkJob(job, manifest, bundle, hasShortcut, limits, backend.tokenizer);
    if ((await connection.exists(cancelKey(queue, job.id!))) === 1) throw new UnrecoverableError(encodeFailure('CANCELLED', 'cancelled before it started'));
    return new Promise<StoredResult>((resolve, reject) => {
      const p: Pending = { job, token, extendedAt: Date.now(), request, images: imageCount(request), resolve, reject, settled: false };
      held.set(job.id!, p);
      const key = compatibilityKey(request);
      let g = groups.get(key);
      if (!g) {
        g = { items: [], images: 0, ready: false, timer: undefined };
        const group = g;
        g.timer = setTimeout(() => {
          group.ready = true;
          pump();
        }, waitMs);
        groups.set(key, g);
      }
      g.items.push(p);
      g.images += p.images;
      pump();
    });
  };

  await subscriber.subscribe(cancelChannel(queue));
  subscriber.on('message', (_channel: string, jobId: string) => {
    const p = held.get(jobId);
    if (!p || p.cancelledAt !== undefined) return;
    // A job still waiting for its call leaves now; a running one stops at its call's next step.
    const g = [...groups.values()].find((x) => x.items.includes(p));
    if (g) {
      g.items.splice(g.items.indexOf(p), 1);
      g.images -= p.images;
      p.cancelledAt = 0;
      settle(p, { error: new UnrecoverableError(encodeFailure('CANCELLED', 'cancelled before its call started')) });
    } else p.cancelledAt = p.call?.step ?? 0;
  });

  const worker = new GuardedWorker(queue, processJob, {
    connection,
    // Each job holds a slot while it waits for its call, so a call can gather `batch` of them.
    concurrency: batch * concurrency,
    lockDuration,
    stalledInterval: intOption('stalledIntervalMs', options.stalledIntervalMs, 30_000, 500, 3_600_000),
    maxStalledCount: intOption('maxStalledCount', options.maxStalledCount, 1, 0, 100),
    name: id,
  });
  worker.on('error', (e) => onError(e));
  await worker.waitUntilReady();

  // BullMQ removes finished jobs past their age only when another job finishes; an idle queue would keep its
  // last results forever. Every worker sweeps on a timer (clean is idempotent, so many workers do no harm).
  const sweeper = new Queue(queue, { connection });
  sweeper.on('error', () => {});
  const sweep = async () => {
    for (const state of ['completed', 'failed'] as const) {
      for (let removed = 1000; removed >= 1000;) removed = (await sweeper.clean(ttlMs, 1000, state)).length;
    }
  };
  const cleanTimer = setInterval(() => void sweep().catch((e: Error) => onError(new Error(`sweeping finished jobs: ${e.message}`, { cause: e }))), cleanMs);
  cleanTimer.unref();

  let closed: Promise<void> | undefined;
  return {
    id,
    bundleId: bundle,
    close() {
      closed ??= (async () => {
        closing = true;
        const done = worker.close();
        pump();
        await done;
        clearInterval(cleanTimer);
        await sweeper.close().catch(() => {});
        for (const g of groups.values()) clearTimeout(g.timer);
        subscriber.disconnect();
        await connection.quit().catch(() => connection.disconnect());
        if (ownsBackend) await backend.dispose();
      })();
      return closed;
    },
  };
}
