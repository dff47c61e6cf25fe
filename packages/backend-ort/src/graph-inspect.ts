import { MigmError } from '@migm/core/backend';
import { protoFields, type ProtoField } from './protobuf.js';

/**
 * Operator domains a bundle graph may use: the ONNX standard set ('' and its alias 'ai.onnx'), ONNX-ML, and
 * onnxruntime's built-in contrib operators ('com.microsoft', e.g. the fused MultiHeadAttention the training
 * toolkit exports). Anything else would need a custom-op library, which a bundle cannot ship.
 */
export const ALLOWED_OP_DOMAINS: readonly string[] = ['', 'ai.onnx', 'ai.onnx.ml', 'com.microsoft'];

/** One tensor's external-data reference, as the graph declares it (`TensorProto.external_data`). */
export interface ExternalRef {
  readonly tensor: string;
  /** The `location` entry; undefined when the tensor names none. */
  readonly location: string | undefined;
  /** The `offset` and `length` entries as given (decimal strings), undefined when absent. */
  readonly offset: string | undefined;
  readonly length: string | undefined;
  /** Keys other than location, offset, length and checksum. */
  readonly otherKeys: string[];
}

/** What `inspectGraph` found in (or wrong with) a graph's bytes. */
export interface GraphProblems {
  /** Tensors whose data lives outside the file (external data), by name; their locations are not echoed. */
  readonly externalTensors: string[];
  /** Those tensors' references (location, offset, length), in the order found. */
  readonly externalRefs: ExternalRef[];
  /** Operator domains outside ALLOWED_OP_DOMAINS. */
  readonly domains: string[];
  /** Structural problems (truncated bytes, training sections). */
  readonly malformed: string[];
}

// Field numbers of onnx.proto (ModelProto and what it nests) that can hold a tensor, a subgraph or a domain.
// Everything else (raw weights included) is skipped without being copied.
const MODEL = { graph: 7, opsetImport: 8, trainingInfo: 20, functions: 25 } as const;
const GRAPH = { node: 1, initializer: 5, sparseInitializer: 15 } as const;
const NODE = { attribute: 5, domain: 7 } as const;
const ATTRIBUTE = { t: 5, g: 6, tensors: 10, graphs: 11, sparseTensor: 22, sparseTensors: 23 } as const;
const TENSOR = { name: 8, externalData: 13, dataLocation: 14 } as const;
const ENTRY = { key: 1, value: 2 } as const; // StringStringEntryProto
const SPARSE = { values: 1, indices: 2 } as const;
const FUNCTION = { node: 7, opsetImport: 9, domain: 10 } as const;
const OPSET = { domain: 1 } as const;
const EXTERNAL = 1; // TensorProto.DataLocation.EXTERNAL
const MAX_DEPTH = 64; // nested subgraphs (If/Loop bodies) deeper than this are refused rather than recursed

/**
 * Reads an ONNX model's protobuf bytes without building it and reports external-data tensors, operator
 * domains outside the allowed set and structural problems. It walks only the fields that can hold tensors,
 * subgraphs, functions or domains, so a large file costs one pass and no copies.
 */
export function inspectGraph(bytes: Uint8Array): GraphProblems {
  const problems: GraphProblems = { externalTensors: [], externalRefs: [], domains: [], malformed: [] };
  const domains = new Set<string>();
  const localDomains = new Set<string>();
  try {
    for (const f of fields(bytes, 0, bytes.length)) {
      if (f.number === MODEL.graph && f.wire === 2) graph(bytes, f, problems, domains, 0);
      else if (f.number === MODEL.opsetImport && f.wire === 2) opset(bytes, f, domains);
      else if (f.number === MODEL.functions && f.wire === 2) fn(bytes, f, problems, domains, localDomains);
      else if (f.number === MODEL.trainingInfo) problems.malformed.push('it has a training section (ModelProto.training_info), which bundles do not use');
    }
  } catch (err) {
    problems.malformed.push((err as Error).message);
  }
  for (const d of domains) if (!ALLOWED_OP_DOMAINS.includes(d) && !localDomains.has(d)) problems.domains.push(d);
  return problems;
}

/**
 * The external-data files a graph may use: plain file names (no folder, no `..`) that its manifest entry lists in
 * `externalData`, with their verified bytes (from the bundle's own loader, so size and sha256 are checked).
 */
export interface AllowedExternalData {
  /** The manifest's `graphs.<role>.externalData`, for messages and the listing check. */
  readonly names: readonly string[];
  /** Verified bytes by file name; a listed name missing here is refused. */
  readonly files: ReadonlyMap<string, Uint8Array>;
}

