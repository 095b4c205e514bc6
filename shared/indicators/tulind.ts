/**
 * Typed wrapper over `tulind` (Tulip Indicators; it ships no types). tulind's outputs are END-aligned
 * and shortened by `start(options)`; this wrapper returns arrays of the INPUT length with NaN in the
 * warm-up, so index i always means candle i. tulind calls its callback synchronously.
 */
import { createRequire } from 'node:module';

type Series = ArrayLike<number>;
type TulindCallback = (err: unknown, res: number[][]) => void;
interface TulindIndicator {
  start(options: number[]): number;
  indicator(inputs: Series[], options: number[], cb: TulindCallback): void;
}

const require = createRequire(import.meta.url);
/**
 * tulind (a native add-on) loads on the first indicator call, not when a module that could compute one
 * is imported: a function that never computes an indicator never loads it. The indicator API is
 * synchronous, so this is a lazy `require`, not a dynamic `import()`.
 */
let tulind: { indicators: Record<string, TulindIndicator> } | undefined;

function indicator(name: string): TulindIndicator {
  tulind ??= require('tulind') as { indicators: Record<string, TulindIndicator> };
  const ind = tulind.indicators[name];
  if (!ind) throw new Error(`tulind has no indicator '${name}'`);
  return ind;
}

function assertPeriod(name: string, period: number): void {
  if (!Number.isInteger(period) || period < 1) throw new Error(`${name}: period must be a positive integer, got ${period}`);
}

/** Runs a tulind indicator and front-pads each output with NaN to the input length. */
function run(name: string, inputs: Series[], options: number[]): Float64Array[] {
  const ind = indicator(name);
  const n = inputs[0]?.length ?? 0;
  const start = ind.start(options);
  let outputs: number[][] = [];
  if (n > start) {
    let error: unknown;
    ind.indicator(
      inputs.map((s) => (Array.isArray(s) ? s : Array.from(s))),
      options,
      (err, res) => {
        error = err;
        outputs = res;
      },
    );
    if (error) throw new Error(`tulind ${name}(${options.join(',')}) failed: ${String(error)}`);
  }
  const count = outputs.length || 1;
  const aligned: Float64Array[] = [];
  for (let k = 0; k < Math.max(count, 1); k++) {
    const out = new Float64Array(n).fill(Number.NaN);
    const src = outputs[k] ?? [];
    out.set(src, n - src.length);
    aligned.push(out);
  }
  return aligned;
}

function first(name: string, inputs: Series[], options: number[]): Float64Array {
  return run(name, inputs, options)[0] as Float64Array;
}

/** Exponential moving average; tulind seeds with the first value (no SMA seed). */
export function ema(close: Series, period: number): Float64Array {
  assertPeriod('ema', period);
  return first('ema', [close], [period]);
}

export function sma(close: Series, period: number): Float64Array {
  assertPeriod('sma', period);
  return first('sma', [close], [period]);
}

/** Wilder's RSI, 0-100. */
export function rsi(close: Series, period: number): Float64Array {
  assertPeriod('rsi', period);
  return first('rsi', [close], [period]);
}

/** Average true range (Wilder smoothing). */
export function atr(high: Series, low: Series, close: Series, period: number): Float64Array {
  assertPeriod('atr', period);
  return first('atr', [high, low, close], [period]);
}

interface MacdResult {
  macd: Float64Array;
  signal: Float64Array;
  histogram: Float64Array;
}

/**
 * Textbook MACD: EMA(fast) - EMA(slow) with alphas 2/(n+1), the signal an EMA of the MACD line
 * seeded at index slow-1, all three outputs from index slow-1 (tulind's start). Composed from
 * `ema` because tulind's own `macd` special-cases (12, 26) to alphas 0.15 / 0.075.
 */
export function macd(close: Series, fast: number, slow: number, signal: number): MacdResult {
  [fast, slow, signal].forEach((p) => assertPeriod('macd', p));
  if (fast >= slow) throw new Error(`macd: fast period (${fast}) must be below slow (${slow})`);
  const n = close.length;
  const fastEma = ema(close, fast);
  const slowEma = ema(close, slow);
  const line = new Float64Array(n).fill(Number.NaN);
  const start = slow - 1;
  for (let i = start; i < n; i++) line[i] = (fastEma[i] as number) - (slowEma[i] as number);
  const sig = new Float64Array(n).fill(Number.NaN);
  const hist = new Float64Array(n).fill(Number.NaN);
  if (n > start) sig.set(ema(line.subarray(start), signal), start);
  for (let i = start; i < n; i++) hist[i] = (line[i] as number) - (sig[i] as number);
  return { macd: line, signal: sig, histogram: hist };
}

/** Last finite value of a series, or NaN. */
export function last(series: ArrayLike<number>): number {
  for (let i = series.length - 1; i >= 0; i--) {
    const v = series[i] as number;
    if (Number.isFinite(v)) return v;
  }
  return Number.NaN;
}
