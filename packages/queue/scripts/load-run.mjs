// A bounded load run of the HTTP front with the token on (not a test; needs a build): a steady phase of
// --requests requests spread over --duration seconds, then a burst of --burst requests at once. Each request is
// POST /jobs, then GET /jobs/ID/events until `completed`. Prints a table and writes JSON.
//
//   node packages/queue/scripts/load-run.mjs [--requests 200] [--duration 60] [--burst 100] [--out queue-load-run.json]
//
// Everything runs on this machine on loopback: redis-server, one worker process (scripts/worker-process.mjs,
// batch 16, onnxruntime threads from MIGM_THREADS, default 1), the front (scripts/serve-process.mjs) and this
// load generator. Requests: one image each, class i % 10, seed i, shortcut N = 8, B = 3 on the default bundle.
// Each phase also sends 10 requests with a wrong token and 5 text/plain POSTs; they must be refused (401, 415).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';

process.env.ORT_DISABLE_TELEMETRY ??= '1';
const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '200' },
    duration: { type: 'string', default: '60' },
    burst: { type: 'string', default: '100' },
    out: { type: 'string', default: 'queue-load-run.json' },
  },
});
const REQUESTS = Number(values.requests);
const DURATION_S = Number(values.duration);
const BURST = Number(values.burst);
const TOKEN = `load-run-${Math.random().toString(16).slice(2)}-${Date.now()}`;
const QUEUE = 'load';
const LOAD_START = loadavg()[0];
const here = (f) => fileURLToPath(new URL(f, import.meta.url));

async function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const children = new Set();
const cleanup = () => children.forEach((c) => c.exitCode === null && c.signalCode === null && c.kill('SIGKILL'));
process.on('exit', cleanup);
const dir = mkdtempSync(join(tmpdir(), 'migm-load-'));
process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

const redisPort = await freePort();
const url = `redis://127.0.0.1:${redisPort}`;
const redisProc = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
  stdio: 'ignore',
});
children.add(redisProc);
const redis = new Redis(url, { maxRetriesPerRequest: null, retryStrategy: (n) => (n > 50 ? null : 100) });
redis.on('error', () => {});
await redis.ping();

/** Starts a node script; resolves with the process and its first stdout line matching `ready`. */
function start(script, args, ready, env = {}) {
  const proc = spawn(process.execPath, [script, ...args], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  children.add(proc);
  return new Promise((resolve, reject) => {
    let out = '';
    const onData = (d) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) {
        proc.stdout.off('data', onData);
        resolve({ proc, match: m });
      }
    };
    proc.stdout.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`${script} exited with ${code}`)));
  });
}

const worker = (await start(here('./worker-process.mjs'), [url, QUEUE, '16', 'W'], /ready/)).proc;
const front = await start(here('./serve-process.mjs'), [url, QUEUE], /port (\d+)/, { MIGM_TOKEN: TOKEN });
const base = `http://127.0.0.1:${front.match[1]}`;

/** The front's own view: memory and pending waits. */
function frontStats() {
  return new Promise((resolve) => {
    const onData = (d) => {
      const line = d
        .toString()
        .trim()
        .split('\n')
        .find((l) => l.startsWith('{'));
      if (!line) return;
      front.proc.stdout.off('data', onData);
      resolve(JSON.parse(line));
    };
    front.proc.stdout.on('data', onData);
    front.proc.stdin.write('stats\n');
  });
}
const rssOf = (pid) => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
const redisMemory = async () => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))[1]);

async function snapshot() {
  const f = await frontStats();
  return {
    frontRss: f.rss,
    frontHeap: f.heapUsed,
    frontConnections: f.connections,
    waiters: f.waiters,
    listeners: f.listeners,
    workerRss: rssOf(worker.pid),
    redisBytes: await redisMemory(),
  };
}

const auth = { authorization: `Bearer ${TOKEN}` };
/** One request end to end: POST, then the event stream until completed. */
async function one(i) {
  const t0 = performance.now();
  try {
    const body = JSON.stringify({ condition: i % 10, batch: 1, steps: 8, budget: 3, predictor: 'shortcut', seed: i });
    const posted = await fetch(`${base}/jobs`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body });
    const postMs = performance.now() - t0;
    if (posted.status !== 202) return { ok: false, postMs, error: `POST ${posted.status}` };
    const { id } = await posted.json();
    const events = await (await fetch(`${base}${posted.headers.get('location')}/events`, { headers: auth })).text();
    if (!events.includes('event: completed')) return { ok: false, postMs, error: `job ${id} did not complete` };
    return { ok: true, postMs, totalMs: performance.now() - t0 };
  } catch (err) {
    return { ok: false, postMs: performance.now() - t0, error: err.message };
  }
}
/** Requests that must be refused: a wrong token (401) and text/plain (415). */
async function hostile() {
  const wrong = Array.from({ length: 10 }, () =>
    fetch(`${base}/jobs`, { method: 'POST', headers: { authorization: 'Bearer wrong-token-0123456789', 'content-type': 'application/json' }, body: '{}' }),
  );
  const plain = Array.from({ length: 5 }, () =>
    fetch(`${base}/jobs`, { method: 'POST', headers: { ...auth, 'content-type': 'text/plain' }, body: '{"condition":1}' }),
  );
  const statuses = (await Promise.all([...wrong, ...plain])).map((r) => r.status);
  return { refused: statuses.filter((s, i) => s === (i < 10 ? 401 : 415)).length, sent: statuses.length };
}

