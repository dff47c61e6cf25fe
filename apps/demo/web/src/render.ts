// Draws decoded image batches on a canvas, nearest-neighbour upscaled, with masked tokens hatched.
import type { Pixels } from './protocol.js';

export interface DrawOptions {
  readonly range: readonly [number, number];
  /** Token grid [rows, cols] of one image. */
  readonly grid: readonly [number, number];
  /** [batch, L]: 1 where the token is still masked. */
  readonly masked?: Uint8Array;
}

const GAP = 6;

/** Layout of a batch: columns and upscale factor, so a few images are large and many still fit. */
export function layout(images: Pixels): { columns: number; scale: number } {
  const columns = images.batch <= 1 ? 1 : images.batch <= 4 ? 2 : 4;
  const target = images.batch <= 4 ? 168 : 112;
  return { columns, scale: Math.max(1, Math.round(target / images.width)) };
}

export function drawImages(canvas: HTMLCanvasElement, images: Pixels, options: DrawOptions): void {
  const { batch, channels, height: H, width: W, data } = images;
  const { columns, scale } = layout(images);
  const rows = Math.ceil(batch / columns);
  const cw = W * scale;
  const ch = H * scale;
  canvas.width = columns * cw + (columns - 1) * GAP;
  canvas.height = rows * ch + (rows - 1) * GAP;
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const out = ctx.createImageData(canvas.width, canvas.height);
  const px = out.data;
  for (let i = 3; i < px.length; i += 4) px[i] = 255; // opaque black gaps match the canvas background
  const [lo, hi] = options.range;
  const k = 255 / (hi - lo);
  const plane = H * W;
  for (let b = 0; b < batch; b++) {
    const ox = (b % columns) * (cw + GAP);
    const oy = Math.floor(b / columns) * (ch + GAP);
    const base = b * channels * plane;
    for (let y = 0; y < ch; y++) {
      const sy = Math.floor(y / scale);
      let at = ((oy + y) * canvas.width + ox) * 4;
      for (let x = 0; x < cw; x++, at += 4) {
        const s = base + sy * W + Math.floor(x / scale);
        const r = (data[s]! - lo) * k;
        px[at] = r;
        px[at + 1] = channels === 3 ? (data[s + plane]! - lo) * k : r;
        px[at + 2] = channels === 3 ? (data[s + 2 * plane]! - lo) * k : r;
      }
    }
  }
  ctx.putImageData(out, 0, 0);
  if (options.masked) hatch(ctx, images, options.grid, options.masked, columns, scale);
}

function hatch(ctx: CanvasRenderingContext2D, images: Pixels, grid: readonly [number, number], masked: Uint8Array, columns: number, scale: number): void {
  const [gh, gw] = grid;
  const L = gh * gw;
  const tile = document.createElement('canvas');
  tile.width = tile.height = 8;
  const t = tile.getContext('2d')!;
  t.fillStyle = '#c9ced6';
  t.fillRect(0, 0, 8, 8);
  t.strokeStyle = '#7d8696';
  t.lineWidth = 2;
  t.beginPath();
  t.moveTo(-2, 10);
  t.lineTo(10, -2);
  t.stroke();
  const pattern = ctx.createPattern(tile, 'repeat');
  if (!pattern) return;
  ctx.fillStyle = pattern;
  const cw = images.width * scale;
  const ch = images.height * scale;
  for (let b = 0; b < images.batch; b++) {
    const ox = (b % columns) * (cw + GAP);
    const oy = Math.floor(b / columns) * (ch + GAP);
    for (let p = 0; p < L; p++) {
      if (!masked[b * L + p]) continue;
      const r = Math.floor(p / gw);
      const c = p % gw;
      const x0 = Math.round((c * cw) / gw);
      const x1 = Math.round(((c + 1) * cw) / gw);
      const y0 = Math.round((r * ch) / gh);
      const y1 = Math.round(((r + 1) * ch) / gh);
      ctx.fillRect(ox + x0, oy + y0, x1 - x0, y1 - y0);
    }
  }
}
