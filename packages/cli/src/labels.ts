// Text labels on the compare PNG, drawn by jimp's print plugin (jimp is a maintained image library) with the
// bitmap font it ships (Open Sans 16 px, black): no system font is needed, and the text looks the same on every
// machine.
import { Jimp, loadFont, measureText, measureTextHeight } from 'jimp';
import { SANS_16_BLACK } from 'jimp/fonts';
import type { RgbaImage } from '@migm/core';

type Font = Awaited<ReturnType<typeof loadFont>>;
let font: Promise<Font> | undefined;

/** `image` with `text` in a white strip above it, as wide as the wider of the two (the image is left-aligned). */
export async function labelAbove(image: RgbaImage, text: string, padding = 6): Promise<RgbaImage> {
  const f = await (font ??= loadFont(SANS_16_BLACK));
  const textWidth = measureText(f, text);
  const strip = measureTextHeight(f, text, textWidth + 1) + 2 * padding;
  const width = Math.max(image.width, textWidth + 2 * padding);
  const canvas = new Jimp({ width, height: strip + image.height, color: 0xffffffff });
  canvas.print({ font: f, x: padding, y: padding, text });
  const data = new Uint8ClampedArray(canvas.bitmap.data.buffer, canvas.bitmap.data.byteOffset, canvas.bitmap.data.byteLength);
  for (let y = 0; y < image.height; y++) data.set(image.data.subarray(y * image.width * 4, (y + 1) * image.width * 4), (strip + y) * width * 4);
  return { width, height: strip + image.height, data };
}
