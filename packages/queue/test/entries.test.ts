// Issue 27, finding 7: a client or an HTTP front must not load onnxruntime (a 288 MB install, a native library).
// Runs the built package (dist) in fresh processes, the way an application imports it.
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Imports `specifier` in a new Node process; returns the native libraries and modules it loaded that name onnxruntime. */
function loads(specifier: string, how: 'import' | 'require'): Promise<string[]> {
  const load = how === 'import' ? `await import(${JSON.stringify(specifier)})` : `require(${JSON.stringify(specifier)})`;
  const code = `${load};
const so = process.report.getReport().sharedObjects.filter((s) => /onnxruntime/.test(s));
const mods = ${how === 'require' ? 'Object.keys(require.cache)' : '[]'}.filter((m) => /onnxruntime/.test(m));
console.log(JSON.stringify([...so, ...mods]));`;
  const args = how === 'import' ? ['--input-type=module', '-e', code] : ['-e', code];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: ROOT, env: { ...process.env, ORT_DISABLE_TELEMETRY: '1' } }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${specifier}: ${stderr || err.message}`));
      else resolve(JSON.parse(stdout.trim().split('\n').pop()!) as string[]);
    });
  });
}

describe('package entries', () => {
  it('@migm/queue/client and @migm/queue/http load no onnxruntime (ESM and CommonJS); /worker does', async () => {
    const [client, http, clientCjs, httpCjs, worker] = await Promise.all([
      loads('@migm/queue/client', 'import'),
      loads('@migm/queue/http', 'import'),
      loads('@migm/queue/client', 'require'),
      loads('@migm/queue/http', 'require'),
      loads('@migm/queue/worker', 'import'),
    ]);
    expect({ client, http, clientCjs, httpCjs }).toEqual({ client: [], http: [], clientCjs: [], httpCjs: [] });
    // The check can see onnxruntime when it is there: the worker's entry loads its native library.
    expect(worker.some((s) => /onnxruntime_binding\.node$/.test(s))).toBe(true);
  });
});

describe('one QueueError across entries', () => {
  it('an error from the CommonJS worker entry is a QueueError to the client entry (ESM and CommonJS)', async () => {
    const require = createRequire(import.meta.url);
    const worker = require('@migm/queue/worker') as typeof import('../src/worker-entry.js');
    const clientCjs = require('@migm/queue/client') as typeof import('../src/client-entry.js');
    // Through the package's exports (its built dist), as a consumer imports it; a variable keeps tsc from resolving it
    // before the package is built (typecheck runs before this package's own build).
    const clientEntry = '@migm/queue/client';
    const clientEsm = (await import(clientEntry)) as typeof import('../src/client-entry.js');
    const err = await worker.createQueueWorker({ redis: 'redis://127.0.0.1:1' }).catch((e: unknown) => e);
    expect((err as Error).message).toMatch(/give exactly one of backend and bundle/);
    expect(clientCjs.QueueError).not.toBe(worker.QueueError); // separate bundles: separate classes
    for (const entry of [clientCjs, clientEsm]) {
      expect(entry.isQueueError(err, 'INVALID_CONFIG')).toBe(true);
      expect(err instanceof entry.QueueError).toBe(true);
    }
    expect(new Error('x') instanceof clientCjs.QueueError).toBe(false);
  });
});
