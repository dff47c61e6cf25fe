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

/** A backend for experiments from the console: `await selftest.backend('wasm')`. */
const backend = (device: WebDevice, bundleUrl = defaultBundle) => createWebBackend({ bundle: bundleUrl, device, wasmPaths, fetch: { cache: false } });

const api = { conformance, firstStep, bench, backend, crossOriginIsolated: globalThis.crossOriginIsolated === true };
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
