/**
 * @migm/queue: migm as a service on BullMQ and Redis. `createQueueClient` validates and queues requests and
 * waits for their PNGs; `createQueueWorker` runs them, merging compatible jobs into one `generate()` call;
 * `createQueueServer` is a small HTTP front. See docs/queue.md for running many machines against one Redis.
 */
export { createQueueClient, QueueClient, type JobState, type QueueClientOptions, type Submitted } from './client.js';
export { createQueueWorker, type JobData, type QueueWorker, type QueueWorkerOptions } from './worker.js';
export { createQueueServer, type QueueServerOptions } from './http.js';
export { isQueueError, QueueError, type QueueErrorCode } from './errors.js';
export {
  bundleId,
  canonicalJson,
  compatibilityKey,
  requestJobId,
  validateRequest,
  REQUEST_KEYS,
  type GenerationRequest,
  type QueuedRequest,
} from './request.js';
export type { JobProgress, JobResult, StoredResult } from './result.js';
