// A small aMUSEd bundle with RANDOM weights, made by the training toolkit for tests that need a real
// text-conditioned bundle (CLIP tokenizer and text encoder, U-ViT base, head, VQ decoder as ONNX graphs):
// `import-amused --random-init --config small` writes a model folder in the published layout, `import-amused
// --model` turns it into a bundle. Built once per version of the importer's sources and reused by every test file
// (backend-node, cli, the demo e2e); building takes ~20 s of CPU.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TRAINING = join(ROOT, 'training');
/** The training toolkit's Python (scripts/setup.sh makes training/.venv; MIGM_PYTHON overrides it). */
export const TRAINING_PYTHON = process.env['MIGM_PYTHON'] ?? join(TRAINING, '.venv/bin/python');

/** The folder of the small random aMUSEd bundle (built on first use); `fp16`: its graphs' weights in float16. */
export function amusedTestBundle(dtype: 'fp32' | 'fp16' = 'fp32'): string {
  const sources = join(TRAINING, 'migm_train/amused');
  const hash = createHash('sha256');
  for (const f of readdirSync(sources).sort()) if (f.endsWith('.py')) hash.update(f).update(readFileSync(join(sources, f)));
  hash.update(readFileSync(join(TRAINING, 'migm_train/cli.py')));
  const dir = join(tmpdir(), `migm-amused-small-${dtype}-${hash.digest('hex').slice(0, 16)}`);
  if (existsSync(join(dir, 'manifest.json'))) return dir;
  const work = mkdtempSync(join(tmpdir(), 'migm-amused-build-'));
  try {
    const python = (args: string[]) =>
      execFileSync(TRAINING_PYTHON, ['-m', 'migm_train', 'import-amused', ...args], {
        cwd: TRAINING,
        stdio: ['ignore', 'ignore', 'pipe'],
        timeout: 300_000,
        env: { ...process.env, MALLOC_MMAP_MAX_: '0', MALLOC_TRIM_THRESHOLD_: '34359738368' },
      });
    python(['--random-init', '--config', 'small', '--seed', '0', '--out', join(work, 'model')]);
    python(['--model', join(work, 'model'), '--out', join(work, 'bundle'), '--dtype', dtype]);
    try {
      // Atomic: a concurrent test file either finds the whole bundle or builds its own.
      renameSync(join(work, 'bundle'), dir);
    } catch (err) {
      if (!existsSync(join(dir, 'manifest.json'))) throw err;
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return dir;
}
