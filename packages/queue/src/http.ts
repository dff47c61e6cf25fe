import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isMigmError } from '@migm/core';
import type { QueueClient } from './client.js';
import { isQueueError, QueueError, type QueueErrorCode } from './errors.js';
import { JOB_ID_PATTERN } from './keys.js';

/** Options of `createQueueServer`. Every default is what `migm serve` uses. */
export interface QueueServerOptions {
  /**
   * The access token: every route but `GET /health` then needs `Authorization: Bearer <token>` (401
   * otherwise). At least 16 characters. Without one anybody who can reach the port may queue, read and cancel
   * jobs: without one the server closes itself with an `INVALID_CONFIG` error event if it listens on anything
   * but loopback (`server.listen(8080)` listens on every interface), unless `allowNoToken` is set.
   */
  readonly token?: string;
  /** Listen beyond loopback without a token: for a server behind something that checks callers itself. Default false. */
  readonly allowNoToken?: boolean;
  /**
   * Browser origins allowed to call the server (CORS), e.g. `['https://app.example']`. Default none: a
   * request with an `Origin` header not listed here gets 403, and no CORS header is ever sent, so no web page
   * can use the server from a visitor's browser.
   */
  readonly allowedOrigins?: readonly string[];
  /** Largest request body, bytes; larger ones get 413. Default 65536. */
  readonly maxBodyBytes?: number;
  /** Time for a client to send a request's headers, ms. Default 10000. */
  readonly headersTimeoutMs?: number;
  /** Time for a client to send a whole request, body included, ms. Default 30000. */
  readonly requestTimeoutMs?: number;
  /** A connection with nothing sent either way for this long is closed, ms (event streams send a comment every half of it). Default 30000. */
  readonly idleTimeoutMs?: number;
  /** Most open connections; more are refused at once. Keep it under the process's file-descriptor limit. Default 256. */
  readonly maxConnections?: number;
}

const STATUS: Record<QueueErrorCode, number> = {
  QUEUE_FULL: 429,
  CONNECTION_LOST: 503,
  NOT_FOUND: 404,
  CANCELLED: 410,
  JOB_FAILED: 500,
  TIMEOUT: 504,
  OVER_LIMIT: 400,
  INVALID_CONFIG: 500,
};

/** An HTTP refusal decided by the server itself (not by the queue). */
class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res
    .writeHead(status, {
      ...headers,
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    })
    .end(text);
}

function sendError(res: ServerResponse, err: unknown): void {
  if (err instanceof HttpError) send(res, err.status, { error: err.code, message: err.message }, err.headers);
  else if (isQueueError(err))
    send(res, STATUS[err.code], { error: err.code, message: err.message, ...(err.code === 'OVER_LIMIT' ? { details: err.details } : {}) });
  else if (isMigmError(err)) send(res, err.code === 'INVALID_OPTION' || err.code === 'UNSUPPORTED' ? 400 : 500, { error: err.code, message: err.message });
  // Anything else is a bug or Redis's own text: never echoed to a caller.
  else send(res, 500, { error: 'INTERNAL', message: 'internal error' });
}

function positiveInt(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 1)
    throw new QueueError('INVALID_CONFIG', `createQueueServer: '${name}' must be a positive integer, got ${String(value)}.`);
  return v;
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/**
 * Reads a JSON body of at most `max` bytes. Past the limit the answer is 413 at once; what the client still
 * sends is read and dropped (within the request timeout) so it receives the 413 instead of a broken pipe.
 */
async function readJson(req: IncomingMessage, max: number): Promise<unknown> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/json') {
    req.resume();
    throw new HttpError(
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      `POST /jobs takes Content-Type: application/json, got ${type === '' ? 'none' : JSON.stringify(type.slice(0, 80))}`,
    );
  }
  const tooLarge = () => new HttpError(413, 'PAYLOAD_TOO_LARGE', `the request body is over ${max} bytes`, { connection: 'close' });
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > max) {
    req.resume();
    throw tooLarge();
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) {
      req.resume();
      throw tooLarge();
    }
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'BAD_REQUEST', 'the request body is not JSON');
  }
}

const JOB_ROUTE = /^\/jobs\/([^/]{1,200})(\/png|\/events)?$/;

