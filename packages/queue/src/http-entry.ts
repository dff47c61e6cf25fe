/** `@migm/queue/http`: the HTTP front and the client it serves. Loads no model runtime (no onnxruntime). */
export * from './client-entry.js';
export { createQueueServer, isLoopbackAddress, type QueueServerOptions } from './http.js';
