// Issue 27, findings 2 and 5: the HTTP front on a real redis-server. No worker runs here: every job stays
// waiting, which is what an attacker's probe sees too (and keeps event streams open as long as we like).
import { request as httpRequest, type Server } from 'node:http';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { bundleDir } from '@migm/bundle-fashion-mnist';
import {
  createQueueClient,
  createQueueServer,
  isLoopbackAddress,
  isQueueError,
  requestJobId,
  type QueueClient,
  type QueueServerOptions,
} from '../src/http-entry.js';
import { RedisServer } from './redis.js';
import { closedWithin, rawSocket } from './raw-socket.js';

const TOKEN = 'test-token-0123456789abcdef';
const redis = new RedisServer();
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  await redis.start();
});
afterAll(async () => {
  for (const close of closers.reverse()) await close().catch(() => {});
  await redis.stop();
});

async function front(queue: string, options: QueueServerOptions = {}): Promise<{ base: string; client: QueueClient; server: Server }> {
  const client = await createQueueClient({ redis: redis.url, queue, bundle: bundleDir() });
  const server = createQueueServer(client, { token: TOKEN, ...options });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await client.close();
  });
  return { base: `http://127.0.0.1:${(server.address() as { port: number }).port}`, client, server };
}

const auth = { authorization: `Bearer ${TOKEN}` };
const json = { ...auth, 'content-type': 'application/json' };
const REQUEST = { condition: 3, batch: 1, steps: 4, seed: 9 };

async function post(base: string, body: unknown = REQUEST): Promise<Response> {
  return fetch(`${base}/jobs`, { method: 'POST', headers: json, body: JSON.stringify(body) });
}

