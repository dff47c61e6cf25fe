// fetchBundle against real HTTP servers on 127.0.0.1: each network failure gives a typed error
// (BUNDLE_MISMATCH with details.reason, or ABORTED), and nothing waits for the platform's own timeouts.
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '@migm/core';
import { testManifest } from '@migm/core/testing';
import { fetchBundle, type FetchFailure } from '../src/index.js';
import { cacheKey, readCachedFile, writeCachedFile } from '../src/bundle-cache.js';
import { MemoryCache } from './memory-cache.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const FILES: Record<string, Uint8Array> = {
  'base.onnx': new Uint8Array(200_000).map((_, i) => (i * 7) % 251),
  'head.onnx': new TextEncoder().encode('head'),
  'decoder.onnx': new TextEncoder().encode('decoder!'),
  'shortcut.onnx': new TextEncoder().encode('sc'),
};
const manifest = JSON.parse(JSON.stringify(testManifest())) as Manifest;
manifest.files = manifest.files.map((f) => ({ path: f.path, bytes: FILES[f.path]!.length, sha256: sha(FILES[f.path]!) })) as Manifest['files'];
manifest.graphs.shortcut!.compatibility.baseSha256 = manifest.files[0]!.sha256;

type Handler = (req: IncomingMessage, res: ServerResponse, path: string) => boolean | void;

