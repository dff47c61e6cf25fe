#!/usr/bin/env node
// Fuzzes migm's public edges with seeded random inputs: generate() options, manifests, bundle files and
// backend call arguments, on the default bundle with onnxruntime-node. Not a CI test: run it after `pnpm build`:
//
//   node scripts/hardening/fuzz.mjs [--cases 300] [--seed 1] [--json docs/data/fuzz.json]
//
// Each family runs in its own child process (this script with --child), so a native crash kills only the
// child and is counted; a case that takes longer than --timeout seconds counts as a hang and the child is
// restarted after it. Every case ends as one of: typed (a MigmError with a code), accepted (ran and gave
// finite output with ids in range), untyped (any other error: a bug), crash, hang.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BUNDLE = join(ROOT, 'packages/bundle-fashion-mnist/bundle');
const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '300' },
    seed: { type: 'string', default: '1' },
    timeout: { type: 'string', default: '60' },
    json: { type: 'string' },
    child: { type: 'string' },
    from: { type: 'string', default: '0' },
  },
});
const FAMILIES = ['options', 'manifest', 'files', 'calls'];

// A small seeded PRNG (mulberry32): the fuzz cases are reproducible from --seed.
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const pick = (r, xs) => xs[Math.floor(r() * xs.length)];

const WEIRD = [
  undefined,
  null,
  0,
  -1,
  1,
  2,
  3,
  0.5,
  -0.5,
  1e-300,
  1e38,
  1e307,
  2 ** 31,
  2 ** 53,
  -(2 ** 53),
  Number.NaN,
  Infinity,
  -Infinity,
  '',
  'x',
  '7',
  true,
  false,
  [],
  [1, 2],
  {},
  { scale: 2 },
  () => 1,
  10n,
];

// ---------------------------------------------------------------------------------------------------- child

