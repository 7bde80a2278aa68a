import { svg } from './dom.js';

export interface Series {
  name: string;
  /** CSS class of the line (its colour is in style.css). */
  className: string;
  points: { t: number; v: number }[];
}

/** A small line chart of percentages (0–100) over time, as inline SVG. */
export function percentChart(series: Series[], opts: { width?: number; height?: number } = {}): SVGElement {
  const width = opts.width ?? 640;
  const height = opts.height ?? 160;
  const pad = { left: 36, right: 8, top: 8, bottom: 20 };
  const all = series.flatMap((s) => s.points.map((p) => p.t));
  const t0 = Math.min(...all);
  const t1 = Math.max(...all);
  const span = t1 - t0 || 1;
  const x = (t: number): number => pad.left + ((t - t0) / span) * (width - pad.left - pad.right);
  const y = (v: number): number => pad.top + (1 - Math.max(0, Math.min(100, v)) / 100) * (height - pad.top - pad.bottom);
  const root = svg('svg', { viewBox: `0 0 ${width} ${height}`, class: 'chart', role: 'img', 'aria-label': series.map((s) => s.name).join(', ') });
  for (const v of [0, 50, 100]) {
    root.appendChild(svg('line', { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v), class: 'grid' }));
    root.appendChild(svg('text', { x: 4, y: y(v) + 4, class: 'axis' }, `${v}%`));
  }
  if (all.length > 0) {
    root.appendChild(svg('text', { x: pad.left, y: height - 4, class: 'axis' }, new Date(t0).toLocaleTimeString()));
    root.appendChild(svg('text', { x: width - pad.right, y: height - 4, class: 'axis', 'text-anchor': 'end' }, new Date(t1).toLocaleTimeString()));
  }
  for (const s of series) {
    if (s.points.length === 0) continue;
    const pts = s.points.map((p) => `${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
    root.appendChild(svg('polyline', { points: pts, class: `line ${s.className}` }));
    for (const p of s.points) root.appendChild(svg('circle', { cx: x(p.t).toFixed(1), cy: y(p.v).toFixed(1), r: 2.5, class: `dot ${s.className}` }));
  }
  return root;
}
