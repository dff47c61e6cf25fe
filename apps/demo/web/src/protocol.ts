// Messages between the page and the generation worker.
import type { Manifest, Predictor, StepKind } from '@migm/core';
import type { WebDevice, WebDeviceChoice } from '@migm/backend-web';

/** The backend's device selection, as plain data (errors do not cross postMessage intact). */
export interface SelectionInfo {
  readonly requested: WebDeviceChoice;
  readonly device: WebDevice;
  readonly fallbacks: readonly { readonly device: string; readonly message: string }[];
  readonly numThreads: number;
  readonly deviceFeatures: boolean;
  readonly adapter?: string;
}

export interface LoadRequest {
  readonly type: 'load';
  readonly bundleUrl: string;
  readonly wasmPaths: string;
  readonly device: WebDeviceChoice;
  /** Where verified files are kept: the backend's default (OPFS where writable), or Cache Storage in parts. */
  readonly cache: 'default' | 'cache-storage';
}

export interface RunSettings {
  /** Class-conditioned bundles: the class of every image. */
  readonly classId: number;
  /** Text-conditioned bundles: the prompt of every image, and the negative prompt (null: the bundle's default). */
  readonly prompt: string | null;
  readonly negativePrompt: string | null;
  readonly steps: number;
  readonly budget: number;
  readonly predictor: Predictor;
  readonly seed: number;
  readonly batch: number;
  /** Also run vanilla (all steps full) on the same seed, first. */
  readonly compare: boolean;
  /** Decode the token grid after every step for the live preview. */
  readonly preview: boolean;
  /** Pause after each step (ms) so people can watch the tokens appear; not counted in the timings. */
  readonly slowMs: number;
}

export interface GenerateRequest {
  readonly type: 'generate';
  readonly id: number;
  readonly settings: RunSettings;
}

export interface CancelRequest {
  readonly type: 'cancel';
  readonly id: number;
}

export type ToWorker = LoadRequest | GenerateRequest | CancelRequest;

export interface Pixels {
  readonly data: Float32Array;
  readonly batch: number;
  readonly channels: number;
  readonly height: number;
  readonly width: number;
}

export interface RunResult {
  readonly label: string;
  readonly predictor: Predictor;
  readonly steps: number;
  readonly fullSteps: number;
  readonly images: Pixels;
  readonly tokens: Int32Array;
  /** Generation wall time, ms, without the live preview's decoding. */
  readonly ms: number;
  /** Time spent decoding previews, ms (not part of `ms`). */
  readonly previewMs: number;
  readonly calls: { forward: number; head: number; velocity: number; combine: number };
  /** Text bundles: the prompt was longer than the tokenizer takes and was cut (as CLIP does). */
  readonly truncated: boolean;
}

export type FromWorker =
  | {
      readonly type: 'download';
      readonly event: 'file-start' | 'file-progress' | 'file-done';
      readonly file: string;
      readonly loaded: number;
      readonly totalLoaded: number;
      readonly totalBytes: number;
      readonly cached: boolean;
    }
  /** The browser cache could not store or read a file: the file came from the network and the load went on. */
  | { readonly type: 'cache-error'; readonly file: string; readonly operation: 'read' | 'write'; readonly message: string }
  /** An onnxruntime session being created (done false) or ready (done true). */
  | { readonly type: 'session'; readonly role: string; readonly index: number; readonly count: number; readonly done: boolean }
  | { readonly type: 'loaded'; readonly manifest: Manifest; readonly selection: SelectionInfo; readonly loadMs: number }
  | { readonly type: 'fallback'; readonly device: string; readonly message: string }
  | { readonly type: 'device-lost'; readonly message: string }
  | {
      readonly type: 'step';
      readonly id: number;
      readonly run: string;
      readonly step: number;
      readonly steps: number;
      readonly kind: StepKind;
      readonly masked: number;
      readonly elapsedMs: number;
      /** Decoded current grid (masked positions decoded as token 0) and which positions are still masked. */
      readonly preview?: { readonly images: Pixels; readonly masked: Uint8Array };
    }
  | { readonly type: 'run-done'; readonly id: number; readonly result: RunResult }
  | { readonly type: 'done'; readonly id: number; readonly results: readonly RunResult[] }
  | { readonly type: 'cancelled'; readonly id: number }
  | {
      readonly type: 'error';
      readonly id?: number;
      readonly stage: 'load' | 'generate';
      readonly kept?: boolean;
      readonly code: string;
      readonly message: string;
    };
