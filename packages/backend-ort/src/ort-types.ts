import type { InferenceSession, Tensor } from 'onnxruntime-common';

/**
 * The part of an onnxruntime module (onnxruntime-node or onnxruntime-web; both export this API) that the
 * backend uses. Passing the module in keeps this package free of either runtime.
 */
export interface OrtModule {
  readonly InferenceSession: {
    create(buffer: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession>;
  };
  readonly Tensor: {
    new (type: 'float32', data: Float32Array, dims: readonly number[]): Tensor;
    new (type: 'int32', data: Int32Array, dims: readonly number[]): Tensor;
    new (type: 'int64', data: BigInt64Array, dims: readonly number[]): Tensor;
  };
}

export type { InferenceSession, Tensor };
