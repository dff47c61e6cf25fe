import type { Backend, DeviceSampleStep, FeatureTensor, ForwardInput, TextHandle, TextRows } from '../backend/types.js';
import { createSamplerScratch } from '../sampling/step-sampler.js';
import { drawStepUniforms, sampleStepHost } from '../sampling/step-uniforms.js';
import { expInPlace, guideRow } from '../sampling/row.js';
import { isMigmError, type MigmErrorCode } from '../errors.js';
import { checkCapabilities } from '../backend/capabilities.js';
import { combineHost } from '../features/host-features.js';
import { generate } from '../generate/generate.js';
import { PREDICTOR_REGISTRY } from '../predictors/registry.js';
import { validateManifest } from '../manifest/validate.js';
import { RandomStreams } from '../random/prng.js';

/** One check of the backend conformance suite; `run` throws an Error describing the first failure. */
export interface ConformanceCase {
  readonly name: string;
  readonly run: () => Promise<void>;
}

export interface ConformanceOptions {
  /** Creates a fresh, loaded backend. Called once for the shared backend and once for the dispose check. */
  readonly create: () => Promise<Backend>;
  /** Max abs difference allowed between float results that must agree (head vs forward, batch rows). Default 1e-4. */
  readonly tolerance?: number;
  /** Live feature tensors held by the backend, if it can tell (enables the leak checks). */
  readonly liveFeatures?: (backend: Backend) => number;
  /**
   * Smallest share of committed tokens a device sampler must agree on with core's host reference, on the same
   * logits and random numbers. Default 1 (identical): a float64 sampler gets there; a float32 GPU sampler may
   * differ at float near-ties and states its share here.
   */
  readonly samplerAgreement?: number;
}

