import type { OrtModule } from '@migm/backend-ort';
import type * as OrtWeb from 'onnxruntime-web';
import type { InferenceSession, Tensor } from 'onnxruntime-web';

/**
 * Adapts onnxruntime-web to the module shape OrtBackend uses. onnxruntime-web 1.30 accepts pre-allocated CPU
 * output tensors but never writes into them (it copies them into the wasm heap, runs, and hands back the
 * untouched originals), so OrtBackend would read zeros. Here CPU fetches are replaced by null (let the runtime
 * allocate) and the results are copied into the caller's tensors: one copy per output, as onnxruntime-node's
 * fallback path does. GPU-buffer fetches pass through unchanged.
 */
export function adaptOrtWeb(ort: typeof OrtWeb): OrtModule {
  return {
    Tensor: ort.Tensor as unknown as OrtModule['Tensor'],
    InferenceSession: {
      async create(buffer: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession> {
        return withCpuFetches(await ort.InferenceSession.create(buffer, options));
      },
    },
  };
}

function withCpuFetches(session: InferenceSession): InferenceSession {
  const run = async (
    feeds: InferenceSession.FeedsType,
    fetches?: InferenceSession.FetchesType | InferenceSession.RunOptions,
    options?: InferenceSession.RunOptions,
  ): Promise<InferenceSession.ReturnType> => {
    if (!fetches || Array.isArray(fetches) || !isFetchMap(fetches, session)) {
      return (session.run as (...args: unknown[]) => Promise<InferenceSession.ReturnType>)(feeds, fetches, options);
    }
    const pass: Record<string, Tensor | null> = {};
    const into: [string, Tensor][] = [];
    for (const [name, t] of Object.entries(fetches as Record<string, Tensor | null>)) {
      if (t && t.location === 'cpu') {
        into.push([name, t]);
        pass[name] = null;
      } else pass[name] = t;
    }
    const results = (await session.run(feeds, pass as InferenceSession.NullableOnnxValueMapType, options)) as Record<string, Tensor>;
    for (const [name, t] of into) {
      const got = results[name];
      if (!got) continue;
      const src = got.data as Float32Array;
      const dst = t.data as Float32Array;
      if (src.length !== dst.length) throw new Error(`output '${name}' has ${src.length} values, the caller's buffer ${dst.length}`);
      dst.set(src);
      got.dispose();
      results[name] = t;
    }
    return results;
  };
  // A proxy keeps every other member (names, metadata, release) of the real session.
  return new Proxy(session, {
    get(target, prop) {
      if (prop === 'run') return run;
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** A fetches map names outputs; run options have none of the session's output names as keys. */
function isFetchMap(value: object, session: InferenceSession): boolean {
  return Object.keys(value).some((k) => session.outputNames.includes(k));
}
