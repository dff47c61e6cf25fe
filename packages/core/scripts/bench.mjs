// Micro-benchmark of core's own per-step work: guidance + softmax + draw + confidence + selection +
// integration (f + dt * v), over a whole N-step arccos schedule on random logits, next to PyTorch doing the
// same operations on the CPU (bench_torch.py, training/.venv/bin/python). Prints a table and writes it into
// BENCHMARKS.md between the core-bench markers. Usage: node scripts/bench.mjs [--quick] [--no-torch]
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { TRAINING_PYTHON } from '../../../scripts/training-python.mjs';
import { RandomStreams, combineHost, commitTopConfidence, createSamplerScratch, sampleMaskedPositions, tokenCounts } from '../dist/index.js';

const quick = process.argv.includes('--quick');
const withTorch = !process.argv.includes('--no-torch');
const K = 1024;
const D = 768; // MaskGIT's feature width
const N = 16;
const W = 2.8;
const configs = [
  { L: 256, B: 1 },
  { L: 256, B: 8 },
  { L: 1024, B: 1 },
  { L: 1024, B: 8 },
];
const repeats = quick ? 2 : 5;

function runSchedule(ctx) {
  const { L, B, logits, state, scratch, rng, counts, f, v, fOut, pos, tok } = ctx;
  state.fill(K);
  for (let i = 0; i < N; i++) {
    sampleMaskedPositions(
      {
        logits,
        guided: true,
        batch: B,
        tokens: L,
        vocab: K,
        state,
        maskId: K,
        weight: (W * i) / (N - 1),
        invTemp: 1,
        noiseScale: 4.5 * (1 - i / (N - 1)),
        draw: 'inverse-cdf',
        topK: 0,
        topP: 1,
        rng,
      },
      scratch,
    );
    commitTopConfidence(state, K, B, L, counts[i], scratch, pos, tok);
    combineHost(fOut, [f, v], [1, 1]);
  }
}

const load = loadavg()[0];
const rows = [];
for (const { L, B } of configs) {
  const rowsN = 2 * B;
  const init = new RandomStreams(1, 1);
  const logits = Float32Array.from({ length: rowsN * L * K }, () => (init.uniform(0) - 0.5) * 8);
  const f = Float32Array.from({ length: rowsN * L * D }, () => init.uniform(0));
  const v = f.slice();
  const counts = tokenCounts('arccos', N, L);
  const maxCount = Math.max(...counts);
  const ctx = {
    L,
    B,
    logits,
    f,
    v,
    counts,
    fOut: new Float32Array(f.length),
    state: new Int32Array(B * L),
    scratch: createSamplerScratch(B, L, K),
    rng: new RandomStreams(7, B),
    pos: new Int32Array(B * maxCount),
    tok: new Int32Array(B * maxCount),
  };
  runSchedule(ctx); // warm-up (JIT)
  globalThis.gc?.();
  const abBefore = process.memoryUsage().arrayBuffers;
  const times = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = performance.now();
    runSchedule(ctx);
    times.push((performance.now() - t0) / N);
  }
  const abAfter = process.memoryUsage().arrayBuffers;
  times.sort((a, b) => a - b);
  rows.push({ L, B, coreMs: times[Math.floor(times.length / 2)], typedArrayBytesPerStep: Math.max(0, abAfter - abBefore) / (repeats * N) });
  console.error(`core L=${L} B=${B}: ${rows.at(-1).coreMs.toFixed(2)} ms/step`);
}

let torch = null;
if (withTorch && existsSync(TRAINING_PYTHON)) {
  try {
    const out = execFileSync(TRAINING_PYTHON, [fileURLToPath(new URL('bench_torch.py', import.meta.url)), JSON.stringify({ K, D, N, W, configs, repeats })], {
      encoding: 'utf8',
      env: { ...process.env, MALLOC_MMAP_MAX_: '0', MALLOC_TRIM_THRESHOLD_: '34359738368' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    torch = JSON.parse(out.trim().split('\n').at(-1));
  } catch (err) {
    console.error(`PyTorch comparison skipped: ${err.message.split('\n')[0]}`);
  }
}

const header = '| L | batch | core ms/step | PyTorch ms/step | core / PyTorch | typed-array bytes allocated per step |\n|---:|---:|---:|---:|---:|---:|';
const lines = rows.map((r, i) => {
  const t = torch?.results[i]?.ms;
  return `| ${r.L} | ${r.B} | ${r.coreMs.toFixed(2)} | ${t ? t.toFixed(2) : 'n/a'} | ${t ? (r.coreMs / t).toFixed(2) + 'x' : 'n/a'} | ${Math.round(r.typedArrayBytesPerStep)} |`;
});
const table = [
  `Core per-step work over an N = ${N} arccos schedule (K = ${K}, D = ${D}, guided [cond; uncond], median of ${repeats} runs), Node ${process.version}${torch ? `, PyTorch ${torch.version} with ${torch.threads} thread(s)` : ''}.`,
  'Each step: CFG combine, softmax with inverse temperature, categorical draw, MaskGIT confidence, top-k commit, and f + dt * v over both halves.',
  'Core samples only still-masked positions; PyTorch does what the reference sampler does (all positions, then -inf on revealed ones).',
  `Machine: ${cpus().length} cores (${cpus()[0]?.model.trim()}), load average ${load.toFixed(2)} at the start (other work inflates both columns alike). Random logits in [-4, 4]; core skips the exp of logits more than 60 below their row's maximum, which neither these rows nor the default bundle's guided rows reach, so every exp is computed here too.`,
  '',
  header,
  ...lines,
].join('\n');
console.log(table);

const benchPath = fileURLToPath(new URL('../../../BENCHMARKS.md', import.meta.url));
const start = '<!-- core-bench:start -->';
const end = '<!-- core-bench:end -->';
let doc = existsSync(benchPath) ? readFileSync(benchPath, 'utf8') : '# Benchmarks\n';
const block = `${start}\n${table}\n${end}`;
doc = doc.includes(start)
  ? doc.replace(new RegExp(`${start}[\\s\\S]*?${end}`), block)
  : `${doc.trimEnd()}\n\n## Core micro-benchmark\n\nRun: \`pnpm bench:core\` (writes this section).\n\n${block}\n`;
if (!quick) writeFileSync(benchPath, doc);