/**
 * A small HTTP front for a web app (not listening yet: call `.listen(port, host)`):
 * - `POST /jobs` with `Content-Type: application/json` -> 202 `{ id, seed, deduplicated }` and `Location:
 *   /jobs/<id>` (400 invalid or over a limit, 413 too large, 415 not JSON, 429 queue full, 503 Redis gone);
 * - `GET /jobs/:id` -> the job's state and last progress;
 * - `GET /jobs/:id/png` -> the PNG once done (202 with the state while not; 410 cancelled; 500 failed);
 * - `GET /jobs/:id/events` -> server-sent events, headers at once: `progress` per step, then `completed` or `failed`;
 * - `DELETE /jobs/:id` -> cancels it;
 * - `GET /health` -> 200 `{ status: 'ok' }` while Redis answers, 503 otherwise (no token needed).
 *
 * A job id is the capability to read and cancel that job: ids are random (the client's `dedupe` must be off)
 * and anything not shaped like one is 404 before Redis sees it. See docs/queue.md for the whole policy.
 *
 * @example
 * const client = await createQueueClient({ redis: 'redis://127.0.0.1:6379', bundle: bundleDir() });
 * const server = createQueueServer(client, { token: process.env.MIGM_TOKEN });
 * server.listen(8080, '127.0.0.1');
 */
export function createQueueServer(client: QueueClient, options: QueueServerOptions = {}): Server {
  if (client.dedupe) {
    throw new QueueError(
      'INVALID_CONFIG',
      "createQueueServer: the client has 'dedupe' on, so a job's id can be computed from its request and any caller could read or cancel another's job; give the server a client with dedupe off.",
    );
  }
  const token = options.token;
  if (token !== undefined && (typeof token !== 'string' || token.length < 16)) {
    throw new QueueError('INVALID_CONFIG', 'createQueueServer: the token must be a string of at least 16 characters.');
  }
  const origins = options.allowedOrigins ?? [];
  if (!Array.isArray(origins) || origins.some((o) => typeof o !== 'string' || !/^https?:\/\/[^\s/]+$/.test(o))) {
    throw new QueueError('INVALID_CONFIG', "createQueueServer: 'allowedOrigins' must be origins like 'https://app.example' (scheme and host, no path).");
  }
  const maxBody = positiveInt('maxBodyBytes', options.maxBodyBytes, 65536);
  const headersTimeout = positiveInt('headersTimeoutMs', options.headersTimeoutMs, 10_000);
  const requestTimeout = Math.max(headersTimeout, positiveInt('requestTimeoutMs', options.requestTimeoutMs, 30_000));
  const idleTimeout = positiveInt('idleTimeoutMs', options.idleTimeoutMs, 30_000);
  const maxConnections = positiveInt('maxConnections', options.maxConnections, 256);
  const expected = token === undefined ? undefined : digest(token);
  const ctx: Context = { client, expected, origins: new Set(origins), maxBody, heartbeatMs: Math.max(50, Math.floor(idleTimeout / 2)) };

  const server = createServer(
    {
      headersTimeout,
      requestTimeout,
      keepAliveTimeout: Math.min(5000, idleTimeout),
      // How often Node checks the two timeouts above (its default, 30 s, would let a slow client hold a socket that long).
      connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeout / 2))),
    },
    (req, res) => {
      void handle(ctx, req, res).catch((err: unknown) => {
        if (res.headersSent) res.end();
        else sendError(res, err);
      });
    },
  );
  server.maxConnections = maxConnections;
  if (token === undefined && options.allowNoToken !== true) {
    // Registered before listen()'s own callback, so a caller waiting for 'listening' sees the error instead.
    server.on('listening', () => {
      const address = server.address();
      const host = typeof address === 'object' && address !== null ? address.address : String(address);
      if (typeof address === 'string' || isLoopbackAddress(host)) return;
      server.close();
      server.emit(
        'error',
        new QueueError(
          'INVALID_CONFIG',
          `createQueueServer: listening on ${host} (reachable from other machines) without a token; give a token, listen on 127.0.0.1, or set allowNoToken.`,
        ),
      );
    });
  }
  // No 'timeout' listener: Node destroys a socket idle for this long (headers never sent, or a kept-alive one).
  server.setTimeout(idleTimeout);
  return server;
}