/** A plain file name: what an external-data location may be (no separators, no `.`/`..`, no control characters). */
export const PLAIN_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

const EXTERNAL_KEYS = ['location', 'offset', 'length', 'checksum'];

/**
 * Throws `BUNDLE_MISMATCH` when a graph's bytes use an operator domain outside ALLOWED_OP_DOMAINS, are not a
 * readable model, or use external data other than `allowed`: every external-data tensor must name (as a plain
 * file name) one of the files its manifest entry lists, with an offset and length inside that file's verified
 * bytes, and no key onnxruntime would read beyond location, offset, length and checksum. Without `allowed` any
 * external data is refused (onnxruntime would read files next to the process's working directory). Run before
 * any session is created from the bytes. Returns the external-data files the graph uses (a subset of
 * `allowed.names`), to hand to onnxruntime from memory.
 */
export function checkGraphBytes(file: string, bytes: Uint8Array, allowed?: AllowedExternalData): string[] {
  const p = inspectGraph(bytes);
  const lines: string[] = [];
  const used = new Set<string>();
  if (p.externalTensors.length > 0) {
    const bad = new Map<string, string[]>(); // reason -> tensor names
    const flag = (reason: string, tensor: string) => bad.set(reason, [...(bad.get(reason) ?? []), tensor]);
    for (const ref of p.externalRefs) {
      if (!allowed) flag('the graph lists no externalData files in the manifest', ref.tensor);
      else if (ref.location === undefined) flag('no location is given', ref.tensor);
      else if (!PLAIN_FILE_NAME.test(ref.location)) flag("the location is not a plain file name in the bundle's folder", ref.tensor);
      else if (!allowed.names.includes(ref.location)) flag("the location is not one of the graph's externalData files", ref.tensor);
      else if (ref.otherKeys.length > 0) flag(`keys other than ${EXTERNAL_KEYS.join(', ')} are given`, ref.tensor);
      else {
        const data = allowed.files.get(ref.location);
        const offset = ref.offset === undefined ? 0 : decimal(ref.offset);
        const length = ref.length === undefined ? 0 : decimal(ref.length);
        if (!data) flag('the location is not a verified file of this bundle', ref.tensor);
        else if (offset === undefined || length === undefined || offset + length > data.byteLength) flag('offset and length lie outside the file', ref.tensor);
        else used.add(ref.location);
      }
    }
    // A tensor marked external without any external_data entries has no reference at all.
    const referenced = new Set(p.externalRefs.map((r) => r.tensor));
    for (const t of p.externalTensors) if (!referenced.has(t)) flag('no location is given', t);
    for (const [reason, tensors] of bad) {
      const names = tensors
        .slice(0, 5)
        .map((n) => `'${printable(n)}'`)
        .join(', ');
      lines.push(
        `${tensors.length} tensor(s) keep their data in external files (${names}) and ${reason}; external data is allowed only from files the manifest lists for this graph (graphs.<role>.externalData) with their sha256`,
      );
    }
  }
  if (p.domains.length > 0) {
    lines.push(
      `it uses operator domain(s) ${p.domains.map((d) => `'${printable(d)}'`).join(', ')}; allowed: ${ALLOWED_OP_DOMAINS.map((d) => `'${d}'`).join(', ')}`,
    );
  }
  lines.push(...p.malformed);
  if (lines.length > 0) {
    // Locations are left out of the details as well as the message: only tensor names and domains are echoed.
    const { externalRefs: _refs, ...details } = p;
    void _refs;
    throw new MigmError('BUNDLE_MISMATCH', `Graph ${file} was refused before loading: ${lines.join('; ')}.`, { details: { file, ...details } });
  }
  return [...used];
}