/** The shared suite every backend runs against itself. Returns the cases plus `cleanup()` for the shared backend. */
export function backendConformance(options: ConformanceOptions): { cases: ConformanceCase[]; cleanup: () => Promise<void> } {
  const tol = options.tolerance ?? 1e-4;
  let shared: Promise<Backend> | undefined;
  const get = (): Promise<Backend> => (shared ??= options.create());

  const cases: ConformanceCase[] = [
    {
      name: 'exposes a valid manifest and consistent capabilities',
      run: async () => {
        const b = await get();
        validateManifest(JSON.parse(JSON.stringify(b.manifest)));
        assert(typeof b.name === 'string' && b.name.length > 0, 'name must be a non-empty string');
        assert(typeof b.device === 'string' && b.device.length > 0, 'device must be a non-empty string');
        assert(b.capabilities.velocity === (typeof b.velocity === 'function'), 'capabilities.velocity must say whether velocity() exists');
        assert(!b.capabilities.velocity || b.manifest.graphs.shortcut !== undefined, 'capabilities.velocity needs a shortcut graph in the manifest');
      },
    },
    {
      name: 'forward returns finite logits and a feature of the right dims, deterministically',
      run: async () => {
        const b = await get();
        const { tokens, cond } = await randomInput(b, 2, 7);
        const a = await forward(b, tokens, cond, 2);
        const again = await forward(b, tokens, cond, 2);
        try {
          const { count: L } = b.manifest.tokens;
          assertDims(a.feature.dims, [2, L, b.manifest.featureDim], 'forward feature');
          assertFinite(a.logits, 'forward logits');
          assertVaries(a.logits, 'forward logits (a runtime that ignores output buffers leaves them constant)');
          const fa = await b.readFeature(a.feature);
          assert(fa.length === 2 * L * b.manifest.featureDim, 'readFeature length must be rows * L * D');
          assertFinite(fa, 'forward feature');
          assertClose(a.logits, again.logits, tol, 'two forward calls on the same input');
        } finally {
          b.release(a.feature);
          b.release(again.feature);
        }
      },
    },
    {
      name: 'head(forward feature) reproduces forward logits',
      run: async () => {
        const b = await get();
        const { tokens, cond } = await randomInput(b, 3, 11);
        const a = await forward(b, tokens, cond, 3);
        try {
          const logits = new Float32Array(a.logits.length);
          await b.head(a.feature, logits);
          assertClose(logits, a.logits, tol, 'head(feature) vs forward logits');
        } finally {
          b.release(a.feature);
        }
      },
    },
    {
      name: 'rows of a batch do not influence each other',
      run: async () => {
        const b = await get();
        const { tokens, cond } = await randomInput(b, 2, 13);
        const L = b.manifest.tokens.count;
        const both = await forward(b, tokens, cond, 2);
        const second = await forward(b, tokens.slice(L), sliceCond(cond, 1, 2), 1);
        try {
          const rowSize = L * b.manifest.tokens.codebookSize;
          assertClose(both.logits.subarray(rowSize), second.logits, tol, 'row 1 of a batch vs the same row alone');
        } finally {
          b.release(both.feature);
          b.release(second.feature);
        }
      },
    },
    {
      name: 'combine matches the host reference (f + dt * v and Taylor weights)',
      run: async () => {
        const b = await get();
        const x = await randomInput(b, 2, 17);
        const y = await randomInput(b, 2, 19);
        const fx = await forward(b, x.tokens, x.cond, 2);
        const fy = await forward(b, y.tokens, y.cond, 2);
        const made: FeatureTensor[] = [fx.feature, fy.feature];
        try {
          const hx = await b.readFeature(fx.feature);
          const hy = await b.readFeature(fy.feature);
          for (const coefs of [
            [1, 0.5],
            [2.5, -1.5],
            [1, 0],
          ]) {
            const c = await b.combine([
              { feature: fx.feature, coef: coefs[0]! },
              { feature: fy.feature, coef: coefs[1]! },
            ]);
            made.push(c);
            assertDims(c.dims, fx.feature.dims, 'combine result');
            const expected = combineHost(new Float32Array(hx.length), [hx, hy], coefs);
            assertClose(await b.readFeature(c), expected, 1e-5, `combine with coefs ${coefs.join(', ')}`);
          }
          const fxAgain = await b.readFeature(fx.feature);
          assertClose(fxAgain, hx, 0, 'combine must not modify its operands');
        } finally {
          for (const f of made) b.release(f);
        }
      },
    },
    {
      name: 'guidedHead (when offered) gives the guided logits of head() and refuses bad shapes',
      run: async () => {
        const b = await get();
        assert(b.capabilities.guidedHead !== true || typeof b.guidedHead === 'function', 'capabilities.guidedHead needs a guidedHead() method');
        assert(
          b.capabilities.guidedHead !== true || b.manifest.graphs.head.affine === true,
          'capabilities.guidedHead needs graphs.head.affine in the manifest',
        );
        if (b.capabilities.guidedHead !== true || !b.guidedHead) return;
        const { count: L, codebookSize: K } = b.manifest.tokens;
        const rows = 4;
        const { tokens, cond } = await randomInput(b, rows, 41);
        const a = await forward(b, tokens, cond, rows);
        try {
          const half = (rows / 2) * L * K;
          for (const w of [0, 0.5, 4]) {
            const got = new Float32Array(half);
            await b.guidedHead(a.feature, w, got);
            const expected = new Float32Array(half);
            for (let i = 0; i < half; i++) expected[i] = (1 + w) * a.logits[i]! - w * a.logits[half + i]!;
            // Guided logits grow with w, and so does float32 rounding: scale the tolerance with them.
            assertClose(got, expected, tol * (1 + 2 * w), `guidedHead with weight ${w} vs (1 + w) head(cond) - w head(uncond)`);
          }
          await expectCode(() => b.guidedHead!(a.feature, 1, new Float32Array(half + 1)), 'INVALID_OPTION', 'guidedHead with a wrong logits length');
          await expectCode(() => b.guidedHead!(a.feature, -1, new Float32Array(half)), 'INVALID_OPTION', 'guidedHead with a negative weight');
          await expectCode(() => b.guidedHead!(a.feature, Number.NaN, new Float32Array(half)), 'INVALID_OPTION', 'guidedHead with a NaN weight');
        } finally {
          b.release(a.feature);
        }
        const odd = await forward(b, tokens.subarray(0, 3 * L), sliceCond(cond, 0, 3), 3);
        try {
          await expectCode(() => b.guidedHead!(odd.feature, 1, new Float32Array(L * K)), 'INVALID_OPTION', 'guidedHead on an odd number of rows');
        } finally {
          b.release(odd.feature);
        }
      },
    },
    {
      name: 'velocity (when a shortcut is loaded) returns a finite feature-shaped tensor for any token count',
      run: async () => {
        const b = await get();
        if (!b.capabilities.velocity || !b.velocity) return;
        const { tokens, cond } = await randomInput(b, 2, 23);
        const a = await forward(b, tokens, cond, 2);
        try {
          const L = b.manifest.tokens.count;
          for (const n of [1, Math.min(5, L)]) {
            const rng = new RandomStreams(29 + n, 1);
            const ctlTokens = Int32Array.from({ length: 2 * n }, () => rng.uint32(0) % b.manifest.tokens.codebookSize);
            const ctlPositions = Int32Array.from({ length: 2 * n }, (_, i) => (i * 7 + 3) % L);
            const v = await b.velocity(a.feature, { tokens: ctlTokens, positions: ctlPositions, count: n, ratio: new Float32Array([0.5, 0.5]) });
            try {
              assertDims(v.dims, a.feature.dims, `velocity with ${n} new tokens`);
              assertFinite(await b.readFeature(v), `velocity with ${n} new tokens`);
            } finally {
              b.release(v);
            }
          }
        } finally {
          b.release(a.feature);
        }
      },
    },
    {
      name: 'decode gives images of the manifest size within its range',
      run: async () => {
        const b = await get();
        const { tokens } = await randomInput(b, 2, 31, false);
        const img = await b.decode(tokens, 2);
        const { width, height, channels, range } = b.manifest.image;
        assert(
          img.batch === 2 && img.width === width && img.height === height && img.channels === channels,
          `decode dims ${img.batch}x${img.channels}x${img.height}x${img.width}, expected 2x${channels}x${height}x${width}`,
        );
        assert(img.data.length === 2 * channels * height * width, 'decode data length');
        assertFinite(img.data, 'decoded pixels');
        if (range) {
          const slack = 0.05 * (range[1] - range[0]);
          for (const v of img.data) assert(v >= range[0] - slack && v <= range[1] + slack, `pixel ${v} outside range [${range.join(', ')}]`);
        }
      },
    },
    {
      name: 'bad shapes are refused with INVALID_OPTION',
      run: async () => {
        const b = await get();
        const { count: L, codebookSize: K } = b.manifest.tokens;
        const one = await condRows(b, 1);
        await expectCode(
          () => b.forward({ tokens: new Int32Array(L + 1), ...one, rows: 1, logits: new Float32Array(L * K) }),
          'INVALID_OPTION',
          'forward with a wrong token count',
        );
        await expectCode(
          () => b.forward({ tokens: new Int32Array(L), ...one, rows: 1, logits: new Float32Array(L * K - 1) }),
          'INVALID_OPTION',
          'forward with a short logits buffer',
        );
        await expectCode(() => b.decode(new Int32Array(L - 1), 1), 'INVALID_OPTION', 'decode with a wrong token count');
      },
    },
    {
      name: 'each optional capability is stated once: flags agree with the methods',
      run: async () => {
        const b = await get();
        checkCapabilities(b);
      },
    },
    {
      name: 'ids outside their range and non-Int32Array ids are refused with INVALID_OPTION',
      run: async () => {
        const b = await get();
        const { count: L, codebookSize: K, maskId } = b.manifest.tokens;
        const one = await condRows(b, 1);
        const logits = new Float32Array(L * K);
        await expectCode(() => b.decode(new Int32Array(L).fill(K), 1), 'INVALID_OPTION', 'decode with a token id = K (the mask id)');
        await expectCode(() => b.decode(new Int32Array(L).fill(-1), 1), 'INVALID_OPTION', 'decode with a negative token id');
        await expectCode(() => b.decode(null as unknown as Int32Array, 1), 'INVALID_OPTION', 'decode(null)');
        await expectCode(() => b.decode(Array.from({ length: L }, () => 0) as unknown as Int32Array, 1), 'INVALID_OPTION', 'decode with a plain array');
        await expectCode(
          () => b.forward({ tokens: new Int32Array(L).fill(maskId + 1), ...one, rows: 1, logits }),
          'INVALID_OPTION',
          'forward with a token id above the mask id',
        );
        const c = b.manifest.condition;
        if (c.type === 'class') {
          await expectCode(
            () => b.forward({ tokens: new Int32Array(L), classes: new Int32Array([c.nullClassId + 1]), rows: 1, logits }),
            'INVALID_OPTION',
            'forward with a class id above the null class',
          );
        } else {
          const text = (one as { text: TextRows }).text;
          await expectCode(
            () => b.forward({ tokens: new Int32Array(L), classes: new Int32Array(1), rows: 1, logits }),
            'INVALID_OPTION',
            'forward with class ids on a text-conditioned bundle',
          );
          await expectCode(
            () => b.forward({ tokens: new Int32Array(L), text: { ...text, index: new Int32Array([text.handle.count]) }, rows: 1, logits }),
            'INVALID_OPTION',
            'forward with a prompt index outside the text handle',
          );
          await expectCode(
            () => b.forward({ tokens: new Int32Array(L), rows: 1, logits }),
            'INVALID_OPTION',
            'forward without input.text on a text-conditioned bundle',
          );
        }
        await expectCode(
          () => b.forward({ tokens: new Int32Array(L).fill(2 ** 31 - 1), ...one, rows: 1, logits }),
          'INVALID_OPTION',
          'forward with a huge token id',
        );
        if (b.velocity) {
          const { tokens, cond } = await randomInput(b, 1, 41);
          const a = await forward(b, tokens, cond, 1);
          const control = (tok: number, pos: number) => ({
            tokens: new Int32Array([tok]),
            positions: new Int32Array([pos]),
            count: 1,
            ratio: new Float32Array([0.5]),
          });
          await expectCode(() => b.velocity!(a.feature, control(K, 0)), 'INVALID_OPTION', 'velocity with a new token id = K');
          await expectCode(() => b.velocity!(a.feature, control(0, L)), 'INVALID_OPTION', 'velocity with a position = L');
          b.release(a.feature);
        }
      },
    },
    {
      name: 'dispose() while calls are in flight rejects them with DISPOSED',
      run: async () => {
        const b = await options.create();
        const { tokens, cond } = await randomInput(b, 2, 43);
        const { count: L, codebookSize: K } = b.manifest.tokens;
        // Handlers are attached at once: the calls may reject while dispose() waits for them to finish.
        const outcome = (p: Promise<unknown>) =>
          p.then(
            () => undefined,
            (err: unknown) => err,
          );
        const pending = outcome(b.forward({ tokens, ...cond, rows: 2, logits: new Float32Array(2 * L * K) }));
        const run = outcome(generate(b, { ...generateCondition(b, 1), steps: Math.min(4, L), seed: 3 }));
        await b.dispose();
        const rethrow = async (p: Promise<unknown>) => {
          const err = await p;
          if (err !== undefined) throw err;
        };
        await expectCode(() => rethrow(pending), 'DISPOSED', 'a forward() in flight at dispose');
        await expectCode(() => rethrow(run), 'DISPOSED', 'a generate() in flight at dispose');
      },
    },
    {
      name: 'released features cannot be used or released again',
      run: async () => {
        const b = await get();
        const { tokens, cond } = await randomInput(b, 1, 37);
        const a = await forward(b, tokens, cond, 1);
        b.release(a.feature);
        await expectCode(async () => b.release(a.feature), 'DISPOSED', 'a second release');
        await expectCode(() => b.readFeature(a.feature), 'DISPOSED', 'readFeature after release');
        await expectCode(() => b.head(a.feature, new Float32Array(a.logits.length)), 'DISPOSED', 'head after release');
      },
    },
    {
      name: 'generate() runs vanilla and accelerated, is seed-deterministic and leaks no features',
      run: async () => {
        const b = await get();
        const before = options.liveFeatures?.(b);
        const steps = Math.min(6, b.manifest.tokens.count);
        // Every registered method, so a new one is conformance-tested on every backend without a list to update.
        const definitions = PREDICTOR_REGISTRY.filter((p) => b.capabilities.velocity || !p.needsVelocity);
        for (const { name: predictor, accelerated } of definitions) {
          const opts = { ...generateCondition(b, 2), steps, seed: 5, predictor, ...(accelerated ? { budget: 3 } : {}) };
          const r1 = await generate(b, opts);
          const r2 = await generate(b, opts);
          assert(
            r1.tokens.every((t) => t >= 0 && t < b.manifest.tokens.codebookSize),
            `${predictor}: every token committed`,
          );
          assert(
            r1.tokens.every((t, i) => t === r2.tokens[i]),
            `${predictor}: same seed must give the same tokens`,
          );
        }
        if (before !== undefined) assert(options.liveFeatures!(b) === before, `generate() leaked ${options.liveFeatures!(b) - before} feature tensors`);
      },
    },
    {
      name: 'a device sampler commits what the host sampler commits on the same logits and random numbers',
      run: async () => {
        const b = await get();
        if (!b.capabilities.deviceSampling) {
          assert(b.createLogits === undefined && b.sampleStep === undefined, 'createLogits/sampleStep exist without capabilities.deviceSampling');
          return;
        }
        const { count: L, codebookSize: K, maskId } = b.manifest.tokens;
        const B = 2;
        let same = 0;
        let total = 0;
        for (const [guided, viaHead] of [
          [true, false],
          [false, false],
          [false, true],
        ] as const) {
          if (viaHead && !b.capabilities.guidedHead) continue;
          for (const seed of [3, 4, 5]) {
            const rows = guided || viaHead ? 2 * B : B;
            const state = maskedState(L, K, maskId, B, seed);
            const tokens = new Int32Array(rows * L);
            tokens.set(state);
            if (rows === 2 * B) tokens.set(state, B * L);
            const cond = await condRows(b, rows, rows === 2 * B ? B : rows);
            const host = new Float32Array(rows * L * K);
            const handle = b.createLogits!(rows);
            try {
              const f = await b.forward({ tokens, ...cond, rows, logits: host });
              const f2 = await b.forward({ tokens, ...cond, rows, logits: handle });
              b.release(f2);
              if (viaHead) {
                await b.guidedHead!(f, 2, host.subarray(0, B * L * K));
                await b.guidedHead!(f, 2, handle);
              }
              b.release(f);
              const masked = L - Math.floor(L / 3);
              for (const count of [1, Math.max(1, masked >> 1), masked]) {
                const uniforms = new Float64Array(2 * B * L);
                drawStepUniforms(state, maskId, B, L, new RandomStreams(seed * 31 + count, B), uniforms);
                const want = stepOf(B, guided, state, uniforms, count);
                const got = stepOf(B, guided, state, uniforms, count);
                sampleStepHost(host, L, K, maskId, want, createSamplerScratch(B, L, K), new Int32Array(B * L));
                await b.sampleStep!(handle, got);
                for (let i = 0; i < B * count; i++) {
                  total++;
                  if (got.revealedPositions[i] === want.revealedPositions[i] && got.revealedTokens[i] === want.revealedTokens[i]) same++;
                }
                for (let img = 0; img < B; img++) {
                  for (let j = 1; j < count; j++)
                    assert(got.revealedPositions[img * count + j]! > got.revealedPositions[img * count + j - 1]!, 'revealed positions must be ascending');
                }
              }
            } finally {
              b.release(handle);
            }
          }
        }
        const share = same / total;
        const need = options.samplerAgreement ?? 1;
        assert(
          share >= need,
          `device sampler agreed with the host reference on ${same} of ${total} committed tokens (${(100 * share).toFixed(3)}%), below ${(100 * need).toFixed(3)}%`,
        );
      },
    },
    {
      name: 'device sampler draws follow the softmax (chi-square) and its handles are checked',
      run: async () => {
        const b = await get();
        if (!b.capabilities.deviceSampling) return;
        const { count: L, codebookSize: K, maskId } = b.manifest.tokens;
        const state = new Int32Array(L).fill(maskId);
        const tokens = new Int32Array(2 * L).fill(maskId);
        const cond = await condRows(b, 2, 1);
        const host = new Float32Array(2 * L * K);
        const handle = b.createLogits!(2);
        const f = await b.forward({ tokens, ...cond, rows: 2, logits: host });
        await b.forward({ tokens, ...cond, rows: 2, logits: handle }).then((g) => b.release(g));
        b.release(f);
        // The most uncertain position gives the most informative histogram.
        const probs = new Float64Array(K);
        let pos = 0;
        let best = -1;
        for (let p = 0; p < L; p++) {
          const max = guideRow(host, p * K, host, L * K + p * K, K, 1.5, 1, probs);
          const sum = expInPlace(probs, K, max);
          let h = 0;
          for (let k = 0; k < K; k++) if (probs[k]! > 0) h -= (probs[k]! / sum) * Math.log(probs[k]! / sum);
          if (h > best) [best, pos] = [h, p];
        }
        const max = guideRow(host, pos * K, host, L * K + pos * K, K, 1.5, 1, probs);
        const sum = expInPlace(probs, K, max);
        const draws = 400;
        const seen = new Float64Array(K);
        const rng = new RandomStreams(77, 1);
        const uniforms = new Float64Array(2 * L);
        try {
          for (let t = 0; t < draws; t++) {
            drawStepUniforms(state, maskId, 1, L, rng, uniforms);
            const step = stepOf(1, true, state, uniforms, L, 1.5);
            await b.sampleStep!(handle, step);
            seen[step.revealedTokens[pos]!]!++;
          }
          // Bins with expected count < 5 are pooled; the statistic must stay below the 0.1% critical value.
          let chi = 0;
          let bins = 0;
          let poolSeen = 0;
          let poolWant = 0;
          for (let k = 0; k < K; k++) {
            const want = (draws * probs[k]!) / sum;
            if (want < 5) {
              poolSeen += seen[k]!;
              poolWant += want;
              continue;
            }
            chi += (seen[k]! - want) ** 2 / want;
            bins++;
          }
          if (poolWant > 0) {
            chi += (poolSeen - poolWant) ** 2 / Math.max(poolWant, 1e-9);
            bins++;
          }
          const dof = Math.max(1, bins - 1);
          // Wilson-Hilferty approximation of the chi-square 0.999 quantile.
          const crit = dof * (1 - 2 / (9 * dof) + 3.09 * Math.sqrt(2 / (9 * dof))) ** 3;
          assert(chi <= crit, `device draws at position ${pos} do not follow the softmax: chi-square ${chi.toFixed(1)} > ${crit.toFixed(1)} (${dof} dof)`);
          await expectCode(
            () => b.sampleStep!(handle, { ...stepOf(1, true, state, uniforms, L + 1) }),
            'INVALID_OPTION',
            'sampleStep with a count above the masked positions',
          );
        } finally {
          b.release(handle);
        }
        await expectCode(() => b.sampleStep!(handle, stepOf(1, true, state, uniforms, 1)), 'DISPOSED', 'sampleStep on a released logits handle');
        await expectCode(async () => b.release(handle), 'DISPOSED', 'a second release of a logits handle');
      },
    },
    {
      name: 'text bundles: the tokenizer pads, truncates and reports; a prompt encodes the same whatever its batch-mates; text handles are checked',
      run: async () => {
        const b = await get();
        const c = b.manifest.condition;
        if (c.type !== 'text') {
          assert(b.capabilities.text !== true && b.encodeText === undefined, 'a class-conditioned bundle offers no encodeText');
          return;
        }
        assert(b.capabilities.text === true && b.tokenizer !== undefined, 'a text-conditioned bundle needs capabilities.text and a tokenizer');
        const tokenizer = b.tokenizer!;
        const T = c.maxLength;
        assert(tokenizer.maxLength === T, `tokenizer.maxLength ${tokenizer.maxLength} must equal condition.maxLength ${T}`);
        for (const p of CONFORMANCE_PROMPTS) {
          const t = tokenizer.encode(p);
          assert(t.ids instanceof Int32Array && t.ids.length === T, `tokenizer: ${JSON.stringify(p)} must give ${T} ids`);
          assert(!t.truncated && t.length <= T && t.length >= 1, `tokenizer: ${JSON.stringify(p)} is short and not truncated`);
        }
        const long = tokenizer.encode('the quick brown fox '.repeat(T));
        assert(long.truncated && long.length > T && long.ids.length === T, 'tokenizer: a prompt over maxLength tokens is truncated to maxLength and says so');
        const all = await encodePrompts(b);
        const alone = await b.encodeText!(tokenizer.encode(CONFORMANCE_PROMPTS[2]!).ids, 1);
        try {
          const { count: L, codebookSize: K } = b.manifest.tokens;
          const { tokens } = await randomInput(b, 1, 53);
          const micro = c.microConditioning?.default ?? [];
          const logitsOf = async (handle: TextHandle, at: number) => {
            const logits = new Float32Array(L * K);
            const f = await b.forward({ tokens, text: { handle, index: new Int32Array([at]), microConds: Float32Array.from(micro) }, rows: 1, logits });
            b.release(f);
            return logits;
          };
          assertClose(await logitsOf(alone, 0), await logitsOf(all, 2), tol, 'a prompt encoded alone vs with other prompts');
          const other = await logitsOf(all, 0);
          let differs = false;
          const same = await logitsOf(all, 2);
          for (let i = 0; i < other.length; i++) if (Math.abs(other[i]! - same[i]!) > tol) differs = true;
          assert(differs, 'two different prompts must give different logits');
          await expectCode(() => b.encodeText!(new Int32Array(T + 1), 1), 'INVALID_OPTION', 'encodeText with a wrong ids length');
          await expectCode(() => b.encodeText!(new Int32Array(T).fill(-1), 1), 'INVALID_OPTION', 'encodeText with a negative id');
        } finally {
          b.release(alone);
        }
        await expectCode(async () => b.release(alone), 'DISPOSED', 'a second release of a text handle');
        const { tokens } = await randomInput(b, 1, 59);
        await expectCode(
          () =>
            b.forward({
              tokens,
              text: { handle: alone, index: new Int32Array(1), microConds: new Float32Array(c.microConditioning?.names.length ?? 0) },
              rows: 1,
              logits: new Float32Array(b.manifest.tokens.count * b.manifest.tokens.codebookSize),
            }),
          'DISPOSED',
          'forward with a released text handle',
        );
        const before = options.liveFeatures?.(b);
        const r = await generate(b, {
          prompt: [CONFORMANCE_PROMPTS[0]!, CONFORMANCE_PROMPTS[0]!, CONFORMANCE_PROMPTS[3]!],
          steps: Math.min(4, b.manifest.tokens.count),
          seed: 9,
        });
        assert(
          r.calls.encode === 1 && r.text !== null && r.text.prompts.length === 3,
          'generate() encodes the distinct prompts (two and the negative) in one call',
        );
        if (before !== undefined) assert(options.liveFeatures!(b) === before, 'generate() with prompts leaked features');
      },
    },
    {
      name: 'dispose() frees the backend; later calls throw DISPOSED; dispose is idempotent',
      run: async () => {
        const b = await options.create();
        await b.dispose();
        await b.dispose();
        const { count: L, codebookSize: K } = b.manifest.tokens;
        await expectCode(
          () => b.forward({ tokens: new Int32Array(L), ...conditionAfterDispose(b), rows: 1, logits: new Float32Array(L * K) }),
          'DISPOSED',
          'forward after dispose',
        );
        await expectCode(() => b.decode(new Int32Array(L), 1), 'DISPOSED', 'decode after dispose');
      },
    },
  ];
  return {
    cases,
    cleanup: async () => {
      if (shared) await (await shared).dispose();
      shared = undefined;
    },
  };
}

