// scripts/precision-table.mjs: runs split over processes are merged (a row two files hold is shown once, and must
// agree), noise rows are labelled, the 2% rule counts only FD increases, and the reference-draw table appears.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../scripts/precision-table.mjs', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'migm-precision-table-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const row = (dtype: string, seed: number, fd: number[], change: number[], ref: number[] | null, tokens = 1) => ({
  setting: 'vanilla N=16',
  dtype,
  seed,
  fd: { CNN: fd[0], MLP: fd[1] },
  fdChange: { CNN: change[0], MLP: change[1] },
  fdToReference: ref && { CNN: ref[0], MLP: ref[1] },
  tokenAgreement: tokens,
});
function write(name: string, rows: unknown[]): string {
  const f = join(dir, name);
  writeFileSync(f, JSON.stringify({ seed: 1, rows }));
  return f;
}
const fp32 = row('fp32', 1, [10, 20], [0, 0], [3, 4]);
const noise = row('fp32', 100001, [9, 21], [-0.1, 0.05], null, 0.4);

describe('precision-table', () => {
  it('merges files, labels the noise draw and applies the 2% rule to increases only', () => {
    const a = write('a.json', [fp32, noise, row('int8', 1, [10.1, 19], [0.01, -0.05], [3.1, 4.2], 0.5)]);
    const b = write('b.json', [fp32, noise, row('fp16', 1, [10.5, 20], [0.05, 0], [3.3, 4.1], 0.7)]);
    const out = execFileSync(process.execPath, [SCRIPT, a, b], { encoding: 'utf8' });
    expect(out.match(/\| vanilla N=16 \| fp32 \|/g)).toHaveLength(2); // once per table, not once per file
    expect(out).toContain('| vanilla N=16 | fp32, other seeds (100001+) | 9.000 | -10.00% | 21.000 | +5.00% | 40.00% |');
    expect(out).toContain('| vanilla N=16 | fp16 | 10.500 | **+5.00%** |');
    expect(out).toContain('FD CNN to the reference draw');
    expect(out).toContain('- int8: under 2% under every evaluator in every setting');
    expect(out).toContain('- fp16: not under 2% everywhere (vanilla N=16 CNN +5.00%)');
    expect(out).toContain('moved FD by up to 10.00% (1 rows)');
  });

  it('refuses two files whose shared row differs (a seed fixes every draw)', () => {
    const a = write('c.json', [fp32]);
    const b = write('d.json', [row('fp32', 1, [10.5, 20], [0, 0], null)]);
    const r = spawnSync(process.execPath, [SCRIPT, a, b], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('vanilla N=16|fp32|1 differs');
  });
});