async function child(family, from, count, seed) {
  const core = await import(join(ROOT, 'packages/core/dist/index.js'));
  const node = await import(join(ROOT, 'packages/backend-node/dist/index.js'));
  const work = mkdtempSync(join(tmpdir(), 'migm-fuzz-'));
  const manifest = JSON.parse(readFileSync(join(BUNDLE, 'manifest.json'), 'utf8'));
  let shared;
  const backend = async () => (shared ??= await node.createNodeBackend({ bundle: BUNDLE, threads: 1 }));
  const K = manifest.tokens.codebookSize;
  const L = manifest.tokens.count;

  /** Runs one generate() and checks that what it accepted is sound. */
  async function soundRun(b, options) {
    const r = await core.generate(b, options);
    for (const t of r.tokens) if (!(t >= 0 && t < K)) throw new Error(`accepted run committed token ${t}`);
    const img = await b.decode(r.tokens, r.batch);
    for (const v of img.data) if (!Number.isFinite(v)) throw new Error('accepted run decoded a non-finite pixel');
  }

  /** Writes the manifest into a bundle copy, loads it, runs one small generate() and removes the copy. */
  async function loadAndRun(dir, m) {
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m));
    try {
      const b = await node.createNodeBackend({ bundle: dir, threads: 1 });
      try {
        await soundRun(b, { condition: 0, steps: 3, batch: 1, seed: 1 });
      } finally {
        await b.dispose();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  const cases = {
    async options(r) {
      const keys = [...core.GENERATE_OPTION_KEYS, 'budjet', 'Steps', 'seeed'];
      const o = { steps: 4, batch: 1, memoryLimit: 256 * 1024 ** 2 };
      const n = 1 + Math.floor(r() * 4);
      for (let i = 0; i < n; i++) {
        const k = pick(r, keys);
        if (k === 'signal' || k === 'onFeature') continue;
        o[k] = k === 'onStep' ? pick(r, [() => {}, 5, null]) : k === 'plan' ? pick(r, [[0], [0, 2], [1, 2], [0, 0], 'x', null]) : pick(r, WEIRD);
      }
      // Keep accepted runs cheap: a large steps or batch stays only when another option is already invalid.
      await soundRun(await backend(), o);
    },
    async manifest(r) {
      const m = structuredClone(manifest);
      const paths = [];
      const walk = (v, path) => {
        if (v && typeof v === 'object') for (const k of Object.keys(v)) walk(v[k], [...path, k]);
        paths.push(path);
      };
      walk(m, []);
      const n = 1 + Math.floor(r() * 3);
      for (let i = 0; i < n; i++) {
        const path = pick(
          r,
          paths.filter((p) => p.length > 0),
        );
        let parent = m;
        for (const k of path.slice(0, -1)) parent = parent?.[k];
        if (parent === null || typeof parent !== 'object') continue;
        const last = path.at(-1);
        if (r() < 0.2) delete parent[last];
        else
          parent[last] = pick(
            r,
            WEIRD.filter((w) => typeof w !== 'function' && typeof w !== 'bigint'),
          );
      }
      const dir = join(work, `m${Math.floor(r() * 1e9)}`);
      mkdirSync(dir);
      for (const f of manifest.files) copyFileSync(join(BUNDLE, f.path), join(dir, f.path));
      await loadAndRun(dir, m);
    },
    async files(r) {
      // A hostile bundle ships matching hashes, so damaged bytes reach the graph inspector and onnxruntime.
      const m = structuredClone(manifest);
      const dir = join(work, `f${Math.floor(r() * 1e9)}`);
      mkdirSync(dir);
      for (const f of manifest.files) copyFileSync(join(BUNDLE, f.path), join(dir, f.path));
      const entry = pick(r, m.files);
      const path = join(dir, entry.path);
      let bytes = new Uint8Array(readFileSync(path));
      const kind = pick(r, ['flip', 'truncate', 'zero', 'random', 'symlink', 'fifo', 'dir']);
      if (kind === 'flip') for (let i = 0; i < 1 + r() * 64; i++) bytes[Math.floor(r() * bytes.length)] ^= 1 << Math.floor(r() * 8);
      else if (kind === 'truncate') bytes = bytes.subarray(0, Math.floor(r() * bytes.length));
      else if (kind === 'zero') bytes.fill(0, Math.floor(r() * bytes.length));
      else if (kind === 'random') bytes = Uint8Array.from({ length: 1 + Math.floor(r() * 4096) }, () => Math.floor(r() * 256));
      rmSync(path);
      if (kind === 'symlink') symlinkSync(pick(r, ['/etc/passwd', '/dev/zero', '/dev/urandom', join(BUNDLE, entry.path)]), path);
      else if (kind === 'fifo') await new Promise((res, rej) => spawn('mkfifo', [path]).on('exit', (c) => (c === 0 ? res() : rej(new Error('mkfifo')))));
      else if (kind === 'dir') mkdirSync(path);
      else {
        writeFileSync(path, bytes);
        entry.bytes = bytes.length;
        entry.sha256 = createHash('sha256').update(bytes).digest('hex');
        if (entry.path === m.graphs.base.file && m.graphs.shortcut) m.graphs.shortcut.compatibility.baseSha256 = entry.sha256;
      }
      await loadAndRun(dir, m);
    },
    async calls(r) {
      const b = await backend();
      const arr = () =>
        pick(r, [
          new Int32Array(L),
          new Int32Array(L).fill(K),
          new Int32Array(L).fill(-1),
          new Int32Array(L + 1),
          new Float32Array(L),
          null,
          [0],
          'x',
          new Int32Array(2 * L).fill(K - 1),
        ]);
      const method = pick(r, ['decode', 'forward', 'head', 'velocity', 'combine', 'release', 'readFeature', 'guidedHead']);
      if (method === 'decode') {
        const img = await b.decode(arr(), pick(r, [1, 2, 0, -1, 1.5, NaN, null]));
        for (const v of img.data) if (!Number.isFinite(v)) throw new Error('decode returned a non-finite pixel');
      } else if (method === 'forward') {
        const rows = pick(r, [1, 2, 0, -1, 1.5]);
        const f = await b.forward({
          tokens: arr(),
          classes: pick(r, [new Int32Array(1), new Int32Array([10]), new Int32Array([11]), new Int32Array([-1]), new Int32Array(2)]),
          rows,
          logits: pick(r, [new Float32Array(L * K), new Float32Array(2 * L * K), new Float32Array(3)]),
        });
        b.release(f);
      } else {
        const junk = pick(r, [null, {}, { dims: [1, L, 128] }, 5, 'feature']);
        const args = {
          head: [junk, new Float32Array(L * K)],
          velocity: [junk, { tokens: new Int32Array(1), positions: new Int32Array(1), count: 1, ratio: new Float32Array(1) }],
          combine: [pick(r, [[], [{ feature: junk, coef: 1 }], null])],
          release: [junk],
          readFeature: [junk],
          guidedHead: [junk, 1, new Float32Array(L * K)],
        }[method];
        await b[method](...args);
      }
    },
  };

  for (let i = from; i < count; i++) {
    const r = rng(seed * 1_000_003 + FAMILIES.indexOf(family) * 100_003 + i);
    process.stdout.write(`${JSON.stringify({ start: i })}\n`);
    let outcome;
    try {
      await cases[family](r);
      outcome = { result: 'accepted' };
    } catch (err) {
      outcome = core.isMigmError(err)
        ? { result: 'typed', code: err.code }
        : {
            result: 'untyped',
            error: String(err?.stack ?? err)
              .split('\n')
              .slice(0, 3)
              .join(' | '),
          };
    }
    process.stdout.write(`${JSON.stringify({ done: i, ...outcome })}\n`);
  }
  await shared?.dispose();
  rmSync(work, { recursive: true, force: true });
}

// --------------------------------------------------------------------------------------------------- parent

function runFamily(family, count, seed, timeoutS) {
  return new Promise((resolvePromise) => {
    const tally = { tried: 0, typed: 0, accepted: 0, untyped: 0, crashes: 0, hangs: 0, codes: {}, untypedSamples: [] };
    const startChild = (from) => {
      if (from >= count) return resolvePromise(tally);
      const p = spawn(
        process.execPath,
        [fileURLToPath(import.meta.url), '--child', family, '--from', String(from), '--cases', String(count), '--seed', String(seed)],
        {
          env: { ...process.env, ORT_DISABLE_TELEMETRY: '1' },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let current = from;
      let pending = '';
      let timer;
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => {
          tally.hangs++;
          tally.tried++;
          p.kill('SIGKILL');
        }, timeoutS * 1000);
      };
      let finished = false;
      p.stdout.on('data', (d) => {
        pending += d;
        let nl;
        while ((nl = pending.indexOf('\n')) >= 0) {
          const line = JSON.parse(pending.slice(0, nl));
          pending = pending.slice(nl + 1);
          if ('start' in line) {
            current = line.start;
            arm();
          } else {
            clearTimeout(timer);
            tally.tried++;
            tally[line.result]++;
            if (line.code) tally.codes[line.code] = (tally.codes[line.code] ?? 0) + 1;
            if (line.result === 'untyped' && tally.untypedSamples.length < 10) tally.untypedSamples.push({ case: line.done, error: line.error });
            current = line.done + 1;
          }
        }
      });
      p.stderr.on('data', () => {}); // onnxruntime warnings about damaged graphs are expected
      p.on('exit', (code, signal) => {
        clearTimeout(timer);
        if (finished) return;
        finished = true;
        if (code === 0) return resolvePromise(tally);
        if (signal !== 'SIGKILL') {
          tally.crashes++;
          tally.tried++;
          tally.untypedSamples.push({ case: current, error: `child exited with ${signal ?? `code ${code}`}` });
        }
        startChild(current + 1);
      });
    };
    startChild(0);
  });
}

if (values.child) {
  await child(values.child, Number(values.from), Number(values.cases), Number(values.seed));
} else {
  const count = Number(values.cases);
  const seed = Number(values.seed);
  const t0 = performance.now();
  const results = {};
  for (const family of FAMILIES) {
    const t = performance.now();
    results[family] = await runFamily(family, count, seed, Number(values.timeout));
    results[family].seconds = Math.round((performance.now() - t) / 1000);
    console.log(`${family.padEnd(9)} ${JSON.stringify(results[family])}`);
  }
  const total = { tried: 0, typed: 0, accepted: 0, untyped: 0, crashes: 0, hangs: 0 };
  for (const r of Object.values(results)) for (const k of Object.keys(total)) total[k] += r[k];
  console.log('\n| family | tried | typed errors | accepted | untyped errors | crashes | hangs |\n|---|---|---|---|---|---|---|');
  for (const [f, r] of Object.entries(results)) console.log(`| ${f} | ${r.tried} | ${r.typed} | ${r.accepted} | ${r.untyped} | ${r.crashes} | ${r.hangs} |`);
  console.log(`| **all** | ${total.tried} | ${total.typed} | ${total.accepted} | ${total.untyped} | ${total.crashes} | ${total.hangs} |`);
  console.log(`\n${Math.round((performance.now() - t0) / 1000)} s, seed ${seed}, ${count} cases per family`);
  if (values.json) {
    mkdirSync(dirname(values.json), { recursive: true });
    writeFileSync(values.json, `${JSON.stringify({ date: new Date().toISOString(), seed, casesPerFamily: count, total, results }, null, 2)}\n`);
  }
  process.exitCode = total.untyped + total.crashes + total.hangs > 0 ? 1 : 0;
}