/** A token grid [B, L] with the same number of masked positions (L - floor(L / 3)) in every image. */
function maskedState(L: number, K: number, maskId: number, B: number, seed: number): Int32Array {
  const rng = new RandomStreams(seed, 1);
  const state = new Int32Array(B * L).fill(maskId);
  const order = Int32Array.from({ length: L }, (_, i) => i);
  for (let b = 0; b < B; b++) {
    for (let i = L - 1; i > 0; i--) {
      const j = rng.uint32(0) % (i + 1);
      [order[i], order[j]] = [order[j]!, order[i]!];
    }
    for (let i = 0; i < Math.floor(L / 3); i++) state[b * L + order[i]!] = rng.uint32(0) % K;
  }
  return state;
}

function stepOf(batch: number, guided: boolean, state: Int32Array, uniforms: Float64Array, count: number, weight = 2): DeviceSampleStep {
  return {
    batch,
    guided,
    weight,
    invTemp: 1.1,
    noiseScale: 2.5,
    state,
    uniforms,
    count,
    revealedPositions: new Int32Array(batch * Math.max(count, 0)),
    revealedTokens: new Int32Array(batch * Math.max(count, 0)),
  };
}

/** The condition fields of a forward input: class ids, or the rows' prompts in a text handle. */
type Cond = Pick<ForwardInput, 'classes' | 'text'>;

