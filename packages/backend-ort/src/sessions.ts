import { MigmError, type GraphRole, type GraphSpec, type Manifest, type TensorSpec } from '@migm/core/backend';
import { checkGraph } from './graph-check.js';
import { checkGraphBytes } from './graph-inspect.js';
import type { SessionProgressEvent } from './load-progress.js';
import type { InferenceSession, OrtModule, Tensor } from './ort-types.js';

export type Sessions = Partial<Record<GraphRole, InferenceSession>>;

/** The graphs a backend loads: base, head and decoder always; a text bundle's textEncoder; shortcut and classifier when present and wanted. */
export function graphRoles(manifest: Manifest, want: { shortcut?: boolean | undefined; classifier?: boolean | undefined }): GraphRole[] {
  const roles: GraphRole[] = ['base', 'head', 'decoder'];
  if (manifest.graphs.textEncoder) roles.push('textEncoder');
  if (manifest.graphs.shortcut && want.shortcut !== false) roles.push('shortcut');
  if (manifest.graphs.classifier && want.classifier === true) roles.push('classifier');
  return roles;
}

/**
 * Creates one session per role from the verified bundle bytes and checks each graph against the manifest.
 * Each graph's bytes are inspected first (`checkGraphBytes`: external data only from the files its manifest
 * entry lists in `externalData`, allowed operator domains only). Those files are handed to onnxruntime from
 * the verified bundle bytes (the `externalData` session option), so onnxruntime never opens a file itself.
 * On any failure the sessions made so far are released and the error (BUNDLE_MISMATCH or BACKEND_FAILURE,
 * naming file and device) is thrown. `onProgress` hears each session start and finish.
 */
export async function createSessions(
  ort: Pick<OrtModule, 'InferenceSession'>,
  bundle: { manifest: Manifest; files: ReadonlyMap<string, Uint8Array> },
  roles: readonly GraphRole[],
  device: string,
  optionsFor: (role: GraphRole) => InferenceSession.SessionOptions | undefined,
  onProgress?: (event: SessionProgressEvent) => void,
): Promise<Sessions> {
  const sessions: Sessions = {};
  try {
    // Every graph is checked before the first session exists, so a refused bundle runs nothing at all.
    const external = roles.map((role) => {
      const spec = bundle.manifest.graphs[role] as GraphSpec;
      const bytes = bundle.files.get(spec.file);
      if (!bytes) throw new MigmError('BUNDLE_MISMATCH', `Bundle file ${spec.file} (graph ${role}) was not loaded.`, { details: { file: spec.file } });
      const names = spec.externalData ?? [];
      for (const name of names) {
        if (!bundle.manifest.files.some((f) => f.path === name) || !bundle.files.has(name)) {
          throw new MigmError('BUNDLE_MISMATCH', `Graph ${spec.file} (graph ${role}) lists external data ${name}, which is not a loaded file of the bundle.`, {
            details: { file: spec.file, externalData: name },
          });
        }
      }
      // Before onnxruntime sees the bytes: unlisted external data would make it read files outside the bundle.
      const used = checkGraphBytes(spec.file, bytes, names.length > 0 ? { names, files: bundle.files } : undefined);
      return { spec, bytes, used };
    });
    for (const [index, role] of roles.entries()) {
      const { spec, bytes, used } = external[index]!;
      onProgress?.({ type: 'session-start', role, file: spec.file, index, count: roles.length });
      const t0 = Date.now();
      const base = optionsFor(role);
      const options = used.length > 0 ? { ...base, externalData: used.map((path) => ({ path, data: bundle.files.get(path)! })) } : base;
      let session: InferenceSession;
      try {
        session = await ort.InferenceSession.create(bytes, options);
      } catch (err) {
        throw new MigmError('BACKEND_FAILURE', `onnxruntime could not load ${spec.file} (graph ${role}) on ${device}: ${errorText(err)}`, {
          cause: err,
          details: { file: spec.file, device },
        });
      }
      sessions[role] = session;
      checkGraph(spec.file, session, spec);
      onProgress?.({ type: 'session-done', role, file: spec.file, index, count: roles.length, ms: Date.now() - t0 });
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
