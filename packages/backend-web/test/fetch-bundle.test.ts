import { describe, expect, it } from 'vitest';
import type { Manifest } from '@migm/core';
import { testManifest } from '@migm/core/testing';
import { fetchBundle, MAX_MANIFEST_BYTES, type LoadProgressEvent } from '../src/index.js';
import { MemoryCache } from './memory-cache.js';

import { toHex } from '@migm/core/backend';

const sha = async (b: Uint8Array) => toHex(await crypto.subtle.digest('SHA-256', b as Uint8Array<ArrayBuffer>));
const enc = (s: string) => new TextEncoder().encode(s);

async function server(overrides: Record<string, Uint8Array | string | number> = {}) {
  const files: Record<string, Uint8Array> = {
    'base.onnx': enc('base-bytes'),
    'head.onnx': enc('head'),
    'decoder.onnx': enc('decoder!'),
    'shortcut.onnx': enc('sc'),
  };
  const m = JSON.parse(JSON.stringify(testManifest())) as Manifest;
  m.files = (await Promise.all(
    m.files.map(async (f) => ({ path: f.path, bytes: files[f.path]!.length, sha256: await sha(files[f.path]!) })),
  )) as Manifest['files'];
  m.graphs.shortcut!.compatibility.baseSha256 = m.files[0]!.sha256;
  const routes: Record<string, Uint8Array | string | number> = { 'manifest.json': JSON.stringify(m), ...files, ...overrides };
  const requests: string[] = [];
  const fetchImpl = (async (url: string) => {
    requests.push(url);
    const name = url.replace('https://cdn.test/m/', '');
    const body = routes[name];
    if (body === undefined) return new Response('not found', { status: 404, statusText: 'Not Found' });
    if (typeof body === 'number') throw new TypeError('network down');
    return new Response(typeof body === 'string' ? body : (body as Uint8Array<ArrayBuffer>));
  }) as unknown as typeof fetch;
  return { fetchImpl, requests, manifest: m };
}