/** Prompts the text-conditioned cases encode: varied lengths, case and punctuation, and the empty negative prompt. */
export const CONFORMANCE_PROMPTS: readonly string[] = ['a red circle on a white plate', '', 'Two BLUE squares, side by side!', 'a tree'];

/** One encoding of the conformance prompts per backend, kept for the backend's life (released with it). */
const encoded = new WeakMap<Backend, Promise<TextHandle>>();

function encodePrompts(b: Backend): Promise<TextHandle> {
  let h = encoded.get(b);
  if (h === undefined) {
    const T = (b.manifest.condition as { maxLength: number }).maxLength;
    const ids = new Int32Array(CONFORMANCE_PROMPTS.length * T);
    CONFORMANCE_PROMPTS.forEach((p, i) => ids.set(b.tokenizer!.encode(p).ids, i * T));
    h = b.encodeText!(ids, CONFORMANCE_PROMPTS.length);
    encoded.set(b, h);
  }
  return h;
}

/**
 * The condition of `rows` rows: rows from `uncondFrom` on are unconditional (the null class, or the empty
 * negative prompt); by default every odd row is, and the others cycle through the classes or prompts.
 */
async function condRows(b: Backend, rows: number, uncondFrom?: number): Promise<Cond> {
  const c = b.manifest.condition;
  const uncond = (r: number) => (uncondFrom === undefined ? r % 2 === 1 : r >= uncondFrom);
  if (c.type === 'class') return { classes: Int32Array.from({ length: rows }, (_, r) => (uncond(r) ? c.nullClassId : r % c.numClasses)) };
  const handle = await encodePrompts(b);
  const prompting = [0, 2, 3];
  const index = Int32Array.from({ length: rows }, (_, r) => (uncond(r) ? 1 : prompting[r % prompting.length]!));
  const micro = c.microConditioning?.default ?? [];
  const microConds = new Float32Array(rows * micro.length);
  for (let r = 0; r < rows; r++) microConds.set(micro, r * micro.length);
  return { text: { handle, index, microConds } };
}

