import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../src/main.js';
import { amusedTestBundle } from '../../backend-node/test/amused-bundle.js';

// The CLI on a text-conditioned bundle: a small aMUSEd bundle with random weights (see amused-bundle.ts).
const TINY = fileURLToPath(new URL('../../backend-ort/test/fixtures/tiny-bundle/', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'migm-cli-prompt-'));
let BUNDLE = '';
beforeAll(() => {
  BUNDLE = amusedTestBundle();
}, 600_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a) => void out.push(a.join(' ')));
  const error = vi.spyOn(console, 'error').mockImplementation((...a) => void err.push(a.join(' ')));
  const write = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (err.push(String(s)), true));
  try {
    const code = await main(argv);
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
    write.mockRestore();
  }
}

describe('migm generate --prompt', () => {
  it('writes a PNG of the images of a prompt, and says what it ran', async () => {
    const out = join(dir, 'fox.png');
    const r = await run([
      'generate',
      '--bundle',
      BUNDLE,
      '--prompt',
      'a photo of a red fox in the snow',
      '--negative-prompt',
      'blurry',
      '--count',
      '2',
      '--seed',
      '3',
      '--scale',
      '1',
      '--out',
      out,
      '--quiet',
    ]);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    expect(r.out).toContain('prompt "a photo of a red fox in the snow", negative prompt "blurry"');
    const png = PNG.sync.read(readFileSync(out));
    // Two 16 x 16 images (the small config) side by side, with the tiler's border and gap.
    expect(png.height).toBeGreaterThanOrEqual(16);
    expect(png.width).toBeGreaterThan(png.height + 12);
  });

  it('warns when the prompt was truncated to 77 tokens', async () => {
    const r = await run([
      'generate',
      '--bundle',
      BUNDLE,
      '--prompt',
      'a long prompt '.repeat(40),
      '--count',
      '1',
      '--steps',
      '2',
      '--out',
      join(dir, 'long.png'),
      '--quiet',
    ]);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/warning: .*\(122 tokens\) truncated to 77 tokens/);
  });

  it('gives one clear error for --class on a text bundle, --prompt on a class bundle, and a text bundle without --prompt', async () => {
    const cases: [string[], RegExp][] = [
      [['generate', '--bundle', BUNDLE, '--class', '1'], /--class applies to class-conditioned bundles; .* is conditioned on text: give --prompt/],
      [['generate', '--bundle', BUNDLE], /--prompt "\.\.\." is required: .* is conditioned on text \(e\.g\. --prompt "a photo of a red fox in the snow"\)/],
      [['generate', '--bundle', TINY, '--prompt', 'a shoe'], /--prompt applies to text-conditioned bundles; .* is conditioned on a class: give --class/],
      [['generate', '--bundle', TINY, '--class', '1', '--negative-prompt', 'x'], /--negative-prompt applies to text-conditioned bundles/],
    ];
    for (const [argv, message] of cases) {
      const r = await run([...argv, '--out', join(dir, 'never.png')]);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err).not.toMatch(/\n\s+at /);
    }
  });

  it('--json reports the prompt and whether it was truncated', async () => {
    const r = await run([
      'generate',
      '--bundle',
      BUNDLE,
      '--prompt',
      'a long prompt '.repeat(40),
      '--count',
      '1',
      '--steps',
      '2',
      '--out',
      join(dir, 'json.png'),
      '--json',
    ]);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.out) as { prompt: string; text: { truncated: boolean; prompts: { length: number; truncated: boolean }[] } };
    expect(report.prompt).toBe('a long prompt '.repeat(40));
    expect(report.text.truncated).toBe(true);
    expect(report.text.prompts[0]).toMatchObject({ length: 122, truncated: true });
  });

  it('migm info shows the tokenizer, negative prompt, micro-conditioning and example prompts', async () => {
    const r = await run(['info', '--bundle', BUNDLE]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/prompts: clip-bpe tokenizer \(tokenizer\.json\), 77 tokens, negative prompt ""; micro-conditioning width 16, height 16/);
    expect(r.out).toContain('example prompts: "a photo of a red fox in the snow"');
  });
});
