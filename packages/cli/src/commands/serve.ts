import { bundleDir } from '@migm/bundle-fashion-mnist';
import { intFlag, parse } from '../args.js';
import { UsageError } from '../errors.js';
import { queueFlag, queueFlags, redisFlag, stopSignal } from './queue-flags.js';

export const serveFlags = {
  ...queueFlags,
  port: { type: 'string' },
  host: { type: 'string' },
  'max-queued': { type: 'string' },
} as const;

/** `migm serve`: the HTTP front of the queue (POST /jobs, GET /jobs/:id/png, /jobs/:id/events) until SIGTERM. */
export async function serveCommand(argv: string[]): Promise<void> {
  const values = parse(argv, serveFlags);
  const redis = redisFlag(values.redis);
  const queue = queueFlag(values.queue);
  const port = intFlag('port', values.port, 8080, 0, 65535)!;
  const host = values.host ?? '127.0.0.1';
  if (!/^[A-Za-z0-9.:-]{1,253}$/.test(host)) throw new UsageError(`--host must be a host name or address, got '${host}'`);
  const maxQueued = intFlag('max-queued', values['max-queued'], 10_000, 1, 10_000_000)!;
  const { createQueueClient, createQueueServer } = await import('@migm/queue');
  const client = await createQueueClient({ redis, queue, bundle: values.bundle ?? bundleDir(), maxQueued });
  const server = createQueueServer(client);
  try {
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
    const address = server.address() as { port: number };
    console.log(
      `migm serve: http://${host.includes(':') ? `[${host}]` : host}:${address.port}/jobs (queue '${queue}'; POST a request, GET /jobs/ID/png, /jobs/ID/events)`,
    );
    await stopSignal();
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await client.close();
  }
}
