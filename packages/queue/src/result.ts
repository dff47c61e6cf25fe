import { PNG } from 'pngjs';
import type { RgbaImage } from '@migm/core';

/** What a worker stores for a finished job (Redis, as the job's return value, for the result's time to live). */
export interface StoredResult {
  /** The job's images as one PNG grid, base64. */
  readonly png: string;
  readonly width: number;
  readonly height: number;
  /** Images in this job. */
  readonly images: number;
  readonly seed: number;
  /** Bundle id (sha256 of the canonical manifest), name and version. */
  readonly bundle: { readonly id: string; readonly name: string; readonly version: string | null };
  /** The generate() call the job ran in: its timings (ms) and how many jobs and images it held. */
  readonly call: { readonly totalMs: number; readonly backendMs: number; readonly coreMs: number; readonly jobs: number; readonly images: number };
  /** Milliseconds from queueing to the result. */
  readonly latencyMs: number;
  /** The worker that finished it, and which delivery of the job that was (1 = first). */
  readonly worker: string;
  readonly attempt: number;
  /**
   * Text-conditioned bundles: `truncated` is true when a prompt or negative prompt of this job was longer than
   * the bundle's tokenizer reads (`condition.maxLength` tokens) and was cut as CLIP does. Absent for class bundles.
   */
  readonly text?: { readonly truncated: boolean };
}

/** A finished job as the client returns it: the stored result with the PNG as bytes. */
export interface JobResult extends Omit<StoredResult, 'png'> {
  readonly id: string;
  readonly png: Uint8Array;
}

/** Encodes an RGBA raster as PNG with pngjs (the encoder the CLI uses). */
export function pngBytes(image: RgbaImage): Buffer {
  const png = new PNG({ width: image.width, height: image.height });
  png.data = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  return PNG.sync.write(png);
}

/** Per-step progress a worker publishes for each job of a call. */
export interface JobProgress {
  /** Steps done, 1..steps. */
  readonly step: number;
  readonly steps: number;
  readonly kind: 'full' | 'skipped';
  readonly worker: string;
}
