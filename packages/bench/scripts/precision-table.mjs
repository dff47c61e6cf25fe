// The markdown tables of one or more precision-quality runs (dist/precision.js --out FILE.json), for BENCHMARKS.md:
// (1) one row per setting and dtype: every evaluator's FD against the test set and its change against fp32, the
// share of tokens equal to fp32's; (2) with --noise-seed runs, each row's FD to the reference draw (fp32 at the
// first noise seed); then each variant's verdict under the 2% rule over all rows, and how far the noise rows
// moved. Runs split over processes (--settings, --dtypes) are read together; a row that two files both hold (fp32,
// the noise draws) must agree to the last digit, since a seed fixes every draw, and is shown once.
//   node packages/bench/scripts/precision-table.mjs vanilla.json shortcut.json
import { readFileSync } from 'node:fs';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: precision-table.mjs RUN.json [RUN.json ...]');
  process.exit(2);
}
const rows = [];
for (const f of files) {
  const run = JSON.parse(readFileSync(f, 'utf8'));
  for (const row of run.rows) {
    const r = { ...row, noise: row.seed !== undefined && row.seed !== run.seed, key: `${row.setting}|${row.dtype}|${row.seed}` };
    const twin = rows.find((o) => o.key === r.key);
    if (!twin) rows.push(r);
    else if (JSON.stringify(twin.fd) !== JSON.stringify(r.fd)) {
      console.error(`${f}: ${r.key} differs from another file's (${JSON.stringify(twin.fd)} vs ${JSON.stringify(r.fd)})`);
      process.exit(1);
    }
  }
}
const settings = [...new Set(rows.map((r) => r.setting))];
rows.sort((a, b) => settings.indexOf(a.setting) - settings.indexOf(b.setting) || rank(a) - rank(b));
function rank(r) {
  // fp32, its other draws, then int8, int4, fp16, each before its per-graph entries ('int4:base+shortcut').
  const [d, roles] = r.dtype.split(':');
  return r.dtype === 'fp32' ? (r.noise ? 1 + r.seed / 1e9 : 0) : 2 + ['int8', 'int4', 'fp16'].indexOf(d) + (roles ? 0.1 + roles.length / 1e3 : 0);
}
const evaluators = Object.keys(rows[0].fd);
const pct = (x) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(2)}%`;
const label = (r) => (r.noise ? `fp32, other seeds (${r.seed}+)` : r.dtype);
const table = (head, body) =>
  [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`, ...body.map((c) => `| ${c.join(' | ')} |`)].join('\n');

console.log(
  table(
    ['setting', 'dtype', ...evaluators.flatMap((e) => [`FD ${e}`, 'change']), 'tokens equal to fp32'],
    rows.map((r) => [
      r.setting,
      label(r),
      ...evaluators.flatMap((e) => {
        const c = r.fdChange[e];
        return [r.fd[e].toFixed(3), !r.noise && r.dtype !== 'fp32' && c >= 0.02 ? `**${pct(c)}**` : pct(c)];
      }),
      `${(100 * r.tokenAgreement).toFixed(2)}%`,
    ]),
  ),
);
const withRef = rows.filter((r) => r.fdToReference);
if (withRef.length > 0) {
  console.log('');
  console.log(
    table(
      ['setting', 'dtype', ...evaluators.map((e) => `FD ${e} to the reference draw`)],
      withRef.map((r) => [r.setting, label(r), ...evaluators.map((e) => r.fdToReference[e].toFixed(3))]),
    ),
  );
}
console.log('');
const dtypes = [...new Set(rows.filter((r) => !r.noise && r.dtype !== 'fp32').map((r) => r.dtype))];
for (const d of dtypes) {
  const own = rows.filter((r) => !r.noise && r.dtype === d);
  const over = own.flatMap((r) => evaluators.filter((e) => r.fdChange[e] >= 0.02).map((e) => `${r.setting} ${e} ${pct(r.fdChange[e])}`));
  console.log(`- ${d}: ${over.length === 0 ? 'under 2% under every evaluator in every setting' : `not under 2% everywhere (${over.join('; ')})`}`);
}
const noise = rows.filter((r) => r.noise);
if (noise.length > 0) {
  const worst = Math.max(...noise.flatMap((r) => evaluators.map((e) => Math.abs(r.fdChange[e]))));
  console.log(`- fp32 drawn with other seeds moved FD by up to ${pct(worst).slice(1)} (${noise.length} rows): sampling alone.`);
}
