import { PNG } from 'pngjs';
import type { RgbaImage } from '@migm/core';

/** Encodes an RGBA raster as PNG (pngjs). */
export function encodePng(image: RgbaImage): Buffer {
  const png = new PNG({ width: image.width, height: image.height });
  png.data = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  return PNG.sync.write(png);
}

/** Places images side by side (top-aligned) with a white gap between them. */
export function sideBySide(images: readonly RgbaImage[], gap = 8): RgbaImage {
  const width = images.reduce((a, im) => a + im.width, 0) + gap * (images.length - 1);
  const height = Math.max(...images.map((im) => im.height));
  const data = new Uint8ClampedArray(width * height * 4).fill(255);
  let x0 = 0;
  for (const im of images) {
    for (let y = 0; y < im.height; y++) data.set(im.data.subarray(y * im.width * 4, (y + 1) * im.width * 4), (y * width + x0) * 4);
    x0 += im.width + gap;
  }
  return { width, height, data };
}
