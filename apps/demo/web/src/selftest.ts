// The backend self-test page: core's conformance suite and a first-step probe, in a real browser. The
// end-to-end test drives `window.selftest`; people can press the button.
import { generate, type GenerateOptions } from '@migm/core';
import { backendConformance } from '@migm/core/testing';
import { createWebBackend, fetchBundle, type DtypeOption, type WebBackend, type WebDevice } from '@migm/backend-web';

const wasmPaths = new URL('ort/', document.baseURI).href;
const defaultBundle = new URL(new URLSearchParams(location.search).get('bundle') ?? 'bundle/', document.baseURI).href;

export interface CaseResult {
  readonly name: string;
  readonly ok: boolean;
  readonly ms: number;
  readonly error?: string;
}

async function conformance(device: WebDevice, bundleUrl = defaultBundle, deviceFeatures = true): Promise<CaseResult[]> {
  const bundle = await fetchBundle(bundleUrl, { cache: false });
  const { cases, cleanup } = backendConformance({
    create: async () => {
      const b = await createWebBackend({ bundle, device, wasmPaths, deviceFeatures });
      if (b.device !== device || b.capabilities.deviceFeatures !== (device === 'webgpu' && deviceFeatures))
        throw new Error(`got ${b.device} with deviceFeatures ${b.capabilities.deviceFeatures}`);
      return b;
    },
    liveFeatures: (b) => (b as WebBackend).liveFeatures,
  });
  const results: CaseResult[] = [];
  try {
    for (const c of cases) {
      const t0 = performance.now();
      try {
        await c.run();
        results.push({ name: c.name, ok: true, ms: performance.now() - t0 });
      } catch (err) {
        results.push({ name: c.name, ok: false, ms: performance.now() - t0, error: err instanceof Error ? err.message : String(err) });
      }
    }
  } finally {
    await cleanup();
  }
  return results;
}

/** Runs generate() and returns the logits of its first model call (step 0) and the final tokens. `dtype`: the bundle's precision variants. */
async function firstStep(
  device: WebDevice,
  options: GenerateOptions,
  bundleUrl = defaultBundle,
  dtype?: DtypeOption,
): Promise<{ device: string; deviceFeatures: boolean; logits: number[]; tokens: number[] }> {
  const backend = await createWebBackend({ bundle: bundleUrl, device, wasmPaths, fetch: { cache: false }, ...(dtype !== undefined ? { dtype } : {}) });
  try {
    let first: Float32Array | undefined;
    const forward = backend.forward.bind(backend);
    backend.forward = async (input) => {
      const f = await forward(input);
      // The probe runs with the host sampler (options.sampler), so the logits are a host array here.
      if (input.logits instanceof Float32Array) first ??= input.logits.slice();
      return f;
    };
    const r = await generate(backend, options);
    if (!first) throw new Error("firstStep: the first step's logits stayed on the device; pass sampler: 'host'");
    return { device: backend.device, deviceFeatures: backend.capabilities.deviceFeatures, logits: Array.from(first), tokens: Array.from(r.tokens) };
  } finally {
    await backend.dispose();
  }
}

/** Per-image latency of generate() (ms), for the benchmark: `warmup` runs, then `runs` timed ones. */
async function bench(
  device: WebDevice,
  options: GenerateOptions,
  runs: number,
  warmup: number,
  bundleUrl = defaultBundle,
  numThreads?: number,
): Promise<{ device: string; threads: number; msPerImage: number[] }> {
  const backend = await createWebBackend({ bundle: bundleUrl, device, wasmPaths, fetch: { cache: false }, ...(numThreads ? { numThreads } : {}) });
  try {
    const ms: number[] = [];
    for (let i = 0; i < warmup + runs; i++) {
      const r = await generate(backend, options);
      if (i >= warmup) ms.push(r.timings.totalMs / r.batch);
    }
    return { device: backend.device, threads: backend.selection.numThreads, msPerImage: ms };
  } finally {
    await backend.dispose();
  }
}

/** One phase of `textToImage`: ms from the call's start. */
export interface TextToImageReport {
  readonly ok: boolean;
  /** The error when a phase failed: its class name, MigmError code (if any) and message. */
  readonly error?: { readonly name: string; readonly code?: string; readonly message: string };
  /** Where it stopped or finished: 'load', 'generate', 'decode' or 'done'. */
  readonly phase: string;
  readonly device?: string;
  readonly threads?: number;
  /** Byte progress: events heard, the first byte, every byte verified, and files. */
  readonly bytes: {
    readonly events: number;
    readonly loaded: number;
    readonly total: number;
    readonly firstMs: number | undefined;
    readonly doneMs: number | undefined;
  };
  readonly files: readonly { readonly file: string; readonly bytes: number; readonly doneMs: number }[];
  readonly sessions: readonly { readonly role: string; readonly startMs: number; readonly doneMs?: number }[];
  readonly loadMs?: number;
  /** Text encoder calls (ms each) and the base model's steps (ms since the run's start, per step). */
  readonly encodeMs: readonly number[];
  readonly stepMs: readonly number[];
  readonly generateMs?: number;
  readonly decodeMs?: number;
  readonly totalMs: number;
  readonly image?: {
    readonly width: number;
    readonly height: number;
    readonly channels: number;
    readonly finite: boolean;
    readonly min: number;
    readonly max: number;
  };
  readonly truncated?: boolean;
}

/**
 * Loads a text-conditioned bundle by URL (byte progress recorded), generates one image from a prompt at the
 * bundle's sampling defaults and decodes it, timing each phase. Never throws: a failure is reported with the
 * phase it happened in, so a benchmark tells a typed refusal from a crash.
 */
