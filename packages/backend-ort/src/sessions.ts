import { MigmError, type GraphRole, type GraphSpec, type Manifest, type TensorSpec } from '@migm/core/backend';
import { checkGraph } from './graph-check.js';
import { checkGraphBytes } from './graph-inspect.js';
import type { InferenceSession, OrtModule, Tensor } from './ort-types.js';

export type Sessions = Partial<Record<GraphRole, InferenceSession>>;

/** The graphs a backend loads: base, head and decoder always; shortcut and classifier when present and wanted. */
export function graphRoles(manifest: Manifest, want: { shortcut?: boolean | undefined; classifier?: boolean | undefined }): GraphRole[] {
  const roles: GraphRole[] = ['base', 'head', 'decoder'];
  if (manifest.graphs.shortcut && want.shortcut !== false) roles.push('shortcut');
  if (manifest.graphs.classifier && want.classifier === true) roles.push('classifier');
  return roles;
}

/**
 * Creates one session per role from the verified bundle bytes and checks each graph against the manifest.
 * Each graph's bytes are inspected first (`checkGraphBytes`: no external data, allowed operator domains only).
 * On any failure the sessions made so far are released and the error (BUNDLE_MISMATCH or BACKEND_FAILURE,
 * naming file and device) is thrown.
 */
export async function createSessions(
  ort: Pick<OrtModule, 'InferenceSession'>,
  bundle: { manifest: Manifest; files: ReadonlyMap<string, Uint8Array> },
  roles: readonly GraphRole[],
  device: string,
  optionsFor: (role: GraphRole) => InferenceSession.SessionOptions | undefined,
): Promise<Sessions> {
  const sessions: Sessions = {};
  try {
    for (const role of roles) {
      const spec = bundle.manifest.graphs[role] as GraphSpec;
      const bytes = bundle.files.get(spec.file);
      if (!bytes) throw new MigmError('BUNDLE_MISMATCH', `Bundle file ${spec.file} (graph ${role}) was not loaded.`, { details: { file: spec.file } });
      // Before onnxruntime sees the bytes: external data would make it read files outside the bundle.
      checkGraphBytes(spec.file, bytes);
      let session: InferenceSession;
      try {
        session = await ort.InferenceSession.create(bytes, optionsFor(role));
      } catch (err) {
        throw new MigmError('BACKEND_FAILURE', `onnxruntime could not load ${spec.file} (graph ${role}) on ${device}: ${errorText(err)}`, {
          cause: err,
          details: { file: spec.file, device },
        });
      }
      sessions[role] = session;
      checkGraph(spec.file, session, spec);
    }
  } catch (err) {
    await releaseSessions(sessions);
    throw err;
  }
  return sessions;
}

export async function releaseSessions(sessions: Sessions): Promise<void> {
  await Promise.allSettled(Object.values(sessions).map((s) => s.release()));
}

/** An integer input tensor in the dtype the manifest declares (int64 graphs get a converted copy). */
export function intTensor(ort: Pick<OrtModule, 'Tensor'>, spec: TensorSpec, data: Int32Array, dims: readonly number[]): Tensor {
  if (spec.dtype === 'int64')
    return new ort.Tensor(
      'int64',
      BigInt64Array.from(data, (v) => BigInt(v)),
      dims,
    );
  return new ort.Tensor('int32', data, dims);
}

export function checkRows(method: string, rows: number): void {
  if (!Number.isInteger(rows) || rows < 1) throw new MigmError('INVALID_OPTION', `${method}: the batch must be an integer >= 1, got ${rows}.`);
}

export function checkLength(method: string, what: string, got: number, want: number): void {
  if (got !== want) throw new MigmError('INVALID_OPTION', `${method}: ${what} has ${got} values, expected ${want}.`);
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
