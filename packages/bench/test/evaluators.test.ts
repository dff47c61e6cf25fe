// The evaluators the bench ships (evaluators/*.onnx): each loads against its card's sha256, gives the same
// features for the same pixels, puts the Fashion-MNIST test set at FD ~0 from itself and near its own other half,
// and uniform noise far away. Reads the test set from Debian's dataset-fashion-mnist (scripts/setup.sh installs it).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkCards, onnxEvaluator, SHIPPED_EVALUATORS, THIRD_EVALUATOR, type Evaluator, type EvaluatorCard, type Pixels } from '../src/evaluators.js';
import { readFashionMnist } from '../src/fashion-mnist.js';
import { FeatureStats, frechetDistance } from '../src/frechet.js';

async function stats(e: Evaluator, images: Float32Array, count: number): Promise<{ stats: FeatureStats; correctOf: (labels: Int32Array) => number }> {
  let s: FeatureStats | null = null;
  const argmaxes: number[] = [];
  for (let i = 0; i < count; i += 1000) {
    const n = Math.min(1000, count - i);
    const c = await e.classify({ data: images.subarray(i * 784, (i + n) * 784), batch: n, channels: 1, height: 28, width: 28 });
    s ??= new FeatureStats(c.featureDim);
    s.add(c.features, n);
    const k = c.logits.length / n;
    for (let b = 0; b < n; b++) {
      let best = 0;
      for (let j = 1; j < k; j++) if (c.logits[b * k + j]! > c.logits[b * k + best]!) best = j;
      argmaxes.push(best);
    }
  }
  return { stats: s!, correctOf: (labels) => argmaxes.filter((a, i) => a === labels[i]).length };
}

describe('shipped evaluators', () => {
  it('the third is the autoencoder, with its own column name and a 64-d latent', () => {
    const card = JSON.parse(readFileSync(THIRD_EVALUATOR, 'utf8')) as EvaluatorCard;
    expect(card.label).toBe('AE');
    expect(card.featureDim).toBe(64);
    expect(card.trainedBy).toMatch(/migm_train\.fashion_mnist\.eval_autoencoder/);
    expect(SHIPPED_EVALUATORS).toEqual([expect.stringMatching(/mlp-s7\.json$/), THIRD_EVALUATOR]);
  });

  for (const cardPath of SHIPPED_EVALUATORS) {
    const short = cardPath.split('/').at(-1)!;
    it(`${short}: deterministic features; test set at FD ~0 from itself, near its other half, far from noise`, { timeout: 120_000 }, async () => {
      const e = await onnxEvaluator(cardPath, 1);
      try {
        const data = await readFashionMnist('test');
        const batch: Pixels = { data: data.images.subarray(0, 64 * 784), batch: 64, channels: 1, height: 28, width: 28 };
        const a = await e.classify(batch);
        const b = await e.classify({ ...batch, data: Float32Array.from(batch.data) });
        expect(a.featureDim).toBe(e.card.featureDim);
        expect(
          Buffer.from(a.features.buffer, a.features.byteOffset, a.features.byteLength).equals(
            Buffer.from(b.features.buffer, b.features.byteOffset, b.features.byteLength),
          ),
        ).toBe(true);

        const all = await stats(e, data.images, data.count);
        // The graph is the one its card describes: its read-out's test accuracy as the card says.
        const acc = all.correctOf(data.labels) / data.count;
        expect(() => checkCards([e], { [e.name]: acc })).not.toThrow();
        expect(() => checkCards([e], { [e.name]: acc + 0.01 })).toThrow(/its card says/);

        const half = data.count / 2;
        const first = (await stats(e, data.images.subarray(0, half * 784), half)).stats;
        const second = (await stats(e, data.images.subarray(half * 784), half)).stats;
        const noise = new Float32Array(2000 * 784);
        let x = 12345;
        for (let i = 0; i < noise.length; i++) {
          x = (Math.imul(x, 1103515245) + 12345) >>> 0;
          noise[i] = x / 2 ** 32;
        }
        const noiseStats = (await stats(e, noise, 2000)).stats;
        const self = frechetDistance(all.stats, all.stats);
        const halves = frechetDistance(first, second);
        const far = frechetDistance(noiseStats, all.stats);
        expect(Math.abs(self)).toBeLessThan(1e-6 * far);
        // Two halves of the same distribution: sampling noise only, small against what the bench measures.
        expect(halves).toBeLessThan(0.02 * far);
        expect(far).toBeGreaterThan(100 * halves);
      } finally {
        await e.dispose();
      }
    });
  }
});
