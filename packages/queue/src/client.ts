import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { Queue, QueueEvents, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { MigmError, validateManifest, type Manifest, type TextCondition } from '@migm/core';
import type { PromptTokenizer } from '@migm/core/backend';
import { tokenizerFor } from '@migm/tokenizers';
import { decodeFailure, QueueError } from './errors.js';
import { cancelChannel, cancelKey, isJobId, randomJobId, redactUrl } from './keys.js';
import { checkRequest, resolveLimits, type QueueLimits } from './limits.js';
import { bundleId, requestJobId, type GenerationRequest } from './request.js';
import type { JobProgress, JobResult, StoredResult } from './result.js';
import type { JobData } from './worker.js';

/** Options of `createQueueClient`. */
export interface QueueClientOptions {
  /** Redis URL, e.g. `redis://127.0.0.1:6379`. */
  readonly redis: string;
  /** Queue name. Default `'migm'`. */
  readonly queue?: string;
  /**
   * The bundle the workers run: a directory (its `manifest.json` is read and validated; the weights are the
   * workers' business, so a client loads no model and no onnxruntime) or its manifest. Requests are checked against it.
   */
  readonly bundle: string | Manifest;
  /** Most jobs waiting to start; `submit` refuses more with `QUEUE_FULL`. Default 10000. */
  readonly maxQueued?: number;
  /** How long finished jobs and their results stay in Redis, seconds. Default 3600. */
  readonly resultTtlSeconds?: number;
  /**
   * Job id = hash of bundle, request and seed, so a duplicate submit is the same job. Default false: each job
   * gets 256 random bits, so nobody can compute another client's id from its request (an id is what reads and
   * cancels a job). Turn it on only where every caller may read and cancel every other caller's jobs;
   * `createQueueServer` refuses such a client.
   */
  readonly dedupe?: boolean;
  /** What one request may cost (images, token-steps, output pixels); over a limit `submit` throws `OVER_LIMIT`. Defaults: `DEFAULT_LIMITS`. */
  readonly limits?: QueueLimits;
  /** How long to wait for Redis when connecting, ms. Default 5000. */
  readonly connectTimeoutMs?: number;
  /**
   * Text-conditioned bundles: the prompt tokenizer requests are checked with (core tokenizes every prompt, as
   * the worker will). Default: read from the bundle directory (`condition.tokenizer.file`, its size and sha256
   * checked against the manifest). Required when `bundle` is a manifest of a text bundle (e.g.
   * `tokenizerFor(manifest.condition, bytes)` from @migm/tokenizers).
   */
  readonly tokenizer?: PromptTokenizer;
}

/** A job's state as Redis has it. */
export type JobState = 'waiting' | 'active' | 'completed' | 'failed' | 'delayed' | 'prioritized' | 'waiting-children' | 'unknown';

/** What `submit` returns. */
export interface Submitted {
  readonly id: string;
  /** The seed the job runs with (the request's, or the one drawn for it). */
  readonly seed: number;
  /** True when an identical request was already queued, running or done: this is that job. */
  readonly deduplicated: boolean;
}

const WAITING_STATES = ['waiting', 'paused', 'delayed', 'prioritized'] as const;
const CONNECTION_ERROR = /Connection is closed|Stream isn't writeable|max retries|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|ENOTCONN|connect/i;

/** The client side of the queue: submits validated requests, waits for results, follows progress, cancels. */
export class QueueClient {
  /** sha256 of the bundle's canonical manifest; workers only run jobs for the same id. */
  readonly bundleId: string;
  readonly manifest: Manifest;
  readonly queueName: string;
  /** True when job ids are hashes of their requests (`dedupe`). */
  readonly dedupe: boolean;
  /** The limits `submit` enforces. */
  readonly limits: Required<QueueLimits>;
  readonly #queue: Queue<JobData, StoredResult>;
  readonly #events: QueueEvents;
  readonly #conn: Redis;
  readonly #eventsConn: Redis;
  readonly #url: string;
  readonly #maxQueued: number;
  readonly #ttl: number;
  readonly #tokenizer: PromptTokenizer | undefined;
  readonly #waiters = new Map<string, Set<{ resolve: (r: JobResult) => void; reject: (e: Error) => void }>>();
  readonly #listeners = new Map<string, Set<(p: JobProgress) => void>>();

  /** Use `createQueueClient`. */
  constructor(parts: {
    manifest: Manifest;
    queue: Queue<JobData, StoredResult>;
    events: QueueEvents;
    conn: Redis;
    eventsConn: Redis;
    url: string;
    options: QueueClientOptions;
    tokenizer?: PromptTokenizer | undefined;
  }) {
    this.manifest = parts.manifest;
    this.#tokenizer = parts.tokenizer;
    this.bundleId = bundleId(parts.manifest);
    this.queueName = parts.queue.name;
    this.#queue = parts.queue;
    this.#events = parts.events;
    this.#conn = parts.conn;
    this.#eventsConn = parts.eventsConn;
    this.#url = parts.url;
    this.#maxQueued = parts.options.maxQueued ?? 10_000;
    this.#ttl = parts.options.resultTtlSeconds ?? 3600;
    this.dedupe = parts.options.dedupe ?? false;
    this.limits = resolveLimits(parts.options.limits, 'createQueueClient');
    const recheck = ({ jobId }: { jobId: string }) => {
      if (this.#waiters.has(jobId)) void this.#check(jobId).catch((e: Error) => this.#settle(jobId, e));
    };
    this.#events.on('completed', recheck);
    this.#events.on('failed', recheck);
    this.#events.on('removed', recheck);
    this.#events.on('progress', ({ jobId, data }) => {
      for (const l of this.#listeners.get(jobId) ?? []) l(data as unknown as JobProgress);
    });
    // A dropped connection ends every wait with CONNECTION_LOST: a result is only ever reported from Redis.
    const lost = () => {
      for (const id of [...this.#waiters.keys()])
        this.#settle(id, this.#lost(`the connection dropped while waiting for job ${id}; its state is unknown until Redis is back (call result() again)`));
    };
    this.#conn.on('close', lost);
    this.#eventsConn.on('close', lost);
  }

  #lost(what: string, cause?: unknown): QueueError {
    return new QueueError('CONNECTION_LOST', `Redis at ${redactUrl(this.#url)} is unreachable: ${what}.`, cause === undefined ? undefined : { cause });
  }

  /** Runs a Redis operation, turning a missing or broken connection into CONNECTION_LOST. */
  async #redis<T>(what: string, op: () => Promise<T>): Promise<T> {
    if (this.#conn.status !== 'ready') throw this.#lost(`cannot ${what} (connection ${this.#conn.status})`);
    try {
      return await op();
    } catch (err) {
      if (err instanceof QueueError) throw err;
      if (this.#conn.status !== 'ready' || CONNECTION_ERROR.test((err as Error).message)) throw this.#lost(`cannot ${what} (${(err as Error).message})`, err);
      throw err;
    }
  }

  /**
   * Validates a request with core's option checks for this bundle (a bad one throws `INVALID_OPTION` and is
   * never queued: a prompt for a class bundle, a class for a text bundle, a prompt that is not a string), checks
   * it against `limits` (`OVER_LIMIT`, a prompt over `maxPromptChars` included), refuses it with `QUEUE_FULL` when `maxQueued`
   * jobs wait, and queues it under a random id. With `dedupe` the id is a hash of bundle, request and seed: an
   * identical request returns the existing job (a failed or cancelled one is replaced).
   */
  async submit(request: GenerationRequest): Promise<Submitted> {
    const queued = checkRequest(request, this.manifest, this.manifest.graphs.shortcut !== undefined, this.limits, this.#tokenizer);
    return this.#redis('queue a job', async () => {
      const jobId = this.dedupe ? requestJobId(this.bundleId, queued) : randomJobId();
      if (this.dedupe) {
        const existing = await this.#queue.getJob(jobId);
        const state = existing ? await existing.getState() : undefined;
        if (existing && state !== 'failed') return { id: jobId, seed: queued.seed, deduplicated: true };
        if (existing) await existing.remove();
        await this.#conn.del(cancelKey(this.queueName, jobId));
      }
      const counts = await this.#queue.getJobCounts(...WAITING_STATES);
      const waiting = WAITING_STATES.reduce((a, s) => a + (counts[s] ?? 0), 0);
      if (waiting >= this.#maxQueued) {
        throw new QueueError(
          'QUEUE_FULL',
          `Queue '${this.queueName}' is full: ${waiting} jobs wait and the limit is ${this.#maxQueued} (maxQueued); nothing was queued. Retry later or add workers.`,
          {
            details: { waiting, maxQueued: this.#maxQueued },
          },
        );
      }
      const job = await this.#queue.add(
        'generate',
        { request: queued, bundle: this.bundleId },
        {
          jobId,
          attempts: 1,
          removeOnComplete: { age: this.#ttl },
          removeOnFail: { age: this.#ttl },
        },
      );
      return { id: job.id!, seed: queued.seed, deduplicated: false };
    });
  }

  /**
   * The job's state and last progress. `NOT_FOUND` when no such job exists (or its result expired), and for
   * anything that is not a job id of this package (`JOB_ID_PATTERN`), which never reaches Redis.
   */
  async status(id: string): Promise<{ id: string; state: JobState; progress: JobProgress | null; cancelled: boolean; failedReason: string | null }> {
    this.#checkId(id);
    return this.#redis('read a job', async () => {
      const job = await this.#getJob(id);
      const cancelled = (await this.#conn.exists(cancelKey(this.queueName, id))) === 1;
      if (!job) {
        if (cancelled) return { id, state: 'failed', progress: null, cancelled, failedReason: '[CANCELLED] removed before it started' };
        throw new QueueError('NOT_FOUND', `No job ${id} in queue '${this.queueName}' (never submitted, or removed after its result's time to live).`, {
          details: { id },
        });
      }
      const progress = typeof job.progress === 'object' ? (job.progress as unknown as JobProgress) : null;
      return { id, state: (await job.getState()) as JobState, progress, cancelled, failedReason: job.failedReason ?? null };
    });
  }

  /**
   * Waits for a job's result: its PNG and metadata. Rejects with `CANCELLED` or `JOB_FAILED` when the job did
   * not finish, `NOT_FOUND`, `TIMEOUT` after `timeoutMs`, and `CONNECTION_LOST` when Redis goes away while
   * waiting (a result is only reported once Redis has it as completed).
   */
  result(id: string, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<JobResult> {
    return new Promise<JobResult>((resolve, reject) => {
      if (!isJobId(id)) return reject(this.#notFound(id));
      const signal = options.signal;
      if (signal?.aborted) return reject(signal.reason as Error);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const waiter = {
        resolve: (r: JobResult) => (done(), resolve(r)),
        reject: (e: Error) => (done(), reject(e)),
      };
      let set = this.#waiters.get(id);
      if (!set) this.#waiters.set(id, (set = new Set()));
      set.add(waiter);
      const leave = () => {
        set.delete(waiter);
        if (set.size === 0 && this.#waiters.get(id) === set) this.#waiters.delete(id);
      };
      // The caller went away (an HTTP client closed its stream): nothing of this wait is kept.
      const onAbort = () => {
        leave();
        done();
        reject(signal!.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      if (options.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          leave();
          done();
          reject(
            new QueueError('TIMEOUT', `Job ${id} did not finish within ${options.timeoutMs} ms; it may still finish (call result() again).`, {
              details: { id },
            }),
          );
        }, options.timeoutMs);
      }
      // Registered first, checked second: a job finishing in between is seen by one or the other.
      void this.#check(id).catch((e: Error) => this.#settle(id, e));
    });
  }

  /** Settles waiters of a finished job; leaves them waiting otherwise. */
  async #check(id: string): Promise<void> {
    const done = await this.#redis('read a job', async () => {
      // State first, then the job: read the other way round, a job finishing in between looks failed with no reason.
      const state = await this.#queue.getJobState(id);
      if (state !== 'completed' && state !== 'failed' && state !== 'unknown') return null;
      const job = (await this.#getJob(id)) as Job<JobData, StoredResult> | undefined;
      if (!job) {
        if ((await this.#conn.exists(cancelKey(this.queueName, id))) === 1) return decodeFailure(id, '[CANCELLED] removed before it started');
        return new QueueError('NOT_FOUND', `No job ${id} in queue '${this.queueName}' (never submitted, or removed after its result's time to live).`, {
          details: { id },
        });
      }
      return state === 'completed' ? toResult(id, job.returnvalue) : decodeFailure(id, job.failedReason);
    });
    if (done !== null) this.#settle(id, done);
  }

  #settle(id: string, outcome: JobResult | Error): void {
    const set = this.#waiters.get(id);
    if (!set) return;
    this.#waiters.delete(id);
    for (const w of set) {
      if (outcome instanceof Error) w.reject(outcome);
      else w.resolve(outcome);
    }
  }

  /** Waits in `result()` and progress listeners held right now, for monitoring (both fall to 0 when their callers leave). */
  pending(): { waiters: number; listeners: number } {
    let waiters = 0;
    let listeners = 0;
    for (const s of this.#waiters.values()) waiters += s.size;
    for (const s of this.#listeners.values()) listeners += s.size;
    return { waiters, listeners };
  }

  #notFound(id: string): QueueError {
    const shown = typeof id === 'string' ? JSON.stringify(id.slice(0, 80)) : typeof id;
    return new QueueError('NOT_FOUND', `No job ${shown} in queue '${this.queueName}': not a job id (ids are 'migm-' and 64 hex digits).`, {
      details: { id: shown },
    });
  }

  /** BullMQ's getJob, with a job whose stored JSON is broken (written past `submit`) reported as failed. */
  async #getJob(id: string): Promise<Job<JobData, StoredResult> | undefined> {
    try {
      return await this.#queue.getJob(id);
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
      throw new QueueError('JOB_FAILED', `Job ${id} failed (MALFORMED_JOB): its stored data is not valid JSON.`, { details: { id, cause: 'MALFORMED_JOB' } });
    }
  }

  #checkId(id: string): void {
    if (!isJobId(id)) throw this.#notFound(id);
  }

  /** Calls `listener` with each step a worker reports for the job; returns the function that stops it. */
  progress(id: string, listener: (progress: JobProgress) => void): () => void {
    let set = this.#listeners.get(id);
    if (!set) this.#listeners.set(id, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.#listeners.delete(id);
    };
  }

  /**
   * Cancels a job: a waiting one is removed, a running one stops at its call's next step (other jobs of the
   * call go on). Returns what happened; `'finished'` when it was already done (nothing changes).
   */
  async cancel(id: string): Promise<'removed' | 'signalled' | 'finished'> {
    this.#checkId(id);
    return this.#redis('cancel a job', async () => {
      const job = await this.#getJob(id);
      if (!job) throw new QueueError('NOT_FOUND', `No job ${id} in queue '${this.queueName}'.`, { details: { id } });
      const state = await job.getState();
      if (state === 'completed' || state === 'failed') return 'finished';
      // The mark comes first: a worker that takes the job from now on refuses it.
      await this.#conn.set(cancelKey(this.queueName, id), '1', 'EX', this.#ttl);
      if (state !== 'active') {
        const removed = await job.remove().then(
          () => true,
          () => false,
        ); // false: a worker locked it meanwhile
        if (removed) {
          this.#settle(id, decodeFailure(id, '[CANCELLED] removed before it started'));
          return 'removed';
        }
      }
      await this.#conn.publish(cancelChannel(this.queueName), id);
      return 'signalled';
    });
  }

  /** Jobs per state, for monitoring. */
  async counts(): Promise<Record<string, number>> {
    return this.#redis('count jobs', () => this.#queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized'));
  }

  /** Disconnects. Pending `result()` calls reject with CONNECTION_LOST. */
  async close(): Promise<void> {
    await this.#events.close().catch(() => {});
    await this.#queue.close().catch(() => {});
    this.#conn.disconnect();
    this.#eventsConn.disconnect();
  }
}

function toResult(id: string, stored: StoredResult): JobResult {
  return { ...stored, id, png: new Uint8Array(Buffer.from(stored.png, 'base64')) };
}

/**
 * Connects to Redis and returns a client for one bundle. Throws `CONNECTION_LOST` when Redis cannot be reached
 * within `connectTimeoutMs`.
 *
 * @example
 * const client = await createQueueClient({ redis: 'redis://127.0.0.1:6379', bundle: bundleDir() });
 * const { id } = await client.submit({ condition: 7, batch: 4, steps: 16, seed: 1 });
 * const stop = client.progress(id, (p) => console.log(`${p.step}/${p.steps}`));
 * const { png } = await client.result(id);
 * stop();
 * await client.close();
 */
export async function createQueueClient(options: QueueClientOptions): Promise<QueueClient> {
  resolveLimits(options.limits, 'createQueueClient'); // a bad limit is refused before anything connects
  const manifest = typeof options.bundle === 'string' ? await readManifest(options.bundle) : options.bundle;
  // Before anything connects: a text bundle's client checks prompts with the bundle's own tokenizer.
  const c = manifest.condition;
  const tokenizer = c.type !== 'text' ? undefined : (options.tokenizer ?? (await readTokenizer(options.bundle, manifest, c)));
  const url = options.redis;
  // No offline queue: with Redis gone a command fails at once instead of waiting for a reconnect that may not come.
  const conn = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: (n) => Math.min(100 * n, 2000) });
  const eventsConn = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: null, retryStrategy: (n) => Math.min(100 * n, 2000) });
  let lastError: Error | undefined;
  for (const c of [conn, eventsConn]) c.on('error', (e: Error) => void (lastError = e));
  const timeoutMs = options.connectTimeoutMs ?? 5000;
  try {
    await Promise.race([
      Promise.all([conn.connect(), eventsConn.connect()]),
      new Promise((_, reject) => setTimeout(() => reject(lastError ?? new Error(`no answer within ${timeoutMs} ms`)), timeoutMs).unref()),
    ]);
  } catch (err) {
    conn.disconnect();
    eventsConn.disconnect();
    throw new QueueError('CONNECTION_LOST', `Redis at ${redactUrl(url)} is unreachable: ${(err as Error).message}.`, { cause: err });
  }
  const queueName = options.queue ?? 'migm';
  const queue = new Queue<JobData, StoredResult>(queueName, { connection: conn });
  const events = new QueueEvents(queueName, { connection: eventsConn });
  queue.on('error', () => {}); // surfaced per call as CONNECTION_LOST
  events.on('error', () => {});
  await events.waitUntilReady();
  return new QueueClient({ manifest, queue, events, conn, eventsConn, url, options, tokenizer });
}

