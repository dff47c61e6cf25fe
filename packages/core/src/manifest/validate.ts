import { Validator } from '@cfworker/json-schema';
import schema from '../../schema/manifest.schema.json' with { type: 'json' };
import { MigmError } from '../errors.js';
import { baseInputRoles, GRAPH_CONTRACT, type AnyGraphSpec, type GraphRole, type Manifest, type ShortcutGraphSpec, type TensorSpec } from './types.js';

/** The manifest schema versions this build of migm reads. */
export const SUPPORTED_SCHEMA_VERSIONS: readonly number[] = [1];

let validator: Validator | undefined;

/** The JSON Schema of manifest.json (draft-07), the single source of truth shared with the Python writer. */
export const manifestSchema: Readonly<Record<string, unknown>> = schema;

/**
 * Validates a parsed manifest.json: the JSON Schema first, then the rules a schema cannot express (grid size,
 * mask and null ids, graph tensor roles and shapes, every graph file listed in `files`, shortcut compatibility).
 * Throws `INVALID_MANIFEST` naming the first problems found; returns the manifest typed.
 *
 * @example
 * const manifest = validateManifest(JSON.parse(text));
 */
export function validateManifest(value: unknown): Manifest {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new MigmError('INVALID_MANIFEST', 'The manifest must be a JSON object.');
  }
  const version = (value as { schemaVersion?: unknown }).schemaVersion;
  if (!SUPPORTED_SCHEMA_VERSIONS.includes(version as number)) {
    throw new MigmError(
      'INVALID_MANIFEST',
      `Unknown manifest schemaVersion ${JSON.stringify(version)}; this version of migm reads ${SUPPORTED_SCHEMA_VERSIONS.join(', ')}.`,
      { details: { schemaVersion: version } },
    );
  }
  validator ??= new Validator(schema as never, '7', false);
  const result = validator.validate(value);
  if (!result.valid) {
    // The leaf errors (deepest locations) say what is wrong; the rest repeat them up the tree.
    const leaves = result.errors.filter((e) => !result.errors.some((o) => o !== e && o.instanceLocation.startsWith(`${e.instanceLocation}/`)));
    const lines = (leaves.length > 0 ? leaves : result.errors).slice(0, 5).map((e) => `${e.instanceLocation || '#'}: ${e.error}`);
    throw new MigmError('INVALID_MANIFEST', `The manifest does not match its schema: ${lines.join('; ')}.`, {
      details: { errors: result.errors.map((e) => ({ at: e.instanceLocation, error: e.error })) },
    });
  }
  const manifest = value as Manifest;
  const problems = crossFieldProblems(manifest);
  if (problems.length > 0) {
    throw new MigmError('INVALID_MANIFEST', `The manifest is inconsistent: ${problems.join('; ')}.`, { details: { problems } });
  }
  checkShortcutCompatibility(manifest, manifest.graphs.shortcut);
  return manifest;
}

/**
 * Refuses a shortcut trained for another base model, codebook or feature width (`BUNDLE_MISMATCH`).
 * `shortcut` may come from another bundle than `manifest`.
 */
export function checkShortcutCompatibility(manifest: Manifest, shortcut: ShortcutGraphSpec | undefined): void {
  if (shortcut === undefined) return;
  const problems: string[] = [];
  const K = manifest.tokens.codebookSize;
  const D = manifest.featureDim;
  const c = shortcut.compatibility;
  if (c.codebookSize !== K) problems.push(`it was trained for codebook size ${c.codebookSize}, the base model has ${K}`);
  if (c.featureDim !== D) problems.push(`it was trained for feature width ${c.featureDim}, the base model has ${D}`);
  const baseFile = manifest.files.find((f) => f.path === manifest.graphs.base.file);
  if (baseFile && baseFile.sha256 !== c.baseSha256) {
    problems.push(`it was trained for another base model (base sha256 ${c.baseSha256.slice(0, 12)}…, this bundle's base is ${baseFile.sha256.slice(0, 12)}…)`);
  }
  if (problems.length > 0) {
    throw new MigmError('BUNDLE_MISMATCH', `The shortcut model does not fit this base model: ${problems.join('; ')}.`, { details: { problems } });
  }
}

