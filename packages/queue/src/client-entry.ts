/**
 * `@migm/queue/client`: submit, follow, read and cancel jobs. Loads no model runtime (no onnxruntime): the
 * bundle's manifest is all a client reads.
 */
export { createQueueClient, QueueClient, type JobState, type QueueClientOptions, type Submitted } from './client.js';
export { isQueueError, QueueError, type QueueErrorCode } from './errors.js';
export { isJobId, JOB_ID_PATTERN } from './keys.js';
export { checkLimits, checkRequest, DEFAULT_LIMITS, MAX_IMAGES, requestCost, type QueueLimits } from './limits.js';
export {
  bundleId,
  canonicalJson,
  compatibilityKey,
  requestJobId,
  validateRequest,
  REQUEST_KEYS,
  type GenerationRequest,
  type JobData,
  type QueuedRequest,
} from './request.js';
export type { JobProgress, JobResult, StoredResult } from './result.js';
