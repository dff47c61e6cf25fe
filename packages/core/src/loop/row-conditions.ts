import type { Backend, ForwardInput, TextHandle } from '../backend/types.js';
import type { Manifest } from '../manifest/types.js';
import type { ResolvedOptions } from '../generate/options.js';
import type { BackendCalls } from './backend-calls.js';

/** The condition fields of a forward pass: class ids, or each row's prompt in the encoded handle. */
export type ConditionFields = Pick<ForwardInput, 'classes' | 'text'>;

/**
 * The condition of every row of a run, as data the loop passes to each forward: rows 0..B-1 hold the images'
 * conditions, guidance rows B..2B-1 the null class or the negative prompt. The class / text distinction ends
 * here, so the loop has no branch on it.
 */
export interface RowConditions {
  /** The fields of a forward on the first `rows` rows (B, or 2B with the guidance rows). */
  fields(rows: number): ConditionFields;
  /** The encoded prompts, which the run releases when it ends; null for class bundles. */
  readonly handle: TextHandle | null;
}

/**
 * Builds the rows' conditions once per run. Class bundles: the class of each image, and the null class in the
 * guidance rows. Text bundles: every distinct prompt encoded in one `encodeText` call, kept for the whole run.
 */
export async function encodeConditions(backend: Backend, o: ResolvedOptions, calls: BackendCalls): Promise<RowConditions> {
  const rows = o.guided ? 2 * o.batch : o.batch;
  const text = o.text;
  if (text === null) return classRows(o.classes, backend.manifest, rows, o.guided);
  const handle = await calls.call('encode', () => backend.encodeText!(text.ids, text.prompts.length));
  const M = text.microCount;
  const byRows = new Map<number, ConditionFields>();
  return {
    handle,
    fields: (n) => cached(byRows, n, () => ({ text: { handle, index: text.index.subarray(0, n), microConds: text.microConds.subarray(0, n * M) } })),
  };
}

/** Class rows: the images' classes, then (guided runs) the null class in every guidance row. */
export function classRows(classes: Int32Array, manifest: Manifest, rows: number, guided: boolean): RowConditions {
  const rowClasses = new Int32Array(rows);
  rowClasses.set(classes);
  if (guided && manifest.condition.type === 'class') rowClasses.fill(manifest.condition.nullClassId, classes.length);
  const byRows = new Map<number, ConditionFields>();
  return { handle: null, fields: (n) => cached(byRows, n, () => ({ classes: rowClasses.subarray(0, n) })) };
}

/** A run asks for at most two row counts (B and 2B): each view is made once. */
function cached(map: Map<number, ConditionFields>, rows: number, make: () => ConditionFields): ConditionFields {
  let fields = map.get(rows);
  if (fields === undefined) map.set(rows, (fields = make()));
  return fields;
}