/** A bundle server whose behaviour per request a test can override; it logs every path requested. */
async function startServer(): Promise<{ url: string; origin: string; log: string[]; handle: (h: Handler | undefined) => void; close: () => Promise<void> }> {
  let handler: Handler | undefined;
  const log: string[] = [];
  const open = new Set<ServerResponse>();
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    log.push(path);
    open.add(res);
    res.on('close', () => open.delete(res));
    if (handler?.(req, res, path)) return;
    const name = path.replace(/^\/m\//, '');
    const body = name === 'manifest.json' ? new TextEncoder().encode(JSON.stringify(manifest)) : FILES[name];
    if (!body) res.writeHead(404).end();
    else res.writeHead(200, { 'content-length': body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${origin}/m/`,
    origin,
    log,
    handle: (h) => (handler = h),
    close: () => {
      for (const res of open) res.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

let a: Awaited<ReturnType<typeof startServer>>;
let b: Awaited<ReturnType<typeof startServer>>;
beforeAll(async () => {
  a = await startServer();
  b = await startServer();
});
afterAll(async () => {
  await a.close();
  await b.close();
});

async function failure(p: Promise<unknown>): Promise<{ code: string; reason: FetchFailure | undefined; message: string }> {
  const err = (await p.then(
    () => undefined,
    (e: unknown) => e,
  )) as { code: string; message: string; details?: { reason?: FetchFailure } } | undefined;
  expect(err, 'the load should have failed').toBeDefined();
  return { code: err!.code, reason: err!.details?.reason, message: err!.message };
}

describe('fetchBundle over HTTP', () => {
  it('loads a bundle from a real server', async () => {
    a.handle(undefined);
    const bundle = await fetchBundle(a.url, { cache: false });
    expect(bundle.files.get('base.onnx')).toEqual(FILES['base.onnx']);
  });

  it('a body cut short (Content-Length larger than what is sent, then the connection closes) is truncated', async () => {
    a.handle((_req, res, path) => {
      if (path !== '/m/base.onnx') return false;
      res.writeHead(200, { 'content-length': FILES['base.onnx']!.length });
      res.write(FILES['base.onnx']!.subarray(0, 50_000), () => res.destroy());
      return true;
    });
    const f = await failure(fetchBundle(a.url, { cache: false }));
    expect(f).toMatchObject({ code: 'BUNDLE_MISMATCH', reason: 'truncated' });
    expect(f.message).toMatch(/base\.onnx was cut short/);
  });

  it('a body that ends cleanly before the manifest size (no Content-Length) is truncated', async () => {
    a.handle((_req, res, path) => {
      if (path !== '/m/base.onnx') return false;
      res.writeHead(200).end(FILES['base.onnx']!.subarray(0, 1000));
      return true;
    });
    const f = await failure(fetchBundle(a.url, { cache: false }));
    expect(f).toMatchObject({ code: 'BUNDLE_MISMATCH', reason: 'truncated' });
    expect(f.message).toMatch(/ended after 1000 of 200000 bytes/);
  });

  it('a server that stalls mid-body, or never answers, is stopped after idleTimeoutMs', async () => {
    a.handle((_req, res, path) => {
      if (path !== '/m/base.onnx') return false;
      res.writeHead(200, { 'content-length': FILES['base.onnx']!.length });
      res.write(FILES['base.onnx']!.subarray(0, 1000)); // then nothing, connection left open
      return true;
    });
    const t0 = Date.now();
    const f = await failure(fetchBundle(a.url, { cache: false, idleTimeoutMs: 300 }));
    expect(f).toMatchObject({ code: 'BUNDLE_MISMATCH', reason: 'stalled' });
    expect(f.message).toMatch(/no data for 0\.3 s/);
    a.handle((_req, _res, path) => path === '/m/manifest.json'); // no response at all
    const g = await failure(fetchBundle(a.url, { cache: false, idleTimeoutMs: 300 }));
    expect(g).toMatchObject({ code: 'BUNDLE_MISMATCH', reason: 'stalled' });
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it("the caller's abort mid-body is ABORTED", async () => {
    const ctl = new AbortController();
    a.handle((_req, res, path) => {
      if (path !== '/m/base.onnx') return false;
      res.writeHead(200, { 'content-length': FILES['base.onnx']!.length });
      res.write(FILES['base.onnx']!.subarray(0, 1000), () => setTimeout(() => ctl.abort(), 50));
      return true;
    });
    expect(await failure(fetchBundle(a.url, { cache: false, signal: ctl.signal }))).toMatchObject({ code: 'ABORTED' });
  });

  it('an HTTP error and an unreachable server are typed', async () => {
    a.handle((_req, res, path) => (path === '/m/head.onnx' ? (res.writeHead(503).end(), true) : false));
    expect(await failure(fetchBundle(a.url, { cache: false }))).toMatchObject({ code: 'BUNDLE_MISMATCH', reason: 'http' });
    const closed = await startServer();
    const url = closed.url;
    await closed.close();
    expect(await failure(fetchBundle(url, { cache: false }))).toMatchObject({ code: 'BUNDLE_MISMATCH', reason: 'network' });
  });

  it('follows same-origin redirects, refuses other origins (the manifest included) unless allowed', async () => {
    a.handle((_req, res, path) => (path === '/m/head.onnx' ? (res.writeHead(302, { location: '/m/moved/head' }).end(), true) : false));
    const moved = (_req: IncomingMessage, res: ServerResponse, path: string) =>
      path === '/m/moved/head' ? (res.writeHead(200).end(FILES['head.onnx']), true) : false;
    const same = a.handle;
    same((req, res, path) => (path === '/m/head.onnx' ? (res.writeHead(302, { location: '/m/moved/head' }).end(), true) : moved(req, res, path)));
    expect((await fetchBundle(a.url, { cache: false })).files.get('head.onnx')).toEqual(FILES['head.onnx']);

    b.handle(undefined);
    a.handle((_req, res, path) => (path === '/m/head.onnx' ? (res.writeHead(302, { location: `${b.url}head.onnx` }).end(), true) : false));
    const f = await failure(fetchBundle(a.url, { cache: false }));
    expect(f).toMatchObject({ code: 'BUNDLE_MISMATCH', reason: 'redirect' });
    expect(f.message).toContain(b.origin);
    expect((await fetchBundle(a.url, { cache: false, redirectOrigins: [b.origin] })).files.get('head.onnx')).toEqual(FILES['head.onnx']);

    a.handle((_req, res, path) => (path === '/m/manifest.json' ? (res.writeHead(301, { location: `${b.url}manifest.json` }).end(), true) : false));
    const before = b.log.length;
    expect(await failure(fetchBundle(a.url, { cache: false }))).toMatchObject({ code: 'BUNDLE_MISMATCH', reason: 'redirect' });
    expect(b.log.slice(before)).toEqual(['/m/manifest.json']); // the redirect was followed, its body never read, nothing else asked
    expect((await fetchBundle(a.url, { cache: false, redirectOrigins: 'any' })).manifest.name).toBe(manifest.name);
  });

  it('refuses bad idleTimeoutMs and redirectOrigins values', async () => {
    await expect(fetchBundle(a.url, { idleTimeoutMs: 0 })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
    await expect(fetchBundle(a.url, { redirectOrigins: 'all' as never })).rejects.toMatchObject({ code: 'INVALID_OPTION' });
  });
});

describe('the chunked cache', () => {
  const bytes = new Uint8Array(100_000).map((_, i) => i % 253);
  const digest = sha(bytes);

  it('stores a file as parts plus an index entry, and reads it back verified into one buffer', async () => {
    const cache = new MemoryCache(30_000); // entries of 30,000 bytes or more are refused
    await writeCachedFile(cache, 'http://x/f.bin', digest, bytes, 25_000);
    expect([...cache.store.keys()]).toEqual([0, 1, 2, 3].map((p) => cacheKey('http://x/f.bin', digest, p)).concat(cacheKey('http://x/f.bin', digest)));
    const into = new Uint8Array(bytes.length);
    const seen: number[] = [];
    expect(await readCachedFile(cache, 'http://x/f.bin', { bytes: bytes.length, sha256: digest }, into, (n) => seen.push(n))).toEqual({ hit: true });
    expect(into).toEqual(bytes);
    expect(seen.at(-1)).toBe(bytes.length);
  });

  it('checks the recorded size before reading any part, and drops an entry whose bytes changed', async () => {
    const cache = new MemoryCache();
    await writeCachedFile(cache, 'http://x/f.bin', digest, bytes, 25_000);
    cache.matched.length = 0;
    const r = await readCachedFile(cache, 'http://x/f.bin', { bytes: bytes.length - 1, sha256: digest }, new Uint8Array(bytes.length - 1), () => {});
    expect(r).toMatchObject({ hit: false, problem: expect.stringMatching(/100000 bytes recorded, the manifest says 99999/) });
    expect(cache.matched).toEqual([cacheKey('http://x/f.bin', digest)]); // only the index entry was looked at
    expect(cache.store.size).toBe(0); // and the entry was dropped

    await writeCachedFile(cache, 'http://x/f.bin', digest, bytes, 25_000);
    const part = cache.store.get(cacheKey('http://x/f.bin', digest, 2))!.body;
    part[5] = part[5]! ^ 1;
    const into = new Uint8Array(bytes.length);
    expect(await readCachedFile(cache, 'http://x/f.bin', { bytes: bytes.length, sha256: digest }, into, () => {})).toMatchObject({
      hit: false,
      problem: expect.stringMatching(/does not match its sha256/),
    });
    expect(cache.store.size).toBe(0);
  });

  it('a partial write (no index entry) is a miss', async () => {
    const cache = new MemoryCache();
    await writeCachedFile(cache, 'http://x/f.bin', digest, bytes, 25_000);
    cache.store.delete(cacheKey('http://x/f.bin', digest));
    expect(await readCachedFile(cache, 'http://x/f.bin', { bytes: bytes.length, sha256: digest }, new Uint8Array(bytes.length), () => {})).toEqual({
      hit: false,
    });
  });
});
