import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMigmError, type TextCondition } from '@migm/core/backend';
import { ClipTokenizer, tokenizerFor } from '../src/index.js';

// The reference: transformers' CLIPTokenizer with CLIP's real vocabulary (built from open-clip-torch's merges
// file by training/scripts/clip_tokenizer_fixture.py at test time; nothing large is committed).
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const PYTHON = process.env['MIGM_PYTHON'] ?? join(ROOT, 'training/.venv/bin/python');

interface Fixture {
  reference: string;
  maxLength: number;
  bosId: number;
  eosId: number;
  padId: number;
  prompts: { text: string; ids: number[]; truncated: boolean }[];
}

let dir = '';
let fixture: Fixture;
let tokenizerJson: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'migm-clip-'));
  execFileSync(PYTHON, [join(ROOT, 'training/scripts/clip_tokenizer_fixture.py'), dir], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
    timeout: 150_000,
  });
  fixture = JSON.parse(readFileSync(join(dir, 'prompts.json'), 'utf8')) as Fixture;
  tokenizerJson = readFileSync(join(dir, 'tokenizer.json'), 'utf8');
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const condition = (maxLength: number): TextCondition => ({
  type: 'text',
  maxLength,
  tokenizer: { file: 'tokenizer.json', kind: 'clip-bpe' },
  negativePrompt: '',
});

describe('ClipTokenizer against transformers CLIPTokenizer (real CLIP vocabulary)', () => {
  it('gives the same 77 ids on every fixture prompt, and says which were truncated', () => {
    const tokenizer = tokenizerFor(condition(fixture.maxLength), new TextEncoder().encode(tokenizerJson));
    expect(fixture.prompts.length).toBeGreaterThanOrEqual(200);
    expect([tokenizer.bosId, tokenizer.eosId, tokenizer.padId]).toEqual([fixture.bosId, fixture.eosId, fixture.padId]);
    const wrong: string[] = [];
    for (const p of fixture.prompts) {
      const got = tokenizer.encode(p.text);
      if (got.ids.length !== 77 || got.ids.some((id, i) => id !== p.ids[i]) || got.truncated !== p.truncated) {
        wrong.push(`${JSON.stringify(p.text)}: got ${JSON.stringify(Array.from(got.ids))} (truncated ${got.truncated}), want ${JSON.stringify(p.ids)}`);
      }
    }
    expect(wrong).toEqual([]);
    // The fixture covers what the issue names: empty, punctuation, numbers, unicode, and prompts over 77 tokens.
    const texts = fixture.prompts.map((p) => p.text);
    expect(texts).toContain('');
    expect(fixture.prompts.filter((p) => p.truncated).length).toBeGreaterThan(3);
    expect(texts.some((t) => /\d/.test(t)) && texts.some((t) => /[!?.,]/.test(t)) && texts.some((t) => /[^\x00-\x7f]/.test(t))).toBe(true);
  });

  it('reports the untruncated length and keeps the end token last when it cuts', () => {
    const tokenizer = new ClipTokenizer(JSON.parse(tokenizerJson), { maxLength: 77 });
    const long = tokenizer.encode('word '.repeat(100));
    expect(long.truncated).toBe(true);
    expect(long.length).toBe(102);
    expect(long.ids[0]).toBe(tokenizer.bosId);
    expect(long.ids[76]).toBe(tokenizer.eosId);
    const short = tokenizer.encode('a photo of a cat');
    expect(short).toMatchObject({ truncated: false, length: 7 });
    expect(Array.from(short.ids.slice(0, 8))).toEqual([49406, 320, 1125, 539, 320, 2368, 49407, 49407]);
    // A shorter maxLength (another bundle) pads and cuts at its own length.
    const eight = new ClipTokenizer(JSON.parse(tokenizerJson), { maxLength: 8 });
    expect(Array.from(eight.encode('a photo of a cat on a mat').ids)).toEqual([49406, 320, 1125, 539, 320, 2368, 525, 49407]);
    expect(eight.encode('a photo of a cat on a mat').truncated).toBe(true);
  });

  it('refuses what is not a CLIP tokenizer with typed errors', () => {
    const code = (f: () => unknown): string | undefined => {
      try {
        f();
      } catch (e) {
        return isMigmError(e) ? e.code : `not a MigmError: ${String(e)}`;
      }
      return undefined;
    };
    expect(code(() => tokenizerFor(condition(77), new TextEncoder().encode('not json')))).toBe('BUNDLE_MISMATCH');
    expect(code(() => tokenizerFor(condition(77), new Uint8Array([0xff, 0xfe])))).toBe('BUNDLE_MISMATCH');
    expect(code(() => new ClipTokenizer({ model: { type: 'WordPiece', vocab: {} } }, { maxLength: 77 }))).toBe('BUNDLE_MISMATCH');
    expect(code(() => new ClipTokenizer(JSON.parse(tokenizerJson), { maxLength: 77, bosId: 10 ** 6 }))).toBe('BUNDLE_MISMATCH');
    expect(code(() => new ClipTokenizer(JSON.parse(tokenizerJson), { maxLength: 1 }))).toBe('INVALID_OPTION');
    const other = { ...condition(77), tokenizer: { file: 'tokenizer.json', kind: 'sentencepiece' } } as unknown as TextCondition;
    expect(code(() => tokenizerFor(other, new TextEncoder().encode(tokenizerJson)))).toBe('UNSUPPORTED');
    const tokenizer = new ClipTokenizer(JSON.parse(tokenizerJson), { maxLength: 77 });
    expect(code(() => tokenizer.encode(42 as unknown as string))).toBe('INVALID_OPTION');
  });
});
