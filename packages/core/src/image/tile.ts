import type { ImageBatch } from '../backend/types.js';
import { invalidOption } from '../errors.js';
import { checkOptionKeys } from '../option-keys.js';

/** An 8-bit RGBA raster, ready for a PNG encoder or a canvas ImageData. */
export interface RgbaImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8ClampedArray;
}

export interface TileOptions {
  /** Images per row. Default: ceil(sqrt(batch)). */
  readonly columns?: number;
  /** Pixels between images. Default 2. */
  readonly padding?: number;
  /** Pixel value range of the batch, mapped to 0..255. Default [0, 1]. */
  readonly range?: readonly [number, number];
  /** Nearest-neighbour upscale factor. Default 1. */
  readonly scale?: number;
  /** Padding colour, RGBA. Default white. */
  readonly background?: readonly [number, number, number, number];
}

/**
 * Lays a decoded batch out as one RGBA grid image (grayscale is expanded to RGB).
 *
 * @example
 * const grid = tileImages(await backend.decode(result.tokens, result.batch), { columns: 4, scale: 4 });
 */
const TILE_OPTION_KEYS = ['columns', 'padding', 'range', 'scale', 'background'] as const satisfies readonly (keyof TileOptions)[];

export function tileImages(images: ImageBatch, given: TileOptions = {}): RgbaImage {
  if (images === null || typeof images !== 'object' || !(images.data instanceof Float32Array)) {
    throw invalidOption('images', images, 'an ImageBatch { data: Float32Array, batch, channels, height, width } (from backend.decode) is allowed');
  }
  if (given === null || typeof given !== 'object') throw invalidOption('options', given, 'an object is allowed');
  const options = checkOptionKeys(given, TILE_OPTION_KEYS, 'tileImages()');
  const { batch, channels, height, width, data } = images;
  const columns = options.columns ?? Math.ceil(Math.sqrt(batch));
  const padding = options.padding ?? 2;
  const scale = options.scale ?? 1;
  const [lo, hi] = options.range ?? [0, 1];
  if (!Number.isInteger(columns) || columns < 1) throw invalidOption('columns', columns, 'an integer >= 1 is allowed');
  if (!Number.isInteger(padding) || padding < 0) throw invalidOption('padding', padding, 'an integer >= 0 is allowed');
  if (!Number.isInteger(scale) || scale < 1 || scale > 64) throw invalidOption('scale', scale, 'an integer from 1 to 64 is allowed');
  if (!(hi > lo)) throw invalidOption('range', options.range, 'two numbers [low, high] with high > low are allowed');
  if (channels !== 1 && channels !== 3) throw invalidOption('channels', channels, 'images with 1 or 3 channels are allowed');
  const rows = Math.ceil(batch / columns);
  const cellW = width * scale;
  const cellH = height * scale;
  const outW = columns * cellW + (columns + 1) * padding;
  const outH = rows * cellH + (rows + 1) * padding;
  const out = new Uint8ClampedArray(outW * outH * 4);
  const bg = options.background ?? [255, 255, 255, 255];
  for (let i = 0; i < outW * outH; i++) out.set(bg, i * 4);
  const plane = height * width;
  const k = 255 / (hi - lo);
  for (let b = 0; b < batch; b++) {
    const ox = padding + (b % columns) * (cellW + padding);
    const oy = padding + Math.floor(b / columns) * (cellH + padding);
    const base = b * channels * plane;
    for (let y = 0; y < cellH; y++) {
      const sy = Math.floor(y / scale);
      for (let x = 0; x < cellW; x++) {
        const sx = Math.floor(x / scale);
        const o = ((oy + y) * outW + ox + x) * 4;
        for (let c = 0; c < 3; c++) {
          const v = data[base + (channels === 1 ? 0 : c) * plane + sy * width + sx]!;
          out[o + c] = (v - lo) * k;
        }
        out[o + 3] = 255;
      }
    }
  }
  return { width: outW, height: outH, data: out };
}
