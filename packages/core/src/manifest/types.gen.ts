// Generated from schema/manifest.schema.json by scripts/gen-manifest-types.mjs. Do not edit.

/**
 * Precision of a graph file's weights and arithmetic (a graph's precision: its file's; default fp32). fp32; fp16 (weights and arithmetic in float16, float32 inputs and outputs); int8 (int8 weights: matrix products with activations quantized at run time, MatMulInteger; convolutions as static QDQ, QLinearConv; an affine head weight-only, 8-bit MatMulNBits; embedding tables GatherBlockQuantized); int4 (weight-only int4 blocks: MatMulNBits).
 *
 * This interface was referenced by `MigmManifest`'s JSON-Schema
 * via the `definition` "precision".
 */
export type Precision = 'fp32' | 'fp16' | 'int8' | 'int4';

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
   * Model family; decides the sampler defaults and graph contracts. maskgit: class-conditioned (the default bundle, MaskGIT-512). amused: text-conditioned (aMUSEd: a CLIP text encoder graph, prompts tokenized by the bundle's tokenizer).
   */
  family: 'maskgit' | 'amused';
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
  /**
   * What the images are conditioned on: a class id (type class) or a prompt (type text).
   */
  condition: ClassCondition | TextCondition;
  /**
   * D: width of the last hidden feature (input of the head).
   */
  featureDim: number;
  sampling: {
    /**
     * Default N.
     */
    steps: number;
    /**
     * Token-count schedule. cosine-floor is AmusedScheduler's rule: after step i, floor(L cos(pi/2 (i+1)/N)) positions stay masked, clamped to [1, masked - 1] (the last step reveals all).
     */
    schedule: 'arccos' | 'cosine' | 'linear' | 'square' | 'root' | 'cosine-floor';
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
   * Graph roles. base: tokens [batch, L] + classes [batch] -> logits [batch, L, K] + feature [batch, L, D]. head: feature -> logits. decoder: tokens [batch, L] -> pixels [batch, channels, height, width]. shortcut: feature + newTokens [batch, n] + newPositions [batch, n] + ratio [batch] -> velocity [batch, L, D]. classifier: pixels -> logits [batch, numClasses] + features [batch, F]. textEncoder (text bundles): inputIds [batch, maxLength] int32 -> textStates [batch, maxLength, E] float32 + pooled [batch, P] float32; the base graph of a text bundle then takes tokens + textStates + pooled (+ microConds [batch, M] float32 when condition.microConditioning is set) instead of classes.
   */
  graphs: {
    base: GraphSpec;
    head: HeadGraphSpec;
    decoder: GraphSpec;
    shortcut?: ShortcutGraphSpec;
    classifier?: GraphSpec;
    textEncoder?: GraphSpec;
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
export interface ClassCondition {
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
}
/**
 * A text-conditioned bundle: prompts are tokenized in the runtime with the bundle's tokenizer (a Hugging Face tokenizer.json listed in files), padded or truncated to maxLength ids, encoded once per distinct prompt by the textEncoder graph (when the bundle has one), and passed to the base graph. Guidance rows use negativePrompt unless the caller gives another.
 */
export interface TextCondition {
  type: 'text';
  /**
   * Token ids per prompt after padding / truncation, start and end tokens included (77 for CLIP).
   */
  maxLength: number;
  tokenizer: {
    /**
     * The tokenizer's Hugging Face tokenizer.json, relative to the manifest; listed in files.
     */
    file: string;
    /**
     * clip-bpe: CLIP's byte-level BPE (lower-cased, whitespace collapsed, </w> end-of-word), <|startoftext|> first, <|endoftext|> last and as padding.
     */
    kind: 'clip-bpe';
    bosId?: number;
    eosId?: number;
    padId?: number;
  };
  /**
   * The prompt of the guidance (unconditional) rows when the caller gives none ("" for aMUSEd).
   */
  negativePrompt: string;
  /**
   * Extra per-image numbers the base graph takes as its microConds input (aMUSEd: width, height, crop x, crop y, aesthetic score).
   */
  microConditioning?: {
    /**
     * @minItems 1
     * @maxItems 64
     */
    names: [string, ...string[]];
    /**
     * @minItems 1
     * @maxItems 64
     */
    default: [number, ...number[]];
  };
  /**
   * Prompts a user interface may offer.
   *
   * @maxItems 64
   */
  examplePrompts?: string[];
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
  precision?: Precision;
  variants?: GraphVariants;
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
 * Other precisions of this graph, made from its file (python -m migm_train quantize), with the same inputs and outputs. Backends pick one with their dtype option and load file otherwise; file stays the graph's identity (a shortcut's compatibility.baseSha256 names the base's file). See docs/bundle-format.md, Precision variants.
 *
 * This interface was referenced by `MigmManifest`'s JSON-Schema
 * via the `definition` "graphVariants".
 */
export interface GraphVariants {
  fp16?: GraphVariant;
  int8?: GraphVariant;
  int4?: GraphVariant;
}
/**
 * This interface was referenced by `MigmManifest`'s JSON-Schema
 * via the `definition` "graphVariant".
 */
export interface GraphVariant {
  /**
   * Path of the ONNX file, relative to the manifest; listed in files.
   */
  file: string;
  /**
   * How it was made (tool and settings), for people.
   */
  method?: string;
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
  precision?: Precision;
  variants?: GraphVariants;
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
  precision?: Precision;
  variants?: GraphVariants;
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
