import { createNodeBackend } from '@migm/backend-node';
import { bundleDir } from '/work/main/packages/bundle-fashion-mnist/index.js';
const threads = Number(process.env.T ?? 2);
const b = await createNodeBackend({ bundle: bundleDir(), threads, spinning: process.env.SPIN === '1' });
const L = 196, K = 256, D = 128, rows = 32, n = 12;
const tokens = new Int32Array(rows * L).fill(256);
for (let i = 0; i < tokens.length; i += 3) tokens[i] = i % 256;
const classes = new Int32Array(rows).map((_, i) => (i < 16 ? i % 10 : 10));
const logits = new Float32Array(rows * L * K);
async function time(label, fn, reps = 20) {
  for (let i = 0; i < 3; i++) await fn();
  const ts = [];
  for (let i = 0; i < reps; i++) { const t = performance.now(); await fn(); ts.push(performance.now() - t); }
  ts.sort((a, b) => a - b);
  console.log(label.padEnd(24), 'median', ts[reps >> 1].toFixed(2), 'min', ts[0].toFixed(2));
  return ts[reps >> 1];
}
const f0 = await b.forward({ tokens, classes, rows, logits });
const ctl = { count: n, tokens: new Int32Array(rows * n).map((_, i) => i % 256), positions: new Int32Array(rows * n).map((_, i) => (i * 7) % L), ratio: new Float32Array(rows).fill(0.5) };
const base = await time('base forward', async () => { const f = await b.forward({ tokens, classes, rows, logits }); b.release(f); });
const vel = await time('velocity', async () => { const v = await b.velocity(f0, ctl); b.release(v); });
const head = await time('head', async () => { await b.head(f0, logits); });
const comb = await time('combine f+dt*v', async () => { const v = await b.velocity(f0, ctl); const c = await b.combine([{ feature: f0, coef: 1 }, { feature: v, coef: 0.5 }]); b.release(v); b.release(c); });
console.log('velocity+head / base', ((vel + head) / base).toFixed(3), 'combine extra', (comb - vel).toFixed(2));
await b.dispose();