describe('HTTP front: who may call what', () => {
  it('without a token, only loopback: isLoopbackAddress is what the listening check uses', async () => {
    for (const a of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', 'localhost']) expect(isLoopbackAddress(a), a).toBe(true);
    for (const a of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', '::ffff:10.0.0.1', '128.0.0.1', 'example.com']) expect(isLoopbackAddress(a), a).toBe(false);
    const client = await createQueueClient({ redis: redis.url, queue: 'no-token', bundle: bundleDir() });
    closers.push(() => client.close());
    const server = createQueueServer(client);
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
    expect(server.listening).toBe(true);
    await new Promise((r) => server.close(r));
    // Every interface without a token: the server closes itself and says why, before serving anyone.
    const open = createQueueServer(client);
    const refused = await new Promise<unknown>((resolve) => open.once('error', resolve).listen(0, '0.0.0.0'));
    expect(isQueueError(refused, 'INVALID_CONFIG'), String(refused)).toBe(true);
    expect((refused as Error).message).toMatch(/listening on 0\.0\.0\.0 .*without a token/);
    await new Promise((r) => setImmediate(r));
    expect(open.listening).toBe(false);
    // ...unless told explicitly.
    const allowed = createQueueServer(client, { allowNoToken: true });
    await new Promise<void>((resolve, reject) => allowed.once('error', reject).listen(0, '0.0.0.0', resolve));
    expect(allowed.listening).toBe(true);
    await new Promise((r) => allowed.close(r));
    expect(() => createQueueServer(client, { token: 'short' })).toThrow(/at least 16 characters/);
    const deduping = await createQueueClient({ redis: redis.url, queue: 'no-token', bundle: bundleDir(), dedupe: true });
    closers.push(() => deduping.close());
    expect(() => createQueueServer(deduping)).toThrow(/dedupe/);
  });

  it('refuses callers without the token (401), but /health answers anyone', async () => {
    const { base } = await front('auth');
    const none = await fetch(`${base}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(REQUEST) });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    const wrong = await fetch(`${base}/jobs`, { method: 'POST', headers: { ...json, authorization: 'Bearer not-the-token-at-all' }, body: '{}' });
    expect(wrong.status).toBe(401);
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    expect(health.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await health.json()).toEqual({ status: 'ok' });
  });

  it('ids are random: a guessed id (the request hash, a neighbour) reads and cancels nothing; the owner finishes', async () => {
    const { base, client } = await front('ids');
    const mine = await post(base);
    expect(mine.status).toBe(202);
    const { id } = (await mine.json()) as { id: string };
    expect(mine.headers.get('location')).toBe(`/jobs/${id}`);
    // Another caller sends the very same request: it gets a job of its own, not a handle on mine.
    const theirs = (await (await post(base)).json()) as { id: string; deduplicated: boolean };
    expect(theirs.id).not.toBe(id);
    expect(theirs.deduplicated).toBe(false);
    // What the old ids were (a hash of bundle and request) and a near miss of the real id: both unknown.
    const guesses = [requestJobId(client.bundleId, REQUEST), `${id.slice(0, -1)}${id.endsWith('0') ? '1' : '0'}`];
    for (const guess of guesses) {
      expect((await fetch(`${base}/jobs/${guess}`, { headers: auth })).status).toBe(404);
      expect((await fetch(`${base}/jobs/${guess}`, { method: 'DELETE', headers: auth })).status).toBe(404);
    }
    expect(((await (await fetch(`${base}/jobs/${id}`, { headers: auth })).json()) as { state: string }).state).toBe('waiting');
    // The owner cancels with its id.
    expect(((await (await fetch(`${base}/jobs/${id}`, { method: 'DELETE', headers: auth })).json()) as { cancel: string }).cancel).toBe('removed');
  });

  it("POST takes JSON only (415 for text/plain, the no-preflight type any web page may send); 405 names what's allowed", async () => {
    const { base, client } = await front('types');
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const r = await fetch(`${base}/jobs`, { method: 'POST', headers: { ...auth, 'content-type': type }, body: JSON.stringify(REQUEST) });
      expect(r.status, type).toBe(415);
      expect(((await r.json()) as { error: string }).error).toBe('UNSUPPORTED_MEDIA_TYPE');
    }
    expect((await client.counts())['waiting']).toBe(0);
    const put = await fetch(`${base}/jobs`, { method: 'PUT', headers: auth });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('POST');
    const id = `migm-${'a'.repeat(64)}`;
    const patch = await fetch(`${base}/jobs/${id}`, { method: 'PATCH', headers: auth });
    expect(patch.headers.get('allow')).toBe('GET, DELETE');
    expect((await fetch(`${base}/jobs/${id}/png`, { method: 'DELETE', headers: auth })).headers.get('allow')).toBe('GET');
  });

  it("DELETE /jobs/meta and other BullMQ key names are 404 and never reach Redis: a paused queue's settings stay", async () => {
    const { base } = await front('keys');
    const conn = new Redis(redis.url, { maxRetriesPerRequest: null });
    const queue = new Queue('keys', { connection: conn });
    closers.push(async () => {
      await queue.close();
      conn.disconnect();
    });
    await queue.pause();
    await queue.setGlobalConcurrency(3);
    const before = await conn.hgetall('bull:keys:meta');
    for (const name of ['meta', 'id', 'events', 'wait', 'paused', 'stalled-check', 'migm-cancel']) {
      for (const method of ['GET', 'DELETE']) {
        const r = await fetch(`${base}/jobs/${name}`, { method, headers: auth });
        expect(r.status, `${method} /jobs/${name}`).toBe(404);
        expect(await r.text()).not.toMatch(/WRONGTYPE|ERR/);
      }
    }
    expect(await conn.hgetall('bull:keys:meta')).toEqual(before);
    expect(await queue.isPaused()).toBe(true);
    expect(await queue.getGlobalConcurrency()).toBe(3);
  });

  it('CORS is off by default (a browser origin gets 403); listed origins get their headers and a preflight answer', async () => {
    const closed = await front('cors-off');
    const denied = await fetch(`${closed.base}/jobs`, { method: 'POST', headers: { ...json, origin: 'https://evil.example' }, body: JSON.stringify(REQUEST) });
    expect(denied.status).toBe(403);
    expect(denied.headers.get('access-control-allow-origin')).toBeNull();
    expect((await closed.client.counts())['waiting']).toBe(0);

    const open = await front('cors-on', { allowedOrigins: ['https://app.example'] });
    const pre = await fetch(`${open.base}/jobs`, {
      method: 'OPTIONS',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(pre.headers.get('access-control-allow-headers')).toMatch(/authorization/);
    const ok = await fetch(`${open.base}/jobs`, { method: 'POST', headers: { ...json, origin: 'https://app.example' }, body: JSON.stringify(REQUEST) });
    expect(ok.status).toBe(202);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect((await fetch(`${open.base}/jobs`, { method: 'OPTIONS', headers: { origin: 'https://other.example' } })).status).toBe(403);
  });
});

/** A raw HTTP/1.1 request with a body of `bytes` bytes, written in 1 MiB chunks; resolves with the status the server sent. */
function bigPost(base: string, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}/jobs`, { method: 'POST', headers: { ...json, 'content-length': bytes } }, (res) => {
      res.resume();
      resolve(res.statusCode!);
      // The answer is in: stop sending, or the rest of the body keeps this process busy into the next tests.
      res.on('end', () => req.destroy());
    });
    req.on('error', reject);
    const chunk = Buffer.alloc(1024 * 1024, 0x20);
    let sent = 0;
    const write = () => {
      while (sent < bytes) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', write);
      }
      req.end();
    };
    write();
  });
}

describe('HTTP front: connections', () => {
  it('a 50 MB body gets 413 (not a broken pipe), a small one still works after', async () => {
    const { base, client } = await front('big');
    expect(await bigPost(base, 50 * 1024 * 1024)).toBe(413);
    expect((await client.counts())['waiting']).toBe(0);
    expect((await post(base)).status).toBe(202);
  });

  it('a connection cap: past maxConnections a socket is dropped at once; service resumes when sockets go', async () => {
    const { base, server } = await front('cap', { maxConnections: 20, idleTimeoutMs: 60_000 });
    const held = await Promise.all(Array.from({ length: 20 }, () => rawSocket(Number(new URL(base).port))));
    await new Promise((r) => setTimeout(r, 100));
    const extra = await rawSocket(Number(new URL(base).port));
    expect(await closedWithin(extra, 2000)).toBe(true);
    for (const s of held) s.destroy();
    await new Promise<void>((resolve) => {
      const poll = () => server.getConnections((_e, n) => (n === 0 ? resolve() : setTimeout(poll, 20)));
      poll();
    });
    expect((await fetch(`${base}/health`)).status).toBe(200);
  });

  it('event streams send headers at once; 500 streams closed early leave no waiter, listener or connection, and memory flat', async () => {
    // The server's idle timeout is longer than undici's own keep-alive (4 s), so the client closes its pooled sockets
    // first: a server closing a socket just as undici reuses it ("other side closed") was a race under load.
    const { base, client, server } = await front('streams', { idleTimeoutMs: 10_000 });
    const { id } = (await (await post(base)).json()) as { id: string };
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const open = async () => {
      const ac = new AbortController();
      const r = await fetch(`${base}/jobs/${id}/events`, { headers: auth, signal: ac.signal });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('text/event-stream');
      ac.abort();
      await r.body?.cancel().catch(() => {});
    };
    // Warm-up (lazy module loads, undici's pools), then the measured 500, 25 at a time.
    for (let i = 0; i < 25; i++) await open();
    const settle = async () => {
      for (let i = 0; i < 1000; i++) {
        const n = await new Promise<number>((r) => server.getConnections((_e, c) => r(c)));
        if (n === 0 && client.pending().waiters === 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      gc();
      return process.memoryUsage().heapUsed;
    };
    const before = await settle();
    for (let round = 0; round < 20; round++) await Promise.all(Array.from({ length: 25 }, open));
    const after = await settle();
    expect(client.pending()).toEqual({ waiters: 0, listeners: 0 });
    expect(await new Promise<number>((r) => server.getConnections((_e, c) => r(c)))).toBe(0);
    // Before the fix each closed stream kept ~7 KB until its job ended: 500 of them, 3.5 MB.
    expect(after - before).toBeLessThan(1.5 * 1024 * 1024);
  });
});
