import { createSamplerScratch } from '@migm/core/sampling';
import { sampleStepHost, type Backend, type DeviceLogits, type DeviceSampleStep } from '@migm/core/backend';

// The package builds without DOM or Node types; both runtimes have a global `performance`.
const now = (): number => (globalThis as unknown as { performance: { now(): number } }).performance.now();

/** What `samplerAgreementProbe` counted. */
export interface SamplerAgreement {
  /** Committed (position, token) pairs compared, and how many were identical. */
  total: number;
  same: number;
  /** sampleStep calls, and their summed time: core's reference on the host copy, and the backend's sampler. */
  steps: number;
  hostMs: number;
  deviceMs: number;
  /** The first differing pairs (at most 20): step number, image, [position, token] of each sampler. */
  readonly differing: { step: number; image: number; host: [number, number]; device: [number, number] }[];
}

/** A backend with a device sampler and a way to put host values into a logits handle (OrtBackend, WebGpuBackend). */
export type ProbedBackend = Backend & { writeLogits(logits: DeviceLogits, values: Float32Array): void };

/**
 * Wraps a backend with a device sampler so that every `sampleStep` is also run by core's reference
 * (`sampleStepHost`) on a host copy of the same logits, state and uniforms: run generate() on the returned
 * backend with `sampler: 'device'` and read the share of identical committed pairs over real trajectories, and
 * both samplers' time per step (the same calls, back to back). Model calls that write a logits handle write a
 * host copy first and upload it, so both samplers see the same values. For tests and benchmarks.
 */
export function samplerAgreementProbe(backend: ProbedBackend): { backend: Backend; stats: SamplerAgreement } {
  const { count: L, codebookSize: K, maskId } = backend.manifest.tokens;
  const mirrors = new Map<DeviceLogits, Float32Array>();
  const stats: SamplerAgreement = { total: 0, same: 0, steps: 0, hostMs: 0, deviceMs: 0, differing: [] };
  const into = async <T>(logits: Float32Array | DeviceLogits, rows: number, run: (l: Float32Array) => Promise<T>): Promise<T> => {
    const mirror = logits instanceof Float32Array ? undefined : mirrors.get(logits as DeviceLogits);
    if (!mirror) return run(logits as Float32Array);
    const host = mirror.subarray(0, rows * L * K);
    const out = await run(host);
    backend.writeLogits(logits as DeviceLogits, host);
    return out;
  };
  const probe: Backend = {
    name: backend.name,
    device: backend.device,
    manifest: backend.manifest,
    capabilities: backend.capabilities,
    forward: (input) => into(input.logits, input.rows, (logits) => backend.forward({ ...input, logits })),
    head: (f, logits) => into(logits, f.dims[0], (l) => backend.head(f, l)),
    combine: (t) => backend.combine(t),
    readFeature: (f) => backend.readFeature(f),
    decode: (t, b) => backend.decode(t, b),
    dispose: () => backend.dispose(),
    release: (x) => {
      mirrors.delete(x as DeviceLogits);
      backend.release(x);
    },
    createLogits: (rows) => {
      const h = backend.createLogits!(rows);
      mirrors.set(h, new Float32Array(rows * L * K));
      return h;
    },
    sampleStep: async (logits: DeviceLogits, step: DeviceSampleStep) => {
      const B = step.batch;
      const want = { ...step, revealedPositions: new Int32Array(B * step.count), revealedTokens: new Int32Array(B * step.count) };
      const scratch = createSamplerScratch(B, L, K);
      const t0 = now();
      sampleStepHost(mirrors.get(logits)!, L, K, maskId, want, scratch, new Int32Array(B * L));
      const t1 = now();
      await backend.sampleStep!(logits, step);
      stats.deviceMs += now() - t1;
      stats.hostMs += t1 - t0;
      stats.steps++;
      for (let i = 0; i < B * step.count; i++) {
        stats.total++;
        const [hp, ht, dp, dt] = [want.revealedPositions[i]!, want.revealedTokens[i]!, step.revealedPositions[i]!, step.revealedTokens[i]!];
        if (hp === dp && ht === dt) stats.same++;
        else if (stats.differing.length < 20) stats.differing.push({ step: stats.steps, image: Math.floor(i / step.count), host: [hp, ht], device: [dp, dt] });
      }
    },
  };
  if (backend.guidedHead) probe.guidedHead = (f, w, logits) => into(logits, f.dims[0] / 2, (l) => backend.guidedHead!(f, w, l));
  if (backend.velocity) probe.velocity = (f, c) => backend.velocity!(f, c);
  return { backend: probe, stats };
}
