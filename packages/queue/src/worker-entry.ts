/** `@migm/queue/worker`: the worker, the only entry that loads @migm/backend-node (onnxruntime). */
export { createQueueWorker, type JobData, type QueueWorker, type QueueWorkerOptions } from './worker.js';
export { isQueueError, QueueError, type QueueErrorCode } from './errors.js';
export { DEFAULT_LIMITS, MAX_IMAGES, type QueueLimits } from './limits.js';
