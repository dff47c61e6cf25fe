import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/main.js';

const TINY = fileURLToPath(new URL('../../backend-ort/test/fixtures/tiny-bundle/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'migm-bench-'));

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a) => void out.push(a.join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...a) => void err.push(a.join(' ')));
  try {
    const code = await main(argv);
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

describe('migm-bench argument errors: one line, exit code 2, no stack trace', () => {
  const cases: [string[], RegExp][] = [
    [['--bundle', TINY, '--nope'], /unknown option '--nope'/],
    [['--bundle', TINY, '--methods', 'vanilla,magic'], /--methods must be one of vanilla, shortcut, reuse, taylor, shortcut-taylor, adams, got 'magic'/],
    [['--bundle', TINY, '--steps', '4,many'], /--steps must be an integer from 1 to/],
    [['--bundle', TINY, '--methods', 'shortcut', '--steps', '3'], /leave no setting to run/],
    [['--bundle', TINY, '--methods', 'vanilla', '--steps', '4,5'], /--steps 5 selects no setting with --methods vanilla \(settings: vanilla N=4, vanilla N=6/],
    [['--bundle', TINY, '--methods', 'vanilla,shortcut', '--steps', '6'], /--methods shortcut selects no setting with --steps 6 /],
    [['--bundle', TINY, '--methods', 'vanilla', '--markdown', join(dir, 'B.md')], /--markdown replaces the full run's section/],
    [['--bundle', TINY, '--images', '8'], /--images must be an integer from 16/],
    [['--bundle', TINY, '--device', 'tpu'], /--device must be one of cpu, cuda, auto/],
  ];
  for (const [argv, message] of cases) {
    it(argv.slice(2).join(' '), async () => {
      const r = await run(argv);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err.split('\n')).toHaveLength(1);
      expect(r.err).not.toMatch(/\n\s+at /);
    });
  }
  it('--help prints the usage and exits 0', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^usage: migm-bench /);
  });
});
