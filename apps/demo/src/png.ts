import { PNG } from 'pngjs';
import type { RgbaImage } from '@migm/core';

/** Encodes an RGBA raster as PNG bytes (pngjs). */
export function encodePng(image: RgbaImage): Buffer {
  const png = new PNG({ width: image.width, height: image.height });
  png.data = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  return PNG.sync.write(png);
}