/** The largest tokenizer file read (CLIP's tokenizer.json is 3.6 MB). */
const MAX_TOKENIZER_BYTES = 64 * 1024 * 1024;

/**
 * A text bundle's tokenizer from its directory: `condition.tokenizer.file`, which must be the size and sha256
 * the manifest lists. `INVALID_CONFIG` when the bundle was given as a manifest without `tokenizer`.
 */
async function readTokenizer(bundle: string | Manifest, manifest: Manifest, c: TextCondition): Promise<PromptTokenizer> {
  if (typeof bundle !== 'string') {
    throw new QueueError(
      'INVALID_CONFIG',
      `createQueueClient: ${manifest.name} is conditioned on text, and prompts are checked with its tokenizer: give the bundle directory, or 'tokenizer' with the manifest.`,
    );
  }
  const entry = manifest.files.find((f) => f.path === c.tokenizer.file);
  const path = join(bundle, c.tokenizer.file);
  if (!entry) throw new MigmError('BUNDLE_MISMATCH', `The tokenizer file ${c.tokenizer.file} is not listed in the manifest's files.`, { details: { path } });
  let bytes: Buffer;
  try {
    const file = await open(path, 'r');
    try {
      const info = await file.stat();
      if (!info.isFile() || info.size !== entry.bytes || info.size > MAX_TOKENIZER_BYTES) {
        throw new MigmError('BUNDLE_MISMATCH', `${path} is not a regular file of the ${entry.bytes} bytes the manifest lists.`, { details: { path } });
      }
      bytes = await file.readFile();
    } finally {
      await file.close();
    }
  } catch (err) {
    if (err instanceof MigmError) throw err;
    throw new MigmError('BUNDLE_MISMATCH', `Cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`, { details: { path } });
  }
  if (createHash('sha256').update(bytes).digest('hex') !== entry.sha256) {
    throw new MigmError('BUNDLE_MISMATCH', `${path} does not match the sha256 the manifest lists.`, { details: { path } });
  }
  return tokenizerFor(c, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

/** The largest manifest.json read (the same bound as @migm/backend-node's readBundleDir). */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** Reads and validates `dir/manifest.json` only: a client needs the bundle's identity, not its weights. */
async function readManifest(dir: string): Promise<Manifest> {
  if (typeof dir !== 'string' || dir.length === 0 || dir.includes('\0')) {
    throw new MigmError(
      'INVALID_OPTION',
      `Invalid option 'bundle': got ${JSON.stringify(String(dir).slice(0, 80))}; a bundle directory or a manifest is allowed.`,
    );
  }
  const path = join(dir, 'manifest.json');
  let text: string;
  try {
    const file = await open(path, 'r');
    try {
      const info = await file.stat();
      if (!info.isFile() || info.size > MAX_MANIFEST_BYTES) {
        throw new MigmError('INVALID_MANIFEST', `${path} is not a regular file of at most ${MAX_MANIFEST_BYTES} bytes.`);
      }
      text = await file.readFile('utf8');
    } finally {
      await file.close();
    }
  } catch (err) {
    if (err instanceof MigmError) throw err;
    throw new MigmError('BUNDLE_MISMATCH', `Cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`, { details: { path } });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new MigmError('INVALID_MANIFEST', `${path} is not valid JSON.`);
  }
  return validateManifest(parsed);
}
