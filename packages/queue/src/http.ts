import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isMigmError } from '@migm/core';
import type { QueueClient } from './client.js';
import { isQueueError, type QueueErrorCode } from './errors.js';

/** Options of `createQueueServer`. */
export interface QueueServerOptions {
  /** Largest request body, bytes. Default 65536. */
  readonly maxBodyBytes?: number;
}

const STATUS: Record<QueueErrorCode, number> = { QUEUE_FULL: 429, CONNECTION_LOST: 503, NOT_FOUND: 404, CANCELLED: 410, JOB_FAILED: 500, TIMEOUT: 504 };

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function sendError(res: ServerResponse, err: unknown): void {
  if (isQueueError(err)) send(res, STATUS[err.code], { error: err.code, message: err.message });
  else if (isMigmError(err)) send(res, err.code === 'INVALID_OPTION' || err.code === 'UNSUPPORTED' ? 400 : 500, { error: err.code, message: err.message });
  else send(res, 500, { error: 'INTERNAL', message: (err as Error).message });
}

async function readJson(req: IncomingMessage, max: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw Object.assign(new Error(`request body over ${max} bytes`), { status: 413 });
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw Object.assign(new Error('request body is not JSON'), { status: 400 });
  }
}

/**
 * A small HTTP front for a web app (not listening yet: call `.listen(port)`):
 * - `POST /jobs` with a JSON request -> 202 `{ id, seed, deduplicated }` (400 invalid, 429 queue full, 503 Redis gone);
 * - `GET /jobs/:id` -> the job's state and last progress;
 * - `GET /jobs/:id/png` -> the PNG once done (202 with the state while not; 410 cancelled; 500 failed);
 * - `GET /jobs/:id/events` -> server-sent events: `progress` per step, then `completed` or `failed`;
 * - `DELETE /jobs/:id` -> cancels it.
 */
export function createQueueServer(client: QueueClient, options: QueueServerOptions = {}): Server {
  const maxBody = options.maxBodyBytes ?? 65536;
  return createServer((req, res) => {
    void handle(client, req, res, maxBody).catch((err: unknown) => {
      if (res.headersSent) res.end();
      else if (typeof (err as { status?: unknown }).status === 'number')
        send(res, (err as { status: number }).status, { error: 'BAD_REQUEST', message: (err as Error).message });
      else sendError(res, err);
    });
  });
}

async function handle(client: QueueClient, req: IncomingMessage, res: ServerResponse, maxBody: number): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const m = /^\/jobs(?:\/([A-Za-z0-9_-]{1,128})(\/png|\/events)?)?$/.exec(url.pathname);
  if (!m) return send(res, 404, { error: 'NOT_FOUND', message: `no route ${url.pathname}` });
  const [, id, sub] = m;
  if (id === undefined) {
    if (req.method !== 'POST') return send(res, 405, { error: 'METHOD', message: 'POST /jobs with a JSON request' });
    return send(res, 202, await client.submit((await readJson(req, maxBody)) as never));
  }
  if (req.method === 'DELETE' && sub === undefined) return send(res, 200, { id, cancel: await client.cancel(id) });
  if (req.method !== 'GET') return send(res, 405, { error: 'METHOD', message: `GET or DELETE /jobs/${id}` });
  if (sub === undefined) return send(res, 200, await client.status(id));
  if (sub === '/png') {
    const status = await client.status(id);
    if (status.state !== 'completed' && status.state !== 'failed') return send(res, 202, status);
    const result = await client.result(id);
    res.writeHead(200, { 'content-type': 'image/png', 'content-length': result.png.length, 'x-migm-seed': String(result.seed) }).end(result.png);
    return;
  }
  // Server-sent events: subscribe before asking for the result, so no step is missed in between.
  await client.status(id);
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  const event = (name: string, data: unknown) => res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
  const stop = client.progress(id, (p) => event('progress', p));
  res.on('close', stop);
  try {
    const r = await client.result(id);
    event('completed', { id, seed: r.seed, width: r.width, height: r.height, latencyMs: r.latencyMs, png: `/jobs/${id}/png` });
  } catch (err) {
    event('failed', { id, error: (err as { code?: string }).code ?? 'INTERNAL', message: (err as Error).message });
  } finally {
    stop();
    res.end();
  }
}
