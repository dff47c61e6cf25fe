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
 * A feature space that scores samples (FD, precision, recall) with a read-out whose argmax scores class accuracy.
 * The bench uses three of different kinds (two classifiers trained independently, and an autoencoder trained
 * without labels) and calls a quality target MET only where all agree.
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
    description: `the bundle's evaluation classifier (graphs.classifier: 2 conv layers + 128 features, seed 0, training/migm_train/fashion_mnist/classifier.py${acc !== undefined ? `, test accuracy ${(100 * acc).toFixed(2)}%` : ''})`,
    classify: (images) => backend.classify(images),
    dispose: async () => {},
  };
}

/** What training/migm_train/fashion_mnist/eval_classifier2.py and eval_autoencoder.py write next to the graph. */
export interface EvaluatorCard {
  readonly name: string;
  /** Column name in the bench's tables (absent on the MLP's card: 'MLP'). */
  readonly label?: string;
  readonly file: string;
  readonly sha256: string;
  readonly architecture: string;
  readonly parameters: number;
  readonly featureDim: number;
  readonly seed: number;
  /** Test-set accuracy of the graph's logits (the autoencoder's: its nearest-centroid read-out). */
  readonly testAccuracy: number;
  /** The command that made the graph. */
  readonly trainedBy?: string;
}

/** The second evaluator shipped with this package: evaluators/mlp-s7.onnx (an MLP, seed 7). */
export const SECOND_EVALUATOR = fileURLToPath(new URL('../evaluators/mlp-s7.json', import.meta.url));

/**
 * The third: evaluators/ae-s11.onnx, the 64-d latent of a convolutional autoencoder trained to reconstruct the
 * training images without labels (training/migm_train/fashion_mnist/eval_autoencoder.py); its logits are a nearest-centroid
 * read-out fitted afterwards, so that the class-accuracy column has a value.
 */
export const THIRD_EVALUATOR = fileURLToPath(new URL('../evaluators/ae-s11.json', import.meta.url));

/** The cards of the evaluators the bench loads after the bundle's CNN, in column order. */
export const SHIPPED_EVALUATORS: readonly string[] = [SECOND_EVALUATOR, THIRD_EVALUATOR];

/** Every shipped evaluator after the bundle's CNN (onnxEvaluator of each SHIPPED_EVALUATORS card). */
export async function shippedEvaluators(threads?: number): Promise<(Evaluator & { readonly card: EvaluatorCard })[]> {
  const out: (Evaluator & { readonly card: EvaluatorCard })[] = [];
  for (const card of SHIPPED_EVALUATORS) out.push(await onnxEvaluator(card, threads));
  return out;
}

/**
 * Throws unless each evaluator's measured test-set accuracy is within 0.2 points of its card's: the shipped graph
 * must be the one its card describes (a stale or foreign file would score silently).
 */
export function checkCards(evaluators: readonly (Evaluator & { readonly card: EvaluatorCard })[], testAccuracy: Record<string, number>): void {
  for (const e of evaluators) {
    const measured = testAccuracy[e.name];
    if (measured === undefined || Math.abs(measured - e.card.testAccuracy) > 0.002) {
      throw new MigmError(
        'UNSUPPORTED',
        `${e.card.file}: test accuracy ${measured?.toFixed(4) ?? 'not measured'} under onnxruntime, its card says ${e.card.testAccuracy}; remake it (${e.card.trainedBy ?? 'training/migm_train/fashion_mnist/eval_classifier2.py'})`,
      );
    }
  }
}

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
    name: card.label ?? (card.name === 'mlp-s7' ? 'MLP' : card.name),
    description: `${card.name}: ${card.architecture}, seed ${card.seed}, test accuracy ${(100 * card.testAccuracy).toFixed(2)}% (packages/bench/evaluators/${card.file}, made by ${card.trainedBy ?? 'training/migm_train/fashion_mnist/eval_classifier2.py'})`,
    card,
    async classify(images) {
      const out = await session.run({ pixels: new ort.Tensor('float32', images.data, [images.batch, images.channels, images.height, images.width]) });
      const features = out['features']!.data as Float32Array;
      return { logits: out['logits']!.data as Float32Array, features, featureDim: features.length / images.batch };
    },
    dispose: () => session.release(),
  };
}
