import { MigmError, nonFiniteLogits, type DeviceSampleStep, type Manifest } from '@migm/core/backend';
import { buildSamplerGraph, SAMPLER_IO, type SamplerPrecision } from './sampler-graph.js';
import { errorText } from './sessions.js';
import type { InferenceSession, Tensor } from './ort-types.js';

/** What the sampler needs of an onnxruntime module (onnxruntime-node or onnxruntime-web). */
export interface SamplerOrt {
  readonly InferenceSession: { create(buffer: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession> };
  readonly Tensor: {
    new (type: 'float32', data: Float32Array, dims: readonly number[]): Tensor;
    new (type: 'float64', data: Float64Array, dims: readonly number[]): Tensor;
    new (type: 'int32', data: Int32Array, dims: readonly number[]): Tensor;
    new (type: 'int64', data: BigInt64Array, dims: readonly number[]): Tensor;
  };
}

export interface DeviceSamplerOptions {
  readonly ort: SamplerOrt;
  readonly manifest: Manifest;
  /** 'float64' on CPU providers (parity with the host sampler), 'float32' on WebGPU. */
  readonly precision: SamplerPrecision;
  /** Session options of the sampler graph (execution providers, threads). */
  readonly sessionOptions?: InferenceSession.SessionOptions;
  /** Where the run happens, for error messages (e.g. "onnxruntime-node on cpu"). */
  readonly where: string;
}

/** Bytes one `sampleStep` moves between the host and the sampler's session (for benchmarks and docs). */
export interface SamplerTraffic {
  /** Host to device: row indices, u0, the noise, scalars and k. */
  readonly up: number;
  /** Device to host: picks, token ids and the non-finite flag. */
  readonly down: number;
}

/**
 * Runs core's sampling step (`DeviceSampleStep`) as an onnxruntime graph next to the logits. The host does the
 * O(B L) part: it lists each image's masked positions, computes the confidence noise from u1 exactly as the host
 * sampler does (so that term is bit-identical everywhere), and maps the committed indices back to ascending
 * positions; the graph does the O(B m K) part (guidance, softmax, the inverse-CDF draw, log p, top-k). Two graphs,
 * guided and plain, are built on first use and kept.
 */
export class DeviceSampler {
  readonly #o: DeviceSamplerOptions;
  readonly #sessions = new Map<boolean, Promise<InferenceSession>>();
  #released = false;

  constructor(options: DeviceSamplerOptions) {
    this.#o = options;
  }

  /** Bytes a step of `batch` images with `masked` masked positions each and `count` commits moves. */
  traffic(batch: number, masked: number, count: number, guided: boolean): SamplerTraffic {
    const t = this.#o.precision === 'float64' ? 8 : 4;
    const idx = (guided ? 2 : 1) * batch * masked * 4;
    return { up: idx + 2 * batch * masked * t + (guided ? 2 : 1) * t + 8, down: 2 * batch * count * 8 + 4 + 8 };
  }