function crossFieldProblems(m: Manifest): string[] {
  const out: string[] = [];
  const L = m.tokens.count;
  const K = m.tokens.codebookSize;
  const D = m.featureDim;
  if (m.tokens.grid[0] * m.tokens.grid[1] !== L) out.push(`tokens.grid ${JSON.stringify(m.tokens.grid)} does not multiply to tokens.count ${L}`);
  // The runtime sizes its embeddings and checks token ids by these equalities (docs/bundle-format.md).
  if (m.tokens.maskId !== K) out.push(`tokens.maskId ${m.tokens.maskId} must equal tokens.codebookSize ${K} (the first id after the codebook)`);
  out.push(...conditionProblems(m));
  const [rows, cols] = m.tokens.grid;
  const { width: W, height: H } = m.image;
  const patch = m.tokens.patchSize;
  if (patch !== undefined) {
    if (rows * patch !== H || cols * patch !== W)
      out.push(`tokens.grid ${JSON.stringify(m.tokens.grid)} with patchSize ${patch} covers ${cols * patch}x${rows * patch} pixels, the image is ${W}x${H}`);
  } else if (H % rows !== 0 || W % cols !== 0 || H / rows !== W / cols) {
    out.push(`tokens.grid ${JSON.stringify(m.tokens.grid)} does not tile the ${W}x${H} image into square patches`);
  }
  const range = m.image.range;
  if (range !== undefined && !(Number.isFinite(range[0]) && Number.isFinite(range[1]) && range[0] < range[1])) {
    out.push(`image.range ${JSON.stringify(range)} must be two finite numbers, low < high`);
  }
  if (m.sampling.steps > L) out.push(`sampling.steps ${m.sampling.steps} exceeds the ${L} tokens`);
  if (m.sampling.budget > m.sampling.steps) out.push(`sampling.budget ${m.sampling.budget} exceeds sampling.steps ${m.sampling.steps}`);

  const paths = new Set<string>();
  for (const f of m.files) {
    if (paths.has(f.path)) out.push(`files lists ${f.path} twice`);
    paths.add(f.path);
  }
  const { channels, height, width } = m.image;
  const c = m.condition;
  const text = c.type === 'text' ? c : null;
  const T = text?.maxLength ?? null;
  // Widths of the text encoder's outputs, when it declares them: the base graph's text inputs must match.
  const encoderOut = m.graphs.textEncoder?.outputs;
  const E = numeric(encoderOut?.['textStates']?.shape[2]);
  const P = numeric(encoderOut?.['pooled']?.shape[1]);
  const M = text?.microConditioning?.names.length ?? null;
  const expected: Record<GraphRole, Record<string, readonly (number | null)[]>> = {
    base: {
      tokens: [null, L],
      classes: [null],
      textStates: [null, T, E],
      pooled: [null, P],
      microConds: [null, M],
      promptIds: [null, T],
      logits: [null, L, K],
      feature: [null, L, D],
    },
    head: { feature: [null, L, D], logits: [null, L, K] },
    decoder: { tokens: [null, L], pixels: [null, channels, height, width] },
    shortcut: { feature: [null, L, D], newTokens: [null, null], newPositions: [null, null], ratio: [null], velocity: [null, L, D] },
    classifier: { pixels: [null, channels, height, width], logits: [null, c.type === 'class' ? c.numClasses : null], features: [null, null] },
    textEncoder: { inputIds: [null, T], textStates: [null, T, null], pooled: [null, null] },
  };
  const intRoles = new Set(['tokens', 'classes', 'newTokens', 'newPositions', 'inputIds', 'promptIds']);
  for (const role of Object.keys(GRAPH_CONTRACT) as GraphRole[]) {
    const graph = m.graphs[role] as AnyGraphSpec | undefined;
    if (graph === undefined) continue;
    if (!paths.has(graph.file)) out.push(`graphs.${role}.file ${graph.file} is not listed in files`);
    for (const [precision, v] of Object.entries(graph.variants ?? {})) {
      if (!v) continue;
      if (!paths.has(v.file)) out.push(`graphs.${role}.variants.${precision}.file ${v.file} is not listed in files`);
      if (v.file === graph.file || precision === (graph.precision ?? 'fp32'))
        out.push(`graphs.${role}.variants.${precision} is the graph's own file or precision`);
    }
    const contract = GRAPH_CONTRACT[role];
    for (const side of ['inputs', 'outputs'] as const) {
      const roles = role === 'base' && side === 'inputs' ? baseInputRoles(m) : contract[side];
      for (const tensorRole of roles) {
        const t = graph[side][tensorRole];
        if (t === undefined) {
          out.push(`graphs.${role}.${side} lacks the '${tensorRole}' tensor`);
          continue;
        }
        const shapeProblem = checkShape(t, expected[role][tensorRole]!);
        if (shapeProblem) out.push(`graphs.${role}.${side}.${tensorRole}: ${shapeProblem}`);
        const wantFloat = !intRoles.has(tensorRole);
        if (wantFloat !== (t.dtype === 'float32')) out.push(`graphs.${role}.${side}.${tensorRole}: dtype ${t.dtype} is not allowed here`);
      }
    }
  }
  if (text !== null) {
    if (!paths.has(text.tokenizer.file)) out.push(`condition.tokenizer.file ${text.tokenizer.file} is not listed in files`);
    // A class input on a text bundle's base (or the other way round) would be fed nothing: refuse it at load.
    if (m.graphs.base.inputs['classes'] !== undefined) out.push(`graphs.base.inputs has 'classes', but the bundle is conditioned on text`);
    if (m.graphs.classifier !== undefined) out.push('graphs.classifier scores class ids; a text-conditioned bundle cannot have one');
  } else if (m.graphs.textEncoder !== undefined) {
    out.push('graphs.textEncoder is set, but the bundle is conditioned on a class id (condition.type "class")');
  }
  return out;
}

