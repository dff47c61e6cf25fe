// Generated from schema/manifest.schema.json by scripts/gen-manifest-types.mjs. Do not edit.

/**
 * manifest.json of a migm model bundle (schema version 1). The single source of truth for the TypeScript types and validator in @migm/core and for the Python bundle writer.
 */
export interface MigmManifest {
  /**
   * Format version; readers refuse versions they do not know.
   */
  schemaVersion: 1;
  /**
   * Bundle name, e.g. migm-fashion-mnist-s.
   */
  name: string;
  /**
   * Free-form version of the trained weights.
   */
  version?: string;
  description?: string;
  license?: string;
  /**
   * Model family; decides the sampler defaults and graph contracts.
   */
  family: 'maskgit';
  image: {
    width: number;
    height: number;
    channels: 1 | 3;
    /**
     * Value range of the decoder's pixel output, e.g. [0, 1].
     *
     * @minItems 2
     * @maxItems 2
     */
    range?: [number, number];
  };
  tokens: {
    /**
     * [rows, cols] of the token grid; rows * cols = count.
     *
     * @minItems 2
     * @maxItems 2
     */
    grid: [number, number];
    /**
     * L: image tokens per image.
     */
    count: number;
    /**
     * K: number of codebook entries (logits per position).
     */
    codebookSize: number;
    /**
     * Token id that marks a masked position: equal to codebookSize (the first id outside 0..K-1).
     */
    maskId: number;
    /**
     * Pixels per token side.
     */
    patchSize?: number;
  };
  condition: {
    type: 'class';
    numClasses: number;
    /**
     * Class id of the unconditional (guidance) branch: equal to numClasses.
     */
    nullClassId: number;
    /**
     * @minItems 1
     */
    classNames: [string, ...string[]];
  };
  /**
   * D: width of the last hidden feature (input of the head).
   */
  featureDim: number;
  sampling: {
    /**
     * Default N.
     */
    steps: number;
    schedule: 'arccos' | 'cosine' | 'linear' | 'square' | 'root';
    guidance: {
      scale: number;
      schedule: 'constant' | 'linear';
    };
    /**
     * Inverse temperature applied to logits before softmax.
     */
    inverseTemperature: number;
    /**
     * r_temp: scale of the annealed Gumbel noise on confidences.
     */
    randomizeTemperature: number;
    /**
     * r_temp at skipped steps of accelerated methods (default: randomizeTemperature).
     */
    skippedRandomizeTemperature?: number;
    /**
     * Default number of full (base-model) steps for accelerated methods.
     */
    budget: number;
  };
  /**
   * Graph roles. base: tokens [batch, L] + classes [batch] -> logits [batch, L, K] + feature [batch, L, D]. head: feature -> logits. decoder: tokens [batch, L] -> pixels [batch, channels, height, width]. shortcut: feature + newTokens [batch, n] + newPositions [batch, n] + ratio [batch] -> velocity [batch, L, D]. classifier: pixels -> logits [batch, numClasses] + features [batch, F].
   */
  graphs: {
    base: GraphSpec;
    head: HeadGraphSpec;
    decoder: GraphSpec;
    shortcut?: ShortcutGraphSpec;
    classifier?: GraphSpec;
  };
  /**
   * @minItems 1
   */
  files: [BundleFile, ...BundleFile[]];
  /**
   * Free-form provenance: data, seeds, metrics.
   */
  training?: {
    [k: string]: unknown;
  };
}
/**
 * This interface was referenced by `MigmManifest`'s JSON-Schema
 * via the `definition` "graph".
 */
export interface GraphSpec {
  /**
   * Path of the ONNX file, relative to the manifest; listed in files.
   */
  file: string;
  opset?: number;
  parameters?: number;
  /**
   * Files holding this graph's ONNX external data (weights over protobuf's 2 GiB limit), by plain name in the bundle's top folder, each listed in files with its sha256. Every external-data location the graph names must be one of these; they are handed to onnxruntime from memory, never read from disk by it.
   *
   * @minItems 1
   * @maxItems 64
   */
  externalData?: [string, ...string[]];
  /**
   * Role -> tensor.
   */
  inputs: {
    [k: string]: TensorSpec;
  };
  /**
   * Role -> tensor.
   */
  outputs: {
    [k: string]: TensorSpec;
  };
}
/**
 * This interface was referenced by `MigmManifest`'s JSON-Schema
 * via the `definition` "tensor".
 */
export interface TensorSpec {
  /**
   * The ONNX input or output name.
   */
  name: string;
  dtype: 'float32' | 'int32' | 'int64';
  /**
   * Dimensions; a string is a symbolic (dynamic) dimension such as "batch".
   */
  shape: (number | string)[];
}
/**
 * The head graph: feature [batch, L, D] -> logits [batch, L, K]. With affine: true the bundle declares that the head is an affine map (e.g. f E^T + b), so head(a x + (1 - a) y) = a head(x) + (1 - a) head(y) for any a; runtimes then apply classifier-free guidance to the feature and run the head once per image instead of once per guidance branch. Runtimes check the claim on random inputs before relying on it.
 *
 * This interface was referenced by `MigmManifest`'s JSON-Schema
 * via the `definition` "headGraph".
 */
export interface HeadGraphSpec {
  /**
   * Path of the ONNX file, relative to the manifest; listed in files.
   */
  file: string;
  opset?: number;
  parameters?: number;
  /**
   * Files holding this graph's ONNX external data (weights over protobuf's 2 GiB limit), by plain name in the bundle's top folder, each listed in files with its sha256. Every external-data location the graph names must be one of these; they are handed to onnxruntime from memory, never read from disk by it.
   *
   * @minItems 1
   * @maxItems 64
   */
  externalData?: [string, ...string[]];
  /**
   * Role -> tensor.
   */
  inputs: {
    [k: string]: TensorSpec;
  };
  /**
   * Role -> tensor.
   */
  outputs: {
    [k: string]: TensorSpec;
  };
  /**
   * True when the head is affine in its input (see the graph description). Default false.
   */
  affine?: boolean;
}
/**
 * feature [batch, L, D] + newTokens [batch, n] + newPositions [batch, n] + ratio [batch] -> velocity [batch, L, D].
 *
 * This interface was referenced by `MigmManifest`'s JSON-Schema
 * via the `definition` "shortcutGraph".
 */
export interface ShortcutGraphSpec {
  file: string;
  opset?: number;
  parameters?: number;
  /**
   * Files holding this graph's ONNX external data (weights over protobuf's 2 GiB limit), by plain name in the bundle's top folder, each listed in files with its sha256. Every external-data location the graph names must be one of these; they are handed to onnxruntime from memory, never read from disk by it.
   *
   * @minItems 1
   * @maxItems 64
   */
  externalData?: [string, ...string[]];
  inputs: {
    [k: string]: TensorSpec;
  };
  outputs: {
    [k: string]: TensorSpec;
  };
  /**
   * N of the trajectories the shortcut was trained on.
   */
  trainedSteps: number;
  compatibility: {
    /**
     * sha256 of the base graph the shortcut was trained on.
     */
    baseSha256: string;
    codebookSize: number;
    featureDim: number;
  };
}
export interface BundleFile {
  path: string;
  /**
   * Exact size in bytes (at most 2 GiB: ONNX files hold every weight inline, no external data).
   */
  bytes: number;
  sha256: string;
}