async function textToImage(
  device: WebDevice,
  bundleUrl: string,
  prompt: string,
  options: { dtype?: DtypeOption; seed?: number; steps?: number; log?: boolean } = {},
): Promise<TextToImageReport> {
  const t0 = performance.now();
  const at = () => performance.now() - t0;
  // With `log`, each phase boundary goes to the console as it happens (a benchmark driving the page sees how far a
  // load that never returns got).
  const note = (what: string) => {
    if (options.log) console.info(`textToImage ${(at() / 1000).toFixed(1)} s: ${what}`);
  };
  const bytes = { events: 0, loaded: 0, total: 0, firstMs: undefined as number | undefined, doneMs: undefined as number | undefined };
  const files: { file: string; bytes: number; doneMs: number }[] = [];
  const sessions: { role: string; startMs: number; doneMs?: number }[] = [];
  const encodeMs: number[] = [];
  const stepMs: number[] = [];
  let phase = 'load';
  const report = (extra: Partial<TextToImageReport>): TextToImageReport => ({
    ok: false,
    phase,
    bytes: { ...bytes },
    files,
    sessions,
    encodeMs,
    stepMs,
    totalMs: at(),
    ...extra,
  });
  let backend: WebBackend | undefined;
  try {
    backend = await createWebBackend({
      bundle: bundleUrl,
      device,
      wasmPaths,
      fetch: { cache: false },
      ...(options.dtype !== undefined ? { dtype: options.dtype } : {}),
      onProgress: (e) => {
        if (e.type === 'file-start' || e.type === 'file-progress' || e.type === 'file-done') {
          bytes.events++;
          bytes.loaded = e.totalLoaded;
          bytes.total = e.totalBytes;
          if (bytes.firstMs === undefined && e.totalLoaded > 0) bytes.firstMs = at();
          if (e.type === 'file-done') files.push({ file: e.file, bytes: e.total, doneMs: at() });
          if (e.totalLoaded === e.totalBytes && bytes.doneMs === undefined) {
            bytes.doneMs = at();
            note(`every byte verified (${e.totalBytes} bytes)`);
          }
        } else if (e.type === 'session-start') {
          sessions.push({ role: e.role, startMs: at() });
          note(`session ${e.role} starts`);
        } else if (e.type === 'session-done') {
          const s = sessions.find((x) => x.role === e.role && x.doneMs === undefined);
          if (s) s.doneMs = at();
          note(`session ${e.role} ready`);
        }
      },
    });
    const loadMs = at();
    note('loaded');
    phase = 'generate';
    const b = backend;
    if (b.encodeText) {
      const encode = b.encodeText.bind(b);
      b.encodeText = async (ids, count) => {
        const s = performance.now();
        const h = await encode(ids, count);
        encodeMs.push(performance.now() - s);
        return h;
      };
    }
    const g0 = performance.now();
    const r = await generate(b, {
      prompt,
      seed: options.seed ?? 0,
      predictor: 'vanilla',
      ...(options.steps !== undefined ? { steps: options.steps } : {}),
      onStep: (e) => {
        stepMs.push(e.elapsedMs);
        note(`step ${e.step + 1} of ${e.steps}`);
      },
    });
    const generateMs = performance.now() - g0;
    phase = 'decode';
    const d0 = performance.now();
    const img = await b.decode(r.tokens, r.batch);
    const decodeMs = performance.now() - d0;
    let min = Infinity;
    let max = -Infinity;
    let finite = true;
    for (const v of img.data) {
      if (!Number.isFinite(v)) finite = false;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    phase = 'done';
    return report({
      ok: true,
      device: b.device,
      threads: b.selection.numThreads,
      loadMs,
      generateMs,
      decodeMs,
      image: { width: img.width, height: img.height, channels: img.channels, finite, min, max },
      truncated: r.text?.truncated === true,
    });
  } catch (err) {
    const e = err as { name?: string; code?: string; message?: string };
    note(`failed in ${phase}: ${String(e?.message ?? err).slice(0, 300)}`);
    return report({
      error: { name: String(e?.name ?? typeof err), ...(typeof e?.code === 'string' ? { code: e.code } : {}), message: String(e?.message ?? err) },
    });
  } finally {
    await backend?.dispose().catch(() => undefined);
  }
}

/** A backend for experiments from the console: `await selftest.backend('wasm')`. */
const backend = (device: WebDevice, bundleUrl = defaultBundle) => createWebBackend({ bundle: bundleUrl, device, wasmPaths, fetch: { cache: false } });

const api = { conformance, firstStep, bench, textToImage, backend, crossOriginIsolated: globalThis.crossOriginIsolated === true };
(window as unknown as { selftest: typeof api }).selftest = api;

const out = document.getElementById('out')!;
const button = document.getElementById('run') as HTMLButtonElement;
button.addEventListener('click', async () => {
  button.disabled = true;
  document.body.dataset.state = 'running';
  out.replaceChildren();
  try {
    const device = (document.getElementById('device') as HTMLSelectElement).value as WebDevice;
    for (const r of await conformance(device)) {
      const li = document.createElement('li');
      li.textContent = `${r.ok ? 'pass' : 'FAIL'} · ${r.name} (${r.ms.toFixed(0)} ms)${r.error ? `: ${r.error}` : ''}`;
      li.style.color = r.ok ? '' : '#b42318';
      out.append(li);
    }
  } catch (err) {
    const li = document.createElement('li');
    li.textContent = `The suite could not start: ${err instanceof Error ? err.message : String(err)}`;
    out.append(li);
  } finally {
    button.disabled = false;
    document.body.dataset.state = 'idle';
  }
});