/** Rows from..to-1 of a condition. */
function sliceCond(cond: Cond, from: number, to: number): Cond {
  if (cond.text === undefined) return { classes: cond.classes!.slice(from, to) };
  const M = cond.text.microConds.length / cond.text.index.length;
  return { text: { ...cond.text, index: cond.text.index.slice(from, to), microConds: cond.text.microConds.slice(from * M, to * M) } };
}

/** A one-row condition for a call on a disposed backend (no encoding can run there: a stand-in handle). */
function conditionAfterDispose(b: Backend): Cond {
  if (b.manifest.condition.type === 'class') return { classes: new Int32Array(1) };
  const M = b.manifest.condition.microConditioning?.names.length ?? 0;
  return { text: { handle: { kind: 'text', count: 1 }, index: new Int32Array(1), microConds: new Float32Array(M) } };
}

/** generate() options conditioning `batch` images: a class and the unconditional class, or two prompts. */
function generateCondition(b: Backend, batch: number): { condition: (number | null)[] } | { prompt: string[] } {
  if (b.manifest.condition.type === 'class') return { condition: [0, null].slice(0, batch) };
  return { prompt: [CONFORMANCE_PROMPTS[0]!, CONFORMANCE_PROMPTS[2]!].slice(0, batch) };
}

async function randomInput(b: Backend, rows: number, seed: number, withMask = true): Promise<{ tokens: Int32Array; cond: Cond }> {
  const { count: L, codebookSize: K, maskId } = b.manifest.tokens;
  const rng = new RandomStreams(seed, 1);
  const tokens = Int32Array.from({ length: rows * L }, () => (withMask && rng.uniform(0) < 0.5 ? maskId : rng.uint32(0) % K));
  return { tokens, cond: await condRows(b, rows) };
}

