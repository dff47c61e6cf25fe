import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { OrtBackend } from '@migm/backend-node';
import { MigmError } from '@migm/core';

/** Images [batch, 1, 28, 28] in [0, 1], as the bundle's decoder gives them. */
export interface Pixels {
  readonly data: Float32Array;
  readonly batch: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
}

/** One evaluator's view of a batch: class logits and penultimate features. */
export interface Scored {
  readonly logits: Float32Array;
  readonly features: Float32Array;
  readonly featureDim: number;
}

/**
 * A classifier whose feature space scores samples (FD, precision, recall) and whose argmax scores class
 * accuracy. The bench uses two, trained independently, and calls a quality target MET only where both agree.
 */
export interface Evaluator {
  /** Short name, used in column heads and verdicts. */
  readonly name: string;
  /** One line: what it is and how it was trained. */
  readonly description: string;
  classify(images: Pixels): Promise<Scored>;
  dispose(): Promise<void>;
}

/** The bundle's evaluation classifier (graphs.classifier: a CNN, seed 0, trained by the bundle build). */
export function bundleEvaluator(backend: OrtBackend): Evaluator {
  const acc = (backend.manifest as { training?: { classifierTestAccuracy?: number } }).training?.classifierTestAccuracy;
  return {
    name: 'CNN',
    description: `the bundle's evaluation classifier (graphs.classifier: 2 conv layers + 128 features, seed 0, training/migm_train/classifier.py${acc !== undefined ? `, test accuracy ${(100 * acc).toFixed(2)}%` : ''})`,
    classify: (images) => backend.classify(images),
    dispose: async () => {},
  };
}

/** What training/migm_train/eval_classifier2.py writes next to the graph. */
export interface EvaluatorCard {
  readonly name: string;
  readonly file: string;
  readonly sha256: string;
  readonly architecture: string;
  readonly parameters: number;
  readonly featureDim: number;
  readonly seed: number;
  readonly testAccuracy: number;
}

/** The second evaluator shipped with this package: evaluators/mlp-s7.onnx (an MLP, seed 7). */
export const SECOND_EVALUATOR = fileURLToPath(new URL('../evaluators/mlp-s7.json', import.meta.url));

/**
 * An evaluator from an ONNX classifier with the bundle classifier's interface (pixels -> logits, features) and
 * its card (json). The graph's sha256 is checked against the card.
 */
export async function onnxEvaluator(cardPath: string, threads?: number): Promise<Evaluator & { readonly card: EvaluatorCard }> {
  const card = JSON.parse(await readFile(cardPath, 'utf8')) as EvaluatorCard;
  const graphPath = fileURLToPath(new URL(card.file, `file://${cardPath}`));
  const bytes = await readFile(graphPath);
  const sha = createHash('sha256').update(bytes).digest('hex');
  if (sha !== card.sha256)
    throw new MigmError(
      'UNSUPPORTED',
      `${graphPath}: sha256 ${sha} does not match its card ${cardPath} (${card.sha256}); retrain it with the card's trainedBy command`,
    );
  process.env['ORT_DISABLE_TELEMETRY'] ??= '1';
  const ort = await import('onnxruntime-node');
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: threads ?? 2, interOpNumThreads: 1 });
  return {
    name: card.name === 'mlp-s7' ? 'MLP' : card.name,
    description: `${card.name}: ${card.architecture}, seed ${card.seed}, test accuracy ${(100 * card.testAccuracy).toFixed(2)}% (packages/bench/evaluators/${card.file}, trained by training/migm_train/eval_classifier2.py)`,
    card,
    async classify(images) {
      const out = await session.run({ pixels: new ort.Tensor('float32', images.data, [images.batch, images.channels, images.height, images.width]) });
      const features = out['features']!.data as Float32Array;
      return { logits: out['logits']!.data as Float32Array, features, featureDim: features.length / images.batch };
    },
    dispose: () => session.release(),
  };
}
