import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { amusedTestBundle } from '../../backend-node/test/amused-bundle.js';
import { RedisServer } from '../../queue/test/redis.js';

// `migm submit --prompt` against a `migm worker` running a text-conditioned bundle (a small aMUSEd bundle with
// random weights, made at test time by the training toolkit).
const BIN = fileURLToPath(new URL('../bin/migm.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'migm-queue-prompt-'));
const redis = new RedisServer();
const children: ChildProcess[] = [];

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await redis.stop();
});

function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...argv], { env: { ...process.env, ORT_DISABLE_TELEMETRY: '1' } }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, out: stdout.trimEnd(), err: stderr.trimEnd() });
    });
  });
}

describe('migm submit --prompt', () => {
  it('queues a prompt for a text bundle and writes the PNG generate gives; a class to it, or a prompt to a class bundle, is a usage error', async () => {
    const bundle = amusedTestBundle();
    await redis.start();
    const worker = spawn(process.execPath, [BIN, 'worker', '--redis', redis.url, '--bundle', bundle, '--threads', '1', '--quiet'], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ORT_DISABLE_TELEMETRY: '1' },
    });
    children.push(worker);
    await new Promise<void>((resolve, reject) => {
      worker.stdout!.on('data', (d: Buffer) => d.toString().includes('migm worker') && resolve());
      worker.once('exit', (code) => reject(new Error(`worker exited with ${code}`)));
    });
    const flags = [
      '--bundle',
      bundle,
      '--prompt',
      'a red fox in the snow',
      '--negative-prompt',
      'blurry',
      '--count',
      '2',
      '--steps',
      '6',
      '--method',
      'vanilla',
      '--seed',
      '3',
      '--quiet',
    ];
    const queued = await run(['submit', '--redis', redis.url, ...flags, '--out', join(dir, 'queued.png')]);
    expect(queued.err).toBe('');
    expect(queued.code).toBe(0);
    expect(queued.out).toMatch(/^queued migm-[0-9a-f]{64} \(seed 3\)\nwrote .*queued\.png: 2 images, seed 3, by worker /);
    const direct = await run(['generate', ...flags, '--out', join(dir, 'direct.png')]);
    expect(direct.code, direct.err).toBe(0);
    expect(readFileSync(join(dir, 'queued.png')).equals(readFileSync(join(dir, 'direct.png')))).toBe(true);
    // A prompt over 77 tokens: the job's result says it was truncated, and submit warns.
    const long = await run([
      'submit',
      '--redis',
      redis.url,
      '--bundle',
      bundle,
      '--prompt',
      'a lighthouse at dawn '.repeat(30),
      '--count',
      '1',
      '--steps',
      '2',
      '--quiet',
      '--out',
      join(dir, 'long.png'),
    ]);
    expect(long.code, long.err).toBe(0);
    expect(long.err).toBe('migm: warning: a prompt of this job was longer than 77 tokens and was truncated, as CLIP does');

    const wrong: [string[], RegExp][] = [
      [['--bundle', bundle, '--class', '1'], /--class applies to class-conditioned bundles; .* give --prompt/],
      [['--bundle', bundle], /--prompt "\.\.\." is required/],
      [['--prompt', 'a sneaker'], /--prompt applies to text-conditioned bundles; .* give --class instead/],
    ];
    for (const [argv, message] of wrong) {
      const r = await run(['submit', '--redis', redis.url, ...argv, '--detach']);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err.split('\n')).toHaveLength(1);
    }
    const exited = new Promise((r) => worker.once('exit', (code) => r(code)));
    worker.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 300_000);
});