describe('fetchBundle', () => {
  it('downloads, verifies and reports progress per file and in total', async () => {
    const { fetchImpl } = await server();
    const events: LoadProgressEvent[] = [];
    const b = await fetchBundle('https://cdn.test/m', { fetch: fetchImpl, cache: false, onProgress: (e) => events.push(e) });
    expect(new TextDecoder().decode(b.files.get('base.onnx'))).toBe('base-bytes');
    const last = events.at(-1)!;
    expect(last.type === 'file-done' && last.totalLoaded === last.totalBytes).toBe(true);
    expect(events.filter((e) => e.type === 'file-done').map((e) => e.file)).toEqual(['base.onnx', 'head.onnx', 'decoder.onnx', 'shortcut.onnx']);
  });

  it("calls fetch as a plain function (a browser's fetch refuses another `this`: 'Illegal invocation')", async () => {
    const { fetchImpl } = await server();
    const strict = function (this: unknown, url: string) {
      if (this !== undefined && this !== globalThis) throw new TypeError("Failed to execute 'fetch' on 'WorkerGlobalScope': Illegal invocation");
      return (fetchImpl as unknown as (u: string) => Promise<Response>)(url);
    } as unknown as typeof fetch;
    await expect(fetchBundle('https://cdn.test/m/', { fetch: strict, cache: false })).resolves.toBeDefined();
  });

  it('serves a reload from the cache without downloading again', async () => {
    const { fetchImpl, requests } = await server();
    const cache = new MemoryCache();
    await fetchBundle('https://cdn.test/m/', { fetch: fetchImpl, cache });
    const first = requests.length;
    const events: LoadProgressEvent[] = [];
    await fetchBundle('https://cdn.test/m/', { fetch: fetchImpl, cache, onProgress: (e) => events.push(e) });
    expect(requests.length - first).toBe(1); // only manifest.json
    expect(events.filter((e) => e.type === 'file-done').every((e) => e.type === 'file-done' && e.cached)).toBe(true);
  });

  it('drops a corrupt cache entry and downloads the file again', async () => {
    const { fetchImpl, requests } = await server();
    const cache = new MemoryCache();
    await fetchBundle('https://cdn.test/m/', { fetch: fetchImpl, cache });
    const key = [...cache.store.keys()].find((k) => k.includes('head.onnx') && k.endsWith('migm-part=0'))!;
    cache.store.get(key)!.body = enc('HEAD');
    const before = requests.length;
    await fetchBundle('https://cdn.test/m/', { fetch: fetchImpl, cache });
    const events: LoadProgressEvent[] = [];
    await fetchBundle('https://cdn.test/m/', { fetch: fetchImpl, cache, onProgress: (e) => events.push(e) }).then(() => undefined);
    expect(requests.slice(before)).toEqual(['https://cdn.test/m/manifest.json', 'https://cdn.test/m/head.onnx', 'https://cdn.test/m/manifest.json']);
    expect(events.filter((e) => e.type === 'cache-error')).toEqual([]); // the second load found the rewritten entry
  });

  it('a cache that refuses to store a file never fails the load; the error is reported and the file comes from the network', async () => {
    const { fetchImpl, requests } = await server();
    const cache = new MemoryCache(5); // refuses entries of 5 bytes or more, as Chromium refuses 256 MB
    const events: LoadProgressEvent[] = [];
    const b = await fetchBundle('https://cdn.test/m/', { fetch: fetchImpl, cache, onProgress: (e) => events.push(e) });
    expect(new TextDecoder().decode(b.files.get('base.onnx'))).toBe('base-bytes');
    const errors = events.filter((e) => e.type === 'cache-error');
    expect(errors.map((e) => e.type === 'cache-error' && [e.file, e.operation])).toEqual([
      ['base.onnx', 'write'],
      ['decoder.onnx', 'write'],
    ]);
    expect(errors[0]!.type === 'cache-error' && errors[0]!.message).toMatch(/Unexpected internal error/);
    expect([...cache.store.keys()].some((k) => k.includes('base.onnx'))).toBe(false); // no partial entry left
    const before = requests.length;
    await fetchBundle('https://cdn.test/m/', { fetch: fetchImpl, cache });
    expect(requests.slice(before)).toEqual(['https://cdn.test/m/manifest.json', 'https://cdn.test/m/base.onnx', 'https://cdn.test/m/decoder.onnx']);
  });

  it('a cache that throws on read is reported and bypassed', async () => {
    const { fetchImpl } = await server();
    const cache = new MemoryCache();
    cache.match = async () => {
      throw new DOMException('disk gone', 'UnknownError');
    };
    const events: LoadProgressEvent[] = [];
    const b = await fetchBundle('https://cdn.test/m/', { fetch: fetchImpl, cache, onProgress: (e) => events.push(e) });
    expect(b.files.size).toBe(4);
    expect(events.filter((e) => e.type === 'cache-error' && e.operation === 'read')).toHaveLength(4);
  });

  it('refuses a tampered file, a missing file, an unreachable server and a wrong schema version', async () => {
    await expect(
      fetchBundle('https://cdn.test/m/', { fetch: (await server({ 'decoder.onnx': enc('decoder?') })).fetchImpl, cache: false }),
    ).rejects.toMatchObject({ code: 'BUNDLE_MISMATCH', message: expect.stringContaining('decoder.onnx has sha256') });
    await expect(fetchBundle('https://cdn.test/m/', { fetch: (await server({ 'head.onnx': 404 as never })).fetchImpl, cache: false })).rejects.toMatchObject({
      code: 'BUNDLE_MISMATCH',
    });
    const missing = await server();
    await expect(fetchBundle('https://cdn.test/other/', { fetch: missing.fetchImpl, cache: false })).rejects.toThrow(/HTTP 404/);
    const down = await server({ 'manifest.json': 0 });
    await expect(fetchBundle('https://cdn.test/m/', { fetch: down.fetchImpl, cache: false })).rejects.toThrow(/network down/);
    const m = (await server()).manifest as unknown as { schemaVersion: number };
    m.schemaVersion = 3;
    await expect(
      fetchBundle('https://cdn.test/m/', { fetch: (await server({ 'manifest.json': JSON.stringify(m) })).fetchImpl, cache: false }),
    ).rejects.toMatchObject({ code: 'INVALID_MANIFEST' });
  });
  it('stops a download larger than the manifest says, and a huge or non-JSON manifest, without quoting it', async () => {
    const big = new Uint8Array(64 * 1024).fill(1);
    const { fetchImpl, manifest } = await server({ 'decoder.onnx': big });
    await expect(fetchBundle('https://cdn.test/m', { fetch: fetchImpl, cache: false })).rejects.toMatchObject({
      code: 'BUNDLE_MISMATCH',
      message: expect.stringContaining(`decoder.onnx is larger than the ${manifest.files.find((f) => f.path === 'decoder.onnx')!.bytes} bytes allowed`),
    });
    const huge = await server({ 'manifest.json': new Uint8Array(MAX_MANIFEST_BYTES + 10) });
    await expect(fetchBundle('https://cdn.test/m', { fetch: huge.fetchImpl, cache: false })).rejects.toMatchObject({
      code: 'BUNDLE_MISMATCH',
      message: expect.stringContaining('manifest.json is larger'),
    });
    const text = await server({ 'manifest.json': 'root:x:0:0:root:/root:/bin/bash' });
    const err = await fetchBundle('https://cdn.test/m', { fetch: text.fetchImpl, cache: false }).catch((e: Error) => e);
    expect(err).toMatchObject({ code: 'INVALID_MANIFEST' });
    expect((err as Error).message).not.toContain('root');
  });
});
