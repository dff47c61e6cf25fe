/**
 * @migm/queue: migm as a service on BullMQ and Redis. `createQueueClient` validates and queues requests and
 * waits for their PNGs; `createQueueWorker` runs them, merging compatible jobs into one `generate()` call;
 * `createQueueServer` is a small HTTP front. See docs/queue.md for running many machines against one Redis.
 *
 * This entry holds all three, so it loads the worker's onnxruntime too. A client or an HTTP front should import
 * `@migm/queue/client` or `@migm/queue/http`, which load no model runtime; `@migm/queue/worker` is the worker.
 */
export * from './client-entry.js';
export { createQueueServer, isLoopbackAddress, type QueueServerOptions } from './http.js';
export { createQueueWorker, type QueueWorker, type QueueWorkerOptions } from './worker.js';