async function forward(b: Backend, tokens: Int32Array, cond: Cond, rows: number): Promise<{ logits: Float32Array; feature: FeatureTensor }> {
  const logits = new Float32Array(rows * b.manifest.tokens.count * b.manifest.tokens.codebookSize);
  const feature = await b.forward({ tokens, ...cond, rows, logits });
  return { logits, feature };
}

function assert(ok: boolean, message: string): void {
  if (!ok) throw new Error(`Backend conformance: ${message}`);
}

function assertDims(got: readonly number[], want: readonly number[], what: string): void {
  assert(got.length === want.length && got.every((d, i) => d === want[i]), `${what}: dims [${got.join(', ')}], expected [${want.join(', ')}]`);
}

function assertFinite(a: ArrayLike<number>, what: string): void {
  for (let i = 0; i < a.length; i++) assert(Number.isFinite(a[i]), `${what}: value ${a[i]} at ${i} is not finite`);
}

function assertVaries(a: ArrayLike<number>, what: string): void {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < a.length; i++) {
    lo = Math.min(lo, a[i]!);
    hi = Math.max(hi, a[i]!);
  }
  assert(hi > lo, `${what}: every value is ${lo}`);
}

function assertClose(a: ArrayLike<number>, b: ArrayLike<number>, tol: number, what: string): void {
  assert(a.length === b.length, `${what}: lengths ${a.length} and ${b.length} differ`);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= worst)) {
      worst = d;
      at = i;
    }
  }
  assert(worst <= tol, `${what}: max abs difference ${worst} at ${at} exceeds ${tol}`);
}

async function expectCode(fn: () => Promise<unknown>, code: MigmErrorCode, what: string): Promise<void> {
  try {
    await fn();
  } catch (err) {
    assert(isMigmError(err, code), `${what} must throw MigmError ${code}, threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
    return;
  }
  assert(false, `${what} must throw MigmError ${code}, but succeeded`);
}
