import { readFile } from 'node:fs/promises';
import { bundleDir } from '@migm/bundle-fashion-mnist';
import { intFlag, listFlag, parse } from '../args.js';
import { UsageError } from '../errors.js';
import { limitFlags, limitsFrom, queueFlag, queueFlags, redisFlag, stopSignal } from './queue-flags.js';

export const serveFlags = {
  ...queueFlags,
  ...limitFlags,
  port: { type: 'string' },
  host: { type: 'string' },
  'max-queued': { type: 'string' },
  'token-file': { type: 'string' },
  'allow-no-token': { type: 'boolean' },
  cors: { type: 'string' },
  'max-connections': { type: 'string' },
} as const;

/** True for addresses only this machine can reach. */
function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The access token: --token-file (first line) or MIGM_TOKEN; never a flag value, which `ps` would show. */
async function readToken(file: string | undefined): Promise<string | undefined> {
  let token = process.env['MIGM_TOKEN'];
  if (file !== undefined) {
    const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
      throw new UsageError(`--token-file: cannot read ${file} (${e.code ?? e.message})`);
    });
    token = text.split('\n')[0]!.trim();
  }
  if (token === undefined || token === '') return undefined;
  if (token.length < 16) throw new UsageError(`the access token must be at least 16 characters (e.g. \`openssl rand -hex 32\`), got ${token.length}`);
  return token;
}

/** `migm serve`: the HTTP front of the queue (POST /jobs, GET /jobs/:id/png, /jobs/:id/events) until SIGTERM. */
export async function serveCommand(argv: string[]): Promise<void> {
  const values = parse(argv, serveFlags);
  const redis = redisFlag(values.redis);
  const queue = queueFlag(values.queue);
  const port = intFlag('port', values.port, 8080, 0, 65535)!;
  const host = values.host ?? '127.0.0.1';
  if (!/^[A-Za-z0-9.:-]{1,253}$/.test(host)) throw new UsageError(`--host must be a host name or address, got '${host}'`);
  const maxQueued = intFlag('max-queued', values['max-queued'], 10_000, 1, 10_000_000)!;
  const maxConnections = intFlag('max-connections', values['max-connections'], 256, 1, 1_000_000)!;
  const allowedOrigins =
    listFlag('cors', values.cors, (o) => {
      if (!/^https?:\/\/[^\s/]+$/.test(o)) throw new UsageError(`--cors takes origins like https://app.example (scheme and host, no path), got '${o}'`);
      return o;
    }) ?? [];
  const limits = limitsFrom(values);
  const token = await readToken(values['token-file']);
  if (token === undefined && !isLoopback(host) && !values['allow-no-token']) {
    throw new UsageError(
      `--host ${host} is reachable from other machines and no access token is set: set MIGM_TOKEN or --token-file, or pass --allow-no-token if something in front of it checks callers (docs/queue.md)`,
    );
  }
  // The HTTP entry: no onnxruntime is loaded by a front that never runs the model.
  const { createQueueClient, createQueueServer } = await import('@migm/queue/http');
  const client = await createQueueClient({ redis, queue, bundle: values.bundle ?? bundleDir(), maxQueued, limits });
  try {
    const server = createQueueServer(client, {
      ...(token !== undefined ? { token } : {}),
      allowNoToken: values['allow-no-token'] === true,
      allowedOrigins,
      maxConnections,
    });
    try {
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, resolve));
      const address = server.address() as { port: number };
      console.log(
        `migm serve: http://${host.includes(':') ? `[${host}]` : host}:${address.port}/jobs (queue '${queue}'; ${token !== undefined ? 'token required' : 'NO token'}; CORS ${allowedOrigins.length > 0 ? allowedOrigins.join(', ') : 'off'}; POST a request, GET /jobs/ID/png, /jobs/ID/events)`,
      );
      await stopSignal();
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  } finally {
    await client.close();
  }
}