/** True for addresses only this machine can reach (a Unix socket path counts: it is local). */
export function isLoopbackAddress(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^(::ffff:)?127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

interface Context {
  readonly client: QueueClient;
  readonly expected: Buffer | undefined;
  readonly origins: ReadonlySet<string>;
  readonly maxBody: number;
  readonly heartbeatMs: number;
}

/** The CORS headers for an allowed origin; 403 for any other browser origin. */
function corsHeaders(ctx: Context, req: IncomingMessage): Record<string, string> {
  const origin = req.headers.origin;
  if (origin === undefined) return {};
  if (!ctx.origins.has(origin))
    throw new HttpError(403, 'ORIGIN_NOT_ALLOWED', `origin ${JSON.stringify(origin.slice(0, 100))} is not allowed (allowedOrigins)`);
  return { 'access-control-allow-origin': origin, vary: 'Origin' };
}

function checkToken(ctx: Context, req: IncomingMessage): void {
  if (ctx.expected === undefined) return;
  const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
  // Compare digests: equal length whatever was sent, and no early exit on the first wrong byte.
  if (!m || !timingSafeEqual(digest(m[1]!), ctx.expected)) {
    throw new HttpError(401, 'UNAUTHORIZED', 'a valid access token is required (Authorization: Bearer <token>)', { 'www-authenticate': 'Bearer' });
  }
}

function allow(method: string | undefined, allowed: string, what: string): void {
  if (!allowed.split(', ').includes(method ?? '')) {
    throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${what} allows ${allowed}`, { allow: allowed });
  }
}

async function handle(ctx: Context, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { client } = ctx;
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname;
  if (path === '/health') {
    allow(req.method, 'GET, HEAD', '/health');
    const counts = await client.counts().catch(() => null);
    return send(res, counts ? 200 : 503, { status: counts ? 'ok' : 'redis unreachable' });
  }
  const cors = corsHeaders(ctx, req);
  if (req.method === 'OPTIONS') {
    // A preflight: answered for allowed origins only (others got 403 above), without the token (browsers send none).
    if (req.headers.origin === undefined) throw new HttpError(405, 'METHOD_NOT_ALLOWED', 'OPTIONS is for CORS preflights', { allow: 'GET, POST, DELETE' });
    res.writeHead(204, {
      ...cors,
      'access-control-allow-methods': 'GET, POST, DELETE',
      'access-control-allow-headers': 'authorization, content-type',
      'access-control-max-age': '600',
    });
    return void res.end();
  }
  try {
    checkToken(ctx, req);
    if (path === '/jobs') {
      allow(req.method, 'POST', '/jobs');
      const submitted = await client.submit((await readJson(req, ctx.maxBody)) as never);
      return send(res, 202, submitted, { ...cors, location: `/jobs/${submitted.id}` });
    }
    const m = JOB_ROUTE.exec(path);
    // Anything not shaped like a job id is unknown here: it never becomes a Redis key.
    if (!m || !JOB_ID_PATTERN.test(m[1]!)) throw new HttpError(404, 'NOT_FOUND', 'no such job or route');
    const [, id, sub] = m as unknown as [string, string, string | undefined];
    if (sub === undefined) {
      allow(req.method, 'GET, DELETE', '/jobs/ID');
      if (req.method === 'DELETE') return send(res, 200, { id, cancel: await client.cancel(id) }, cors);
      return send(res, 200, await client.status(id), cors);
    }
    allow(req.method, 'GET', `/jobs/ID${sub}`);
    if (sub === '/png') {
      const status = await client.status(id);
      if (status.state !== 'completed' && status.state !== 'failed') return send(res, 202, status, cors);
      const result = await client.result(id);
      res
        .writeHead(200, {
          ...cors,
          'content-type': 'image/png',
          'content-length': result.png.length,
          'x-migm-seed': String(result.seed),
          'x-content-type-options': 'nosniff',
        })
        .end(result.png);
      return;
    }
    await events(ctx, id, res, cors);
  } catch (err) {
    if (res.headersSent) throw err;
    // Errors carry the CORS headers too, so an allowed page can read why it was refused.
    if (err instanceof HttpError) throw new HttpError(err.status, err.code, err.message, { ...cors, ...err.headers });
    if (Object.keys(cors).length > 0) {
      res.setHeader('access-control-allow-origin', cors['access-control-allow-origin']!);
      res.setHeader('vary', 'Origin');
    }
    throw err;
  }
}

/** Server-sent events for one job: headers at once, a comment heartbeat, and nothing kept once the client leaves. */
async function events(ctx: Context, id: string, res: ServerResponse, cors: Record<string, string>): Promise<void> {
  const { client } = ctx;
  // Listened for first: a client gone while the status is read must not leave a wait behind.
  const left = new AbortController();
  res.on('close', () => left.abort(new QueueError('TIMEOUT', 'the client closed the stream')));
  await client.status(id); // 404 before the stream opens
  if (left.signal.aborted) return;
  // Subscribe before asking for the result, so no step is missed in between.
  const stop = client.progress(id, (p) => event('progress', p));
  res.writeHead(200, { ...cors, 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no' });
  res.flushHeaders();
  const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), ctx.heartbeatMs);
  function event(name: string, data: unknown): void {
    if (!res.writableEnded) res.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
  }
  try {
    const r = await client.result(id, { signal: left.signal });
    event('completed', { id, seed: r.seed, width: r.width, height: r.height, latencyMs: r.latencyMs, png: `/jobs/${id}/png` });
  } catch (err) {
    if (!left.signal.aborted) event('failed', { id, error: (err as { code?: string }).code ?? 'INTERNAL', message: (err as Error).message });
  } finally {
    clearInterval(heartbeat);
    stop();
    res.end();
  }
}