/** Cross-field rules of the condition: class ids and names, or a text bundle's tokenizer and micro-conditioning. */
function conditionProblems(m: Manifest): string[] {
  const out: string[] = [];
  const c = m.condition;
  if (c.type === 'class') {
    if (c.classNames.length !== c.numClasses) out.push(`condition.classNames has ${c.classNames.length} names for ${c.numClasses} classes`);
    if (c.nullClassId !== c.numClasses)
      out.push(`condition.nullClassId ${c.nullClassId} must equal condition.numClasses ${c.numClasses} (the first id after the classes)`);
    if (m.family === 'amused') out.push('family amused is text-conditioned: condition.type must be "text"');
    return out;
  }
  if (m.family === 'maskgit') out.push('family maskgit is class-conditioned: condition.type must be "class"');
  if (m.family === 'amused' && m.graphs.textEncoder === undefined) out.push('family amused needs graphs.textEncoder (the CLIP text encoder)');
  const micro = c.microConditioning;
  if (micro !== undefined) {
    if (micro.names.length !== micro.default.length)
      out.push(`condition.microConditioning has ${micro.names.length} names and ${micro.default.length} default values`);
    if (new Set(micro.names).size !== micro.names.length) out.push('condition.microConditioning.names repeats a name');
    if (m.graphs.textEncoder === undefined) out.push('condition.microConditioning needs graphs.textEncoder (microConds go with the encoded prompt)');
  }
  return out;
}

/** A declared dimension as a number, or null when it is symbolic or absent. */
function numeric(d: number | string | undefined): number | null {
  return typeof d === 'number' ? d : null;
}

/** Compares a declared shape with the expected one (null = any, e.g. a symbolic batch dimension). */
function checkShape(t: TensorSpec, expected: readonly (number | null)[]): string | null {
  if (t.shape.length !== expected.length) return `shape ${JSON.stringify(t.shape)} has rank ${t.shape.length}, expected ${expected.length}`;
  for (let i = 0; i < expected.length; i++) {
    const want = expected[i];
    const got = t.shape[i];
    if (want !== null && want !== undefined && typeof got === 'number' && got !== want) {
      return `dimension ${i} is ${got}, expected ${want}`;
    }
  }
  return null;
}
