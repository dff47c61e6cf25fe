import { intFlag, parse } from '../args.js';
import { backendFlags, loadBackend } from '../common.js';
import { plural } from '../output.js';
import { limitFlags, limitsFrom, queueFlag, queueFlags, redisFlag, stopSignal } from './queue-flags.js';

export const workerFlags = {
  ...backendFlags,
  ...queueFlags,
  ...limitFlags,
  batch: { type: 'string' },
  concurrency: { type: 'string' },
  'wait-ms': { type: 'string' },
  quiet: { type: 'boolean' },
} as const;

/** `migm worker`: runs queued jobs until SIGTERM or Ctrl-C, then finishes the jobs it holds and exits. */
export async function workerCommand(argv: string[]): Promise<void> {
  const values = parse(argv, workerFlags);
  const redis = redisFlag(values.redis);
  const queue = queueFlag(values.queue);
  const batch = intFlag('batch', values.batch, 16, 1, 4096)!;
  const concurrency = intFlag('concurrency', values.concurrency, 1, 1, 64)!;
  const batchWaitMs = intFlag('wait-ms', values['wait-ms'], 20, 0, 60_000)!;
  const limits = limitsFrom(values);
  // Loaded lazily: bullmq and ioredis are only needed by the queue commands.
  const { createQueueWorker } = await import('@migm/queue/worker');
  const backend = await loadBackend(values);
  try {
    const worker = await createQueueWorker({
      redis,
      queue,
      backend,
      batch,
      concurrency,
      batchWaitMs,
      limits,
      onError: (e) => console.error(`migm worker: ${e.message}`),
      ...(values.quiet
        ? {}
        : { onCall: (c: { jobs: number; images: number; ms: number }) => console.log(`${plural(c.jobs, 'job')}, ${plural(c.images, 'image')} in ${c.ms} ms`) }),
    });
    console.log(
      `migm worker ${worker.id}: ${backend.manifest.name} on ${backend.device}, queue '${queue}', batch ${batch}, concurrency ${concurrency}; SIGTERM or Ctrl-C finishes the jobs it holds and exits`,
    );
    const signal = await stopSignal();
    console.log(`migm worker: ${signal}, finishing held jobs`);
    await worker.close();
  } finally {
    await backend.dispose();
  }
}