  /**
   * One step: reads `logits` (a tensor [R, L, K] where the model wrote them), writes `step.revealedPositions`
   * and `step.revealedTokens`. `masked` is the masked count per image (from `checkSampleStep`). Non-finite
   * logits at a masked position throw core's `nonFiniteLogits` error naming the first such image and position.
   */
  async run(logits: Tensor, step: DeviceSampleStep, masked: number): Promise<void> {
    const { count: L, maskId } = this.#o.manifest.tokens;
    const { batch: B, state, uniforms, count: k } = step;
    const m = masked;
    // The host sampler reads only the conditional rows when the weight is 0; so does the plain graph.
    const guided = step.guided && step.weight !== 0;
    const f64 = this.#o.precision === 'float64';
    const positions = new Int32Array(B * m);
    const condRows = new Int32Array(B * m);
    const target = f64 ? new Float64Array(B * m) : new Float32Array(B * m);
    const noise = f64 ? new Float64Array(B * m) : new Float32Array(B * m);
    for (let b = 0, j = 0; b < B; b++) {
      for (let p = 0; p < L; p++) {
        const at = b * L + p;
        if (state[at] !== maskId) continue;
        positions[j] = p;
        condRows[j] = at;
        target[j] = uniforms[2 * at]!;
        // The same expression as core's host sampler, so this term has the same bits.
        noise[j] = step.noiseScale * -Math.log(-Math.log(uniforms[2 * at + 1]!));
        j++;
      }
    }
    const { Tensor } = this.#o.ort;
    const scalar = (v: number): Tensor => (f64 ? new Tensor('float64', Float64Array.of(v), [1]) : new Tensor('float32', Float32Array.of(v), [1]));
    const vec = (v: Float64Array | Float32Array): Tensor => (v instanceof Float64Array ? new Tensor('float64', v, [B, m]) : new Tensor('float32', v, [B, m]));
    const feeds: Record<string, Tensor> = {
      [SAMPLER_IO.logits]: logits,
      [SAMPLER_IO.condRows]: new Tensor('int32', condRows, [B, m]),
      [SAMPLER_IO.target]: vec(target),
      [SAMPLER_IO.noise]: vec(noise),
      [SAMPLER_IO.k]: new Tensor('int64', BigInt64Array.of(BigInt(k)), [1]),
    };
    if (guided) {
      // a and b as core's guideRow computes them, in float64.
      feeds[SAMPLER_IO.a] = scalar(step.invTemp * (1 + step.weight));
      feeds[SAMPLER_IO.b] = scalar(step.invTemp * step.weight);
      feeds[SAMPLER_IO.uncondRows] = new Tensor(
        'int32',
        condRows.map((r) => r + B * L),
        [B, m],
      );
    } else {
      feeds[SAMPLER_IO.a] = scalar(step.invTemp);
    }
    const session = await this.#session(guided);
    let out: InferenceSession.OnnxValueMapType;
    try {
      out = await session.run(feeds);
    } catch (err) {
      throw new MigmError('BACKEND_FAILURE', `onnxruntime failed running the device sampler (${this.#o.where}): ${errorText(err)}`, { cause: err });
    }
    try {
      const badAny = (await read(out[SAMPLER_IO.badAny]!)) as Float32Array;
      if (badAny[0]! > 0) {
        const first = Number(((await read(out[SAMPLER_IO.badIndex]!)) as BigInt64Array)[0]!);
        throw nonFiniteLogits(Math.floor(first / m), positions[first]!);
      }
      const pick = (await read(out[SAMPLER_IO.pick]!)) as BigInt64Array;
      const ids = (await read(out[SAMPLER_IO.tokens]!)) as BigInt64Array;
      if (pick.length !== B * k || ids.length !== B * k)
        throw new MigmError('BACKEND_FAILURE', `The device sampler returned ${pick.length} picks for ${B} images of ${k} (${this.#o.where}).`);
      // Ascending positions per image: the picks index the ascending masked positions, so mark and sweep (O(m)).
      const slot = new Int32Array(m);
      for (let b = 0; b < B; b++) {
        slot.fill(-1);
        for (let j = 0; j < k; j++) {
          const at = Number(pick[b * k + j]!);
          if (!(at >= 0 && at < m) || slot[at] !== -1)
            throw new MigmError('BACKEND_FAILURE', `The device sampler returned an invalid pick ${at} for image ${b} (${this.#o.where}).`);
          slot[at] = Number(ids[b * k + j]!);
        }
        for (let at = 0, j = 0; at < m; at++) {
          if (slot[at] === -1) continue;
          step.revealedPositions[b * k + j] = positions[b * m + at]!;
          step.revealedTokens[b * k + j] = slot[at]!;
          j++;
        }
      }
    } finally {
      for (const t of Object.values(out)) (t as Tensor).dispose?.();
    }
  }

  /** Releases the sampler's sessions. Idempotent. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    const all = [...this.#sessions.values()];
    this.#sessions.clear();
    await Promise.allSettled(all.map(async (s) => (await s).release()));
  }

  #session(guided: boolean): Promise<InferenceSession> {
    if (this.#released) throw new MigmError('DISPOSED', `The device sampler (${this.#o.where}) was released.`);
    let s = this.#sessions.get(guided);
    if (!s) {
      const { count: L, codebookSize: K } = this.#o.manifest.tokens;
      const bytes = buildSamplerGraph({ tokens: L, vocab: K, guided, precision: this.#o.precision });
      s = this.#o.ort.InferenceSession.create(bytes, this.#o.sessionOptions).catch((err: unknown) => {
        this.#sessions.delete(guided);
        throw new MigmError('BACKEND_FAILURE', `onnxruntime could not load the device sampler graph (${this.#o.where}): ${errorText(err)}`, { cause: err });
      });
      this.#sessions.set(guided, s);
    }
    return s;
  }
}

/** A tensor's data on the host (outputs on a GPU are downloaded; the sampler's outputs are small). */
async function read(t: Tensor): Promise<Tensor['data']> {
  return t.location === 'cpu' || t.location === undefined ? t.data : await t.getData();
}
