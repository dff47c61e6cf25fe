import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
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
function run(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...argv], { env: { ...process.env, ORT_DISABLE_TELEMETRY: '1', ...env } }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, out: stdout.trimEnd(), err: stderr.trimEnd() });
    });
  });
}

describe('migm worker / submit / serve', () => {
  it('argument mistakes: one line, exit 2; an unreachable Redis: one line, exit 1', async () => {
    const closed = `redis://127.0.0.1:${await freePort()}`;
    const shortTokenFile = join(dir, 'short-token');
    writeFileSync(shortTokenFile, 'short\nthe second line is ignored\n');
    const cases: [string[], number, RegExp][] = [
      [['worker'], 2, /--redis is required/],
      [['submit', '--redis', 'http://x', '--class', '1'], 2, /--redis must be a redis:\/\/ or rediss:\/\/ URL/],
      [['worker', '--redis', closed, '--batch', '0'], 2, /--batch must be an integer from 1 to 4096, got '0'/],
      [['serve', '--redis', closed, '--port', '70000'], 2, /--port must be an integer from 0 to 65535/],
      [['submit', '--redis', closed, '--queue', 'a:b', '--class', '1'], 2, /--queue must be/],
      [['submit', '--redis', closed, '--class', '1', '--detach'], 1, /Redis at redis:\/\/127\.0\.0\.1:\d+ is unreachable/],
      // One count range for generate and submit (issue 27: submit said 0..4096, then refused 0).
      [['submit', '--redis', closed, '--class', '1', '--count', '0'], 2, /--count must be an integer from 1 to 1024, got '0'/],
      [['submit', '--redis', closed, '--class', '1', '--count', '1025'], 2, /--count must be an integer from 1 to 1024/],
      [['serve', '--redis', closed, '--host', '0.0.0.0'], 2, /--host 0\.0\.0\.0 is reachable from other machines and no access token is set/],
      [['serve', '--redis', closed, '--cors', 'https://a.example/path'], 2, /--cors takes origins like/],
      // --allow-no-token lifts the loopback rule (then the closed Redis is what stops it); --token-file is read.
      [['serve', '--redis', closed, '--host', '0.0.0.0', '--allow-no-token'], 1, /Redis at redis:\/\/127\.0\.0\.1:\d+ is unreachable/],
      [['serve', '--redis', closed, '--token-file', join(dir, 'no-such-file')], 2, /--token-file: cannot read .*no-such-file \(ENOENT\)/],
      [['serve', '--redis', closed, '--token-file', shortTokenFile], 2, /the access token must be at least 16 characters.*got 5/],
      [['status', 'meta', '--redis', closed], 2, /'meta' is not a job id/],
      [['cancel', '--redis', closed], 2, /the job id comes first/],
    ];
    const runs = await Promise.all(cases.map(([argv]) => run(argv)));
    for (const [i, [argv, code, message]] of cases.entries()) {
      const r = runs[i]!;
      expect(r.code, argv.join(' ')).toBe(code);
      expect(r.err).toMatch(message);
      expect(r.err.split('\n')).toHaveLength(1);
    }
    const short = await run(['serve', '--redis', closed], { MIGM_TOKEN: 'short' });
    expect(short.code).toBe(2);
    expect(short.err).toMatch(/at least 16 characters/);
    for (const command of ['worker', 'submit', 'serve', 'status', 'result', 'cancel']) {
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
    // --detach: the id it prints is what status, result and cancel take.
    const detached = await run(['submit', '--redis', redis.url, ...flags, '--detach']);
    expect(detached.code).toBe(0);
    const id = /^queued (migm-[0-9a-f]{64}) \(seed 5\)\nfollow it with: migm status \1 --redis redis:/.exec(detached.out)?.[1];
    expect(id, detached.out).toBeDefined();
    const fetched = await run(['result', id!, '--redis', redis.url, '--out', join(dir, 'detached.png')]);
    expect(fetched.code, fetched.err).toBe(0);
    expect(readFileSync(join(dir, 'detached.png')).equals(readFileSync(join(dir, 'direct.png')))).toBe(true);
    expect((await run(['status', id!, '--redis', redis.url])).out).toMatch(new RegExp(`^${id}: completed, step 8/8 on `));
    expect((await run(['cancel', id!, '--redis', redis.url])).out).toBe(`${id}: already finished; nothing changed`);
    const unknown = await run(['status', `migm-${'0'.repeat(64)}`, '--redis', redis.url]);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/No job migm-0+ in queue 'migm'/);
    // The HTTP front, with a token: the same request through POST /jobs gives the same PNG.
    const token = 'cli-test-token-0123456789';
    const serve = spawn(process.execPath, [BIN, 'serve', '--redis', redis.url, '--port', '0'], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, MIGM_TOKEN: token },
    });
    children.push(serve);
    const base = await new Promise<string>((resolve, reject) => {
      serve.stdout!.on('data', (d: Buffer) => {
        const m = /(http:\/\/127\.0\.0\.1:\d+)\/jobs/.exec(d.toString());
        if (m) resolve(m[1]!);
      });
      serve.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
    });
    const request = { condition: 7, batch: 3, steps: 8, budget: 3, predictor: 'learned', seed: 5, scale: 4 };
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    expect((await fetch(`${base}/jobs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) })).status).toBe(401);
    const posted = (await (await fetch(`${base}/jobs`, { method: 'POST', headers, body: JSON.stringify(request) })).json()) as {
      id: string;
      deduplicated: boolean;
    };
    expect(posted.deduplicated).toBe(false); // ids are random: the same request is a job of its own
    const events = await (await fetch(`${base}/jobs/${posted.id}/events`, { headers })).text();
    expect(events).toMatch(/event: completed/);
    const png = Buffer.from(await (await fetch(`${base}/jobs/${posted.id}/png`, { headers })).arrayBuffer());
    expect(png.equals(readFileSync(join(dir, 'direct.png')))).toBe(true);
    for (const p of [worker, serve]) {
      const exited = new Promise((r) => p.once('exit', (code) => r(code)));
      p.kill('SIGTERM');
      expect(await exited).toBe(0);
    }
    // Three node processes and a redis-server start here: on a loaded 2-core machine that alone can take 30 s.
  }, 300_000); // three node processes and redis-server: past 120 s at load 26
});
