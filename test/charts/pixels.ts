/** Decodes a PNG to raw pixels for checks in tests. */
import sharp from 'sharp';

export interface Raster {
  width: number;
  height: number;
  channels: number;
  data: Buffer;
  /** [r, g, b] at (x, y). */
  at(x: number, y: number): [number, number, number];
  /** '#rrggbb' at (x, y). */
  hex(x: number, y: number): string;
}

export async function decode(png: Buffer): Promise<Raster> {
  const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
  const { width, height, channels } = info;
  const at = (x: number, y: number): [number, number, number] => {
    if (x < 0 || y < 0 || x >= width || y >= height) throw new Error(`pixel (${x}, ${y}) outside ${width}x${height}`);
    const i = (Math.round(y) * width + Math.round(x)) * channels;
    return [data[i]!, data[i + 1]!, data[i + 2]!];
  };
  const hex = (x: number, y: number) => `#${at(x, y).map((v) => v.toString(16).padStart(2, '0')).join('')}`;
  return { width, height, channels, data, at, hex };
}

export function rgb(hex: string): [number, number, number] {
  const v = Number.parseInt(hex.slice(1), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

/** Largest per-channel difference between two colours. */
export function colourDistance(a: readonly number[], b: readonly number[]): number {
  return Math.max(Math.abs(a[0]! - b[0]!), Math.abs(a[1]! - b[1]!), Math.abs(a[2]! - b[2]!));
}