const pct = (xs, p) => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
function summary(name, results, wallS, refusals) {
  const ok = results.filter((r) => r.ok);
  const errors = results.filter((r) => !r.ok);
  return {
    phase: name,
    requests: results.length,
    wallS: Math.round(wallS * 10) / 10,
    errors: errors.length,
    errorSamples: [...new Set(errors.map((e) => e.error))].slice(0, 5),
    postP50: pct(
      results.map((r) => r.postMs),
      50,
    ),
    postP95: pct(
      results.map((r) => r.postMs),
      95,
    ),
    totalP50: pct(
      ok.map((r) => r.totalMs),
      50,
    ),
    totalP95: pct(
      ok.map((r) => r.totalMs),
      95,
    ),
    refused: `${refusals.refused}/${refusals.sent}`,
  };
}

const before = await snapshot();
// Steady: evenly spaced over the duration.
let t0 = performance.now();
const steady = await Promise.all([
  ...Array.from({ length: REQUESTS }, (_, i) => new Promise((r) => setTimeout(r, (i * DURATION_S * 1000) / REQUESTS)).then(() => one(i))),
]);
const steadyRefused = await hostile();
const steadyS = (performance.now() - t0) / 1000;
const mid = await snapshot();
// Burst: all at once.
t0 = performance.now();
const [burst, burstRefused] = await Promise.all([Promise.all(Array.from({ length: BURST }, (_, i) => one(REQUESTS + i))), hostile()]);
const burstS = (performance.now() - t0) / 1000;
await new Promise((r) => setTimeout(r, 6000)); // past the front's 5 s keep-alive: idle client sockets are closed
const after = await snapshot();

const rows = [
  summary(`steady: ${REQUESTS} over ${DURATION_S} s`, steady, steadyS, steadyRefused),
  summary(`burst: ${BURST} at once`, burst, burstS, burstRefused),
];
const mb = (b) => (b / 1e6).toFixed(1);
const ms = (x) => (Number.isNaN(x) ? '-' : x.toFixed(0));
const table = [
  '| phase | requests | wall s | errors | POST p50 / p95 ms | end-to-end p50 / p95 ms | wrong token / text/plain refused |',
  '|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.phase} | ${r.requests} | ${r.wallS} | ${r.errors} | ${ms(r.postP50)} / ${ms(r.postP95)} | ${ms(r.totalP50)} / ${ms(r.totalP95)} | ${r.refused} |`,
  ),
  '',
  '| memory | before | after steady | after burst |',
  '|---|---|---|---|',
  `| front RSS (MB) | ${mb(before.frontRss)} | ${mb(mid.frontRss)} | ${mb(after.frontRss)} |`,
  `| front heap used (MB) | ${mb(before.frontHeap)} | ${mb(mid.frontHeap)} | ${mb(after.frontHeap)} |`,
  `| worker RSS (MB) | ${mb(before.workerRss)} | ${mb(mid.workerRss)} | ${mb(after.workerRss)} |`,
  `| Redis used_memory (MB) | ${mb(before.redisBytes)} | ${mb(mid.redisBytes)} | ${mb(after.redisBytes)} |`,
  `| front: open connections / result waiters / progress listeners | ${before.frontConnections} / ${before.waiters} / ${before.listeners} | ${mid.frontConnections} / ${mid.waiters} / ${mid.listeners} | ${after.frontConnections} / ${after.waiters} / ${after.listeners} |`,
].join('\n');
console.log(table);
const report = {
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, model: cpus()[0]?.model, load1Start: LOAD_START, load1End: loadavg()[0] },
  settings: {
    requests: REQUESTS,
    durationS: DURATION_S,
    burst: BURST,
    workerBatch: 16,
    threads: Number(process.env.MIGM_THREADS ?? 1),
    request: { batch: 1, steps: 8, budget: 3, predictor: 'shortcut' },
  },
  phases: rows,
  memory: { before, afterSteady: mid, afterBurst: after },
  completedJobs: await redis.zcard(`bull:${QUEUE}:completed`),
};
writeFileSync(values.out, `${JSON.stringify(report, null, 2)}\n`);
console.log(`\nwrote ${values.out}; load average ${LOAD_START.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end`);
front.proc.kill('SIGTERM');
worker.kill('SIGTERM');
await Promise.all([front.proc, worker].map((p) => new Promise((r) => (p.exitCode !== null ? r() : p.once('exit', r)))));
redis.disconnect();
process.exit(0);
