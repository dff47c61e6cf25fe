import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, RedisServer } from '../../queue/test/redis.js';

const BIN = fileURLToPath(new URL('../bin/migm.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'migm-queue-cli-'));
const redis = new RedisServer();
const children: ChildProcess[] = [];

// Always: the worker process killed and redis-server stopped, even when a test failed.
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await redis.stop();
});

/** The installed command, as a user runs it (bin -> dist). */
function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...argv], { env: { ...process.env, ORT_DISABLE_TELEMETRY: '1' } }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, out: stdout.trimEnd(), err: stderr.trimEnd() });
    });
  });
}

describe('migm worker / submit / serve', () => {
  it('argument mistakes: one line, exit 2; an unreachable Redis: one line, exit 1', async () => {
    const closed = `redis://127.0.0.1:${await freePort()}`;
    const cases: [string[], number, RegExp][] = [
      [['worker'], 2, /--redis is required/],
      [['submit', '--redis', 'http://x', '--class', '1'], 2, /--redis must be a redis:\/\/ or rediss:\/\/ URL/],
      [['worker', '--redis', closed, '--batch', '0'], 2, /--batch must be an integer from 1 to 4096, got '0'/],
      [['serve', '--redis', closed, '--port', '70000'], 2, /--port must be an integer from 0 to 65535/],
      [['submit', '--redis', closed, '--queue', 'a:b', '--class', '1'], 2, /--queue must be/],
      [['submit', '--redis', closed, '--class', '1', '--detach'], 1, /Redis at redis:\/\/127\.0\.0\.1:\d+ is unreachable/],
    ];
    const runs = await Promise.all(cases.map(([argv]) => run(argv)));
    for (const [i, [argv, code, message]] of cases.entries()) {
      const r = runs[i]!;
      expect(r.code, argv.join(' ')).toBe(code);
      expect(r.err).toMatch(message);
      expect(r.err.split('\n')).toHaveLength(1);
    }
    for (const command of ['worker', 'submit', 'serve']) {
      const help = await run([command, '--help']);
      expect(help.code).toBe(0);
      expect(help.out).toMatch(new RegExp(`^usage: migm ${command}`));
    }
  });

  it('a worker process, submit and serve give the PNG generate gives; SIGTERM stops worker and server cleanly', async () => {
    await redis.start();
    const worker = spawn(process.execPath, [BIN, 'worker', '--redis', redis.url, '--batch', '4', '--threads', '1', '--quiet'], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ORT_DISABLE_TELEMETRY: '1' },
    });
    children.push(worker);
    await new Promise<void>((resolve, reject) => {
      worker.stdout!.on('data', (d: Buffer) => d.toString().includes('migm worker') && resolve());
      worker.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
    });
    const flags = ['--class', 'sneaker', '--count', '3', '--steps', '8', '--budget', '3', '--method', 'shortcut', '--seed', '5', '--quiet'];
    const queued = await run(['submit', '--redis', redis.url, ...flags, '--out', join(dir, 'queued.png')]);
    expect(queued.err).toBe('');
    expect(queued.code).toBe(0);
    expect(queued.out).toMatch(/^queued migm-[0-9a-f]{64} \(seed 5\)\nwrote .*queued\.png: 3 images, seed 5, by worker /);
    expect((await run(['generate', ...flags, '--out', join(dir, 'direct.png')])).code).toBe(0);
    expect(readFileSync(join(dir, 'queued.png')).equals(readFileSync(join(dir, 'direct.png')))).toBe(true);
    // The HTTP front: the same request through POST /jobs gives the same PNG.
    const serve = spawn(process.execPath, [BIN, 'serve', '--redis', redis.url, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(serve);
    const base = await new Promise<string>((resolve, reject) => {
      serve.stdout!.on('data', (d: Buffer) => {
        const m = /(http:\/\/127\.0\.0\.1:\d+)\/jobs/.exec(d.toString());
        if (m) resolve(m[1]!);
      });
      serve.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
    });
    const request = { condition: 7, batch: 3, steps: 8, budget: 3, predictor: 'learned', seed: 5, scale: 4 };
    const posted = (await (await fetch(`${base}/jobs`, { method: 'POST', body: JSON.stringify(request) })).json()) as { id: string; deduplicated: boolean };
    expect(posted.deduplicated).toBe(true); // the very request submit queued: the same job
    const events = await (await fetch(`${base}/jobs/${posted.id}/events`)).text();
    expect(events).toMatch(/event: completed/);
    const png = Buffer.from(await (await fetch(`${base}/jobs/${posted.id}/png`)).arrayBuffer());
    expect(png.equals(readFileSync(join(dir, 'direct.png')))).toBe(true);
    for (const p of [worker, serve]) {
      const exited = new Promise((r) => p.once('exit', (code) => r(code)));
      p.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
    // Three node processes and a redis-server start here: on a loaded 2-core machine that alone can take 30 s.
  }, 120_000);
});
