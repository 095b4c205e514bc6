/**
 * Child process for test/charts/fonts.test.ts: renders in a fresh process (fontconfig initialises once
 * per process, so font set-up can only be tested in a new one) and prints one JSON line.
 *   chart: the LONG alert chart through infra/charts/render.ts -> {sha256, fontconfigFile}
 *   raw:   a bare text SVG through sharp with the environment's fontconfig -> {sha256} of its RGBA pixels
 */
import { createHash } from 'node:crypto';
import sharp from 'sharp';

const mode = process.argv[2];
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

if (mode === 'chart') {
  const { renderTradeChart } = await import('../../infra/charts/render.js');
  const { longScenario } = await import('./fixtures.js');
  const r = await renderTradeChart(longScenario());
  process.stdout.write(`${JSON.stringify({ sha256: sha(r.png), fontconfigFile: process.env.FONTCONFIG_FILE })}\n`);
} else if (mode === 'raw') {
  const svg = process.argv[3] ?? '';
  const pixels = await sharp(Buffer.from(svg)).raw().toBuffer();
  process.stdout.write(`${JSON.stringify({ sha256: sha(pixels) })}\n`);
} else {
  process.stderr.write(`usage: render-child.ts chart|raw [svg]\n`);
  process.exit(2);
}
