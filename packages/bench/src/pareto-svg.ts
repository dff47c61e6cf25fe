/** One point of the Pareto plot. */
export interface PlotPoint {
  readonly series: string;
  readonly label: string;
  readonly x: number;
  readonly y: number;
}

const COLORS: Record<string, string> = { vanilla: '#444444', shortcut: '#d62728', reuse: '#1f77b4', taylor: '#2ca02c', pytorch: '#9467bd' };

/** FD vs latency scatter with one polyline per series (sorted by x), log-scaled x axis. Plain SVG. */
export function paretoSvg(points: readonly PlotPoint[], title: string, xLabel: string, yLabel: string): string {
  const W = 760;
  const H = 460;
  const m = { l: 70, r: 150, t: 40, b: 55 };
  const xs = points.map((p) => Math.log10(p.x));
  const ys = points.map((p) => p.y);
  const [x0, x1] = pad(Math.min(...xs), Math.max(...xs), 0.05);
  const [y0, y1] = pad(Math.min(0, ...ys), Math.max(...ys), 0.08);
  const px = (v: number) => m.l + ((Math.log10(v) - x0) / (x1 - x0)) * (W - m.l - m.r);
  const py = (v: number) => H - m.b - ((v - y0) / (y1 - y0)) * (H - m.t - m.b);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${m.l}" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<line x1="${m.l}" y1="${H - m.b}" x2="${W - m.r}" y2="${H - m.b}" stroke="black"/>`,
    `<line x1="${m.l}" y1="${m.t}" x2="${m.l}" y2="${H - m.b}" stroke="black"/>`,
  ];
  for (const t of logTicks(x0, x1)) {
    out.push(
      `<line x1="${px(t)}" y1="${H - m.b}" x2="${px(t)}" y2="${H - m.b + 5}" stroke="black"/><text x="${px(t)}" y="${H - m.b + 18}" text-anchor="middle">${fmt(t)}</text>`,
    );
    out.push(`<line x1="${px(t)}" y1="${m.t}" x2="${px(t)}" y2="${H - m.b}" stroke="#eeeeee"/>`);
  }
  for (const t of linTicks(y0, y1)) {
    out.push(
      `<line x1="${m.l - 5}" y1="${py(t)}" x2="${m.l}" y2="${py(t)}" stroke="black"/><text x="${m.l - 8}" y="${py(t) + 4}" text-anchor="end">${fmt(t)}</text>`,
    );
    out.push(`<line x1="${m.l}" y1="${py(t)}" x2="${W - m.r}" y2="${py(t)}" stroke="#eeeeee"/>`);
  }
  out.push(`<text x="${(m.l + W - m.r) / 2}" y="${H - 15}" text-anchor="middle">${esc(xLabel)}</text>`);
  out.push(`<text transform="translate(18 ${(m.t + H - m.b) / 2}) rotate(-90)" text-anchor="middle">${esc(yLabel)}</text>`);
  const series = [...new Set(points.map((p) => p.series))];
  series.forEach((s, i) => {
    const color = COLORS[s] ?? '#ff7f0e';
    const pts = points.filter((p) => p.series === s).sort((a, b) => a.x - b.x);
    if (pts.length > 1)
      out.push(
        `<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${pts.map((p) => `${px(p.x).toFixed(1)},${py(p.y).toFixed(1)}`).join(' ')}"/>`,
      );
    for (const p of pts) {
      out.push(`<circle cx="${px(p.x).toFixed(1)}" cy="${py(p.y).toFixed(1)}" r="4" fill="${color}"/>`);
      out.push(`<text x="${(px(p.x) + 6).toFixed(1)}" y="${(py(p.y) - 6).toFixed(1)}" font-size="10" fill="${color}">${esc(p.label)}</text>`);
    }
    out.push(
      `<circle cx="${W - m.r + 20}" cy="${m.t + 10 + i * 20}" r="5" fill="${color}"/><text x="${W - m.r + 32}" y="${m.t + 14 + i * 20}">${esc(s)}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n');
}

function pad(lo: number, hi: number, f: number): [number, number] {
  const span = hi - lo || Math.abs(hi) || 1;
  return [lo - span * f, hi + span * f];
}

function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) {
    for (const k of [1, 2, 5]) {
      const v = k * 10 ** e;
      if (Math.log10(v) >= lo && Math.log10(v) <= hi) ticks.push(v);
    }
  }
  return ticks;
}

function linTicks(lo: number, hi: number): number[] {
  const step = 10 ** Math.floor(Math.log10((hi - lo) / 5 || 1));
  const nice = [1, 2, 5, 10].map((k) => k * step).find((s) => (hi - lo) / s <= 8) ?? step * 10;
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / nice) * nice; v <= hi; v += nice) ticks.push(Number(v.toPrecision(6)));
  return ticks;
}

function fmt(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : Number(v.toPrecision(3)).toString();
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
