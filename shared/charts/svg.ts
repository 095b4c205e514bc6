/**
 * Tiny SVG string builders. Coordinates are printed with at most 2 decimals so the same input always
 * gives the same document text.
 */
import { FONT_FAMILY } from './theme.js';

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => XML_ESCAPES[c]!);
}

/** Number for an SVG attribute: at most 2 decimals, no trailing zeros, no "-0". */
export function n(v: number): string {
  const r = Math.round(v * 100) / 100;
  return Object.is(r, -0) ? '0' : String(r);
}

interface RectOpts {
  fill: string;
  opacity?: number;
  rx?: number;
}

export function rect(x: number, y: number, w: number, h: number, o: RectOpts): string {
  const op = o.opacity !== undefined ? ` fill-opacity="${n(o.opacity)}"` : '';
  const rx = o.rx ? ` rx="${n(o.rx)}"` : '';
  return `<rect x="${n(x)}" y="${n(y)}" width="${n(Math.max(0, w))}" height="${n(Math.max(0, h))}" fill="${o.fill}"${op}${rx}/>`;
}

interface LineOpts {
  stroke: string;
  width: number;
  dash?: readonly number[];
  opacity?: number;
  cap?: 'butt' | 'round';
}

export function line(x1: number, y1: number, x2: number, y2: number, o: LineOpts): string {
  const dash = o.dash ? ` stroke-dasharray="${o.dash.map(n).join(' ')}"` : '';
  const op = o.opacity !== undefined ? ` stroke-opacity="${n(o.opacity)}"` : '';
  const cap = o.cap ? ` stroke-linecap="${o.cap}"` : '';
  return `<line x1="${n(x1)}" y1="${n(y1)}" x2="${n(x2)}" y2="${n(y2)}" stroke="${o.stroke}" stroke-width="${n(o.width)}"${dash}${op}${cap}/>`;
}

export function polyline(points: readonly (readonly [number, number])[], o: LineOpts): string {
  const pts = points.map(([x, y]) => `${n(x)},${n(y)}`).join(' ');
  const op = o.opacity !== undefined ? ` stroke-opacity="${n(o.opacity)}"` : '';
  return `<polyline points="${pts}" fill="none" stroke="${o.stroke}" stroke-width="${n(o.width)}" stroke-linejoin="round"${op}/>`;
}

export function polygon(points: readonly (readonly [number, number])[], fill: string, opacity?: number): string {
  const pts = points.map(([x, y]) => `${n(x)},${n(y)}`).join(' ');
  const op = opacity !== undefined ? ` fill-opacity="${n(opacity)}"` : '';
  return `<polygon points="${pts}" fill="${fill}"${op}/>`;
}

interface TextOpts {
  size: number;
  fill: string;
  anchor?: 'start' | 'middle' | 'end';
  bold?: boolean;
}

/** Text whose BASELINE is at y (librsvg's dominant-baseline support is partial: place baselines directly). */
export function text(x: number, y: number, content: string, o: TextOpts): string {
  const anchor = o.anchor && o.anchor !== 'start' ? ` text-anchor="${o.anchor}"` : '';
  const weight = o.bold ? ' font-weight="bold"' : '';
  return `<text x="${n(x)}" y="${n(y)}" font-family="${FONT_FAMILY}" font-size="${n(o.size)}" fill="${o.fill}"${anchor}${weight}>${escapeXml(content)}</text>`;
}

/** Baseline offset that vertically centres a line of DejaVu Sans text of `size` px on a given y. */
export function centredBaseline(y: number, size: number): number {
  // DejaVu Sans cap height is 0.729 em: centring the caps/digits looks centred for price labels.
  return y + size * 0.729 / 2;
}

export function svgDocument(width: number, height: number, body: readonly string[], defs: readonly string[] = []): string {
  const d = defs.length > 0 ? `<defs>${defs.join('')}</defs>` : '';
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${d}${body.join('')}</svg>`;
}
