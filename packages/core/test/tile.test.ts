import { describe, expect, it } from 'vitest';
import { tileImages } from '../src/image/tile.js';

describe('tileImages', () => {
  it('lays out a grayscale batch with padding and scale', () => {
    const data = Float32Array.from([0, 1, 1, 0, 0.5, 0.5, 0.5, 0.5, 1, 1, 1, 1]); // 3 images of 2x2
    const img = tileImages({ data, batch: 3, channels: 1, height: 2, width: 2 }, { columns: 2, padding: 1, scale: 2 });
    expect(img.width).toBe(2 * 4 + 3);
    expect(img.height).toBe(2 * 4 + 3);
    const px = (x: number, y: number) => Array.from(img.data.subarray((y * img.width + x) * 4, (y * img.width + x) * 4 + 4));
    expect(px(0, 0)).toEqual([255, 255, 255, 255]); // padding
    expect(px(1, 1)).toEqual([0, 0, 0, 255]); // image 0, pixel (0,0) = 0
    expect(px(3, 1)).toEqual([255, 255, 255, 255]); // image 0, pixel (1,0) = 1
    expect(px(6, 1)).toEqual([128, 128, 128, 255]); // image 1
    expect(px(1, 6)).toEqual([255, 255, 255, 255]); // image 2
  });
  it('rejects bad layout options', () => {
    const batch = { data: new Float32Array(4), batch: 1, channels: 1, height: 2, width: 2 };
    expect(() => tileImages(batch, { columns: 0 })).toThrow(/columns/);
    expect(() => tileImages(batch, { scale: 0 })).toThrow(/scale/);
    expect(() => tileImages(batch, { range: [1, 1] })).toThrow(/range/);
  });
});