/** A non-negative decimal integer string (as onnx writes offsets and lengths), else undefined. */
function decimal(s: string): number | undefined {
  if (!/^[0-9]{1,16}$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Names and domains come from the file: keep them short and printable in messages. */
function printable(s: string): string {
  const clean = s.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > 64 ? `${clean.slice(0, 64)}…` : clean;
}

function graph(bytes: Uint8Array, f: ProtoField, p: GraphProblems, domains: Set<string>, depth: number): void {
  if (depth > MAX_DEPTH) throw new Error(`subgraphs are nested deeper than ${MAX_DEPTH} levels`);
  for (const g of fields(bytes, f.start, f.end)) {
    if (g.wire !== 2) continue;
    if (g.number === GRAPH.node) node(bytes, g, p, domains, depth);
    else if (g.number === GRAPH.initializer) tensor(bytes, g, p);
    else if (g.number === GRAPH.sparseInitializer) sparse(bytes, g, p);
  }
}

function node(bytes: Uint8Array, f: ProtoField, p: GraphProblems, domains: Set<string>, depth: number): void {
  let domain = '';
  for (const n of fields(bytes, f.start, f.end)) {
    if (n.wire !== 2) continue;
    if (n.number === NODE.domain) domain = text(bytes, n);
    else if (n.number === NODE.attribute) {
      for (const a of fields(bytes, n.start, n.end)) {
        if (a.wire !== 2) continue;
        if (a.number === ATTRIBUTE.t || a.number === ATTRIBUTE.tensors) tensor(bytes, a, p);
        else if (a.number === ATTRIBUTE.g || a.number === ATTRIBUTE.graphs) graph(bytes, a, p, domains, depth + 1);
        else if (a.number === ATTRIBUTE.sparseTensor || a.number === ATTRIBUTE.sparseTensors) sparse(bytes, a, p);
      }
    }
  }
  domains.add(domain);
}

function tensor(bytes: Uint8Array, f: ProtoField, p: GraphProblems): void {
  let name = '';
  let external = false;
  const entries: [string, string][] = [];
  for (const t of fields(bytes, f.start, f.end)) {
    if (t.number === TENSOR.name && t.wire === 2) name = text(bytes, t);
    else if (t.number === TENSOR.externalData) {
      external = true;
      if (t.wire !== 2) continue;
      let key = '';
      let value = '';
      for (const e of fields(bytes, t.start, t.end)) {
        if (e.wire !== 2) continue;
        // text() cuts at 4096 bytes; a longer key or value becomes one that no check accepts rather than a prefix.
        const v = e.end - e.start > 1024 ? '\u0000(too long)' : text(bytes, e);
        if (e.number === ENTRY.key) key = v;
        else if (e.number === ENTRY.value) value = v;
      }
      entries.push([key, value]);
    } else if (t.number === TENSOR.dataLocation && t.wire === 0 && t.value === EXTERNAL) external = true;
  }
  if (!external) return;
  const tensorName = name || '(unnamed)';
  p.externalTensors.push(tensorName);
  if (entries.length === 0) return;
  // Protobuf keeps the last of repeated keys for a map, but onnxruntime reads them in order: refuse duplicates.
  const keys = entries.map(([k]) => k);
  const get = (k: string) => entries.find(([key]) => key === k)?.[1];
  const otherKeys = keys.filter((k, i) => !EXTERNAL_KEYS.includes(k) || keys.indexOf(k) !== i);
  p.externalRefs.push({ tensor: tensorName, location: get('location'), offset: get('offset'), length: get('length'), otherKeys });
}

function sparse(bytes: Uint8Array, f: ProtoField, p: GraphProblems): void {
  for (const s of fields(bytes, f.start, f.end)) {
    if (s.wire === 2 && (s.number === SPARSE.values || s.number === SPARSE.indices)) tensor(bytes, s, p);
  }
}

function opset(bytes: Uint8Array, f: ProtoField, domains: Set<string>): void {
  for (const o of fields(bytes, f.start, f.end)) if (o.number === OPSET.domain && o.wire === 2) domains.add(text(bytes, o));
}

function fn(bytes: Uint8Array, f: ProtoField, p: GraphProblems, domains: Set<string>, localDomains: Set<string>): void {
  for (const g of fields(bytes, f.start, f.end)) {
    if (g.wire !== 2) continue;
    // A model-local function defines an operator of its own domain; calling it needs no custom-op library.
    if (g.number === FUNCTION.domain) localDomains.add(text(bytes, g));
    else if (g.number === FUNCTION.node) node(bytes, g, p, domains, 0);
    else if (g.number === FUNCTION.opsetImport) opset(bytes, g, domains);
  }
}

/** A string field as Latin-1 (domains are ASCII; names only appear in messages, made printable there). */
function text(bytes: Uint8Array, f: ProtoField): string {
  let s = '';
  for (let i = f.start; i < Math.min(f.end, f.start + 4096); i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/**
 * The varint and length-delimited fields of bytes[start, end) (fixed-width ones hold nothing looked at here);
 * a malformed message throws, and `inspectGraph` reports the message as malformed.
 */
function* fields(bytes: Uint8Array, start: number, end: number): Generator<ProtoField> {
  for (const f of protoFields(bytes, start, end)) if (f.wire === 0 || f.wire === 2) yield f;
}
