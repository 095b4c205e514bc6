/**
 * INDEPENDENT textbook indicator implementations (plain loops over number arrays, written from the
 * definitions, not from tulind's code) to check shared/indicators against. Output arrays have the
 * input length with NaN where the indicator is not defined yet.
 *
 * - EMA: alpha = 2 / (period + 1), seeded with the FIRST value (tulind's convention): ema[0] = x[0].
 * - SMA: mean of the last `period` values, defined from index period - 1.
 * - RSI (Wilder): changes d_t = x_t - x_{t-1}; the first average gain/loss is the simple mean of the
 *   first `period` gains/losses (defined at index `period`); then avg = (avg x (period - 1) + v) / period;
 *   RSI = 100 - 100 / (1 + avgGain / avgLoss).
 * - ATR (Wilder): TR_0 = high_0 - low_0, TR_t = max(high - low, |high - close_{t-1}|, |low - close_{t-1}|);
 *   first ATR = mean of TR_0..TR_{period-1} (at index period - 1), then Wilder smoothing.
 * - MACD: EMA(fast) - EMA(slow) (both seeded with x[0]), defined from index slow - 1; signal = EMA of MACD
 *   seeded with the MACD value at index slow - 1; histogram = MACD - signal. Optional alphas override
 *   2 / (p + 1) for the fast/slow EMAs.
 */

function nanArray(n: number): number[] {
  return new Array<number>(n).fill(Number.NaN);
}

export function refEma(x: ArrayLike<number>, period: number): number[] {
  const out = nanArray(x.length);
  const a = 2 / (period + 1);
  let v = Number.NaN;
  for (let t = 0; t < x.length; t++) {
    const xt = x[t] as number;
    v = t === 0 ? xt : a * xt + (1 - a) * v;
    out[t] = v;
  }
  return out;
}

export function refSma(x: ArrayLike<number>, period: number): number[] {
  const out = nanArray(x.length);
  for (let t = period - 1; t < x.length; t++) {
    let s = 0;
    for (let k = t - period + 1; k <= t; k++) s += x[k] as number;
    out[t] = s / period;
  }
  return out;
}

export function refRsi(x: ArrayLike<number>, period: number): number[] {
  const out = nanArray(x.length);
  let avgGain = 0;
  let avgLoss = 0;
  for (let t = 1; t < x.length; t++) {
    const d = (x[t] as number) - (x[t - 1] as number);
    const gain = d > 0 ? d : 0;
    const loss = d < 0 ? -d : 0;
    if (t < period) {
      avgGain += gain;
      avgLoss += loss;
      continue;
    }
    if (t === period) {
      avgGain = (avgGain + gain) / period;
      avgLoss = (avgLoss + loss) / period;
    } else {
      avgGain = (avgGain * (period - 1) + gain) / period;
      avgLoss = (avgLoss * (period - 1) + loss) / period;
    }
    out[t] = avgLoss === 0 ? (avgGain === 0 ? Number.NaN : 100) : 100 - 100 / (1 + avgGain / avgLoss);
  }
  return out;
}

export function refAtr(high: ArrayLike<number>, low: ArrayLike<number>, close: ArrayLike<number>, period: number): number[] {
  const n = high.length;
  const out = nanArray(n);
  let atr = 0;
  for (let t = 0; t < n; t++) {
    const h = high[t] as number;
    const l = low[t] as number;
    const tr = t === 0 ? h - l : Math.max(h - l, Math.abs(h - (close[t - 1] as number)), Math.abs(l - (close[t - 1] as number)));
    if (t < period - 1) {
      atr += tr;
    } else if (t === period - 1) {
      atr = (atr + tr) / period;
      out[t] = atr;
    } else {
      atr = (atr * (period - 1) + tr) / period;
      out[t] = atr;
    }
  }
  return out;
}

export interface RefMacd {
  macd: number[];
  signal: number[];
  histogram: number[];
}

export function refMacd(
  x: ArrayLike<number>,
  fast: number,
  slow: number,
  signalPeriod: number,
  alphas?: { fast: number; slow: number },
): RefMacd {
  const n = x.length;
  const af = alphas?.fast ?? 2 / (fast + 1);
  const as = alphas?.slow ?? 2 / (slow + 1);
  const asig = 2 / (signalPeriod + 1);
  const macd = nanArray(n);
  const signal = nanArray(n);
  const histogram = nanArray(n);
  let ef = Number.NaN;
  let es = Number.NaN;
  let sig = Number.NaN;
  for (let t = 0; t < n; t++) {
    const xt = x[t] as number;
    ef = t === 0 ? xt : af * xt + (1 - af) * ef;
    es = t === 0 ? xt : as * xt + (1 - as) * es;
    if (t < slow - 1) continue;
    const m = ef - es;
    sig = t === slow - 1 ? m : asig * m + (1 - asig) * sig;
    macd[t] = m;
    signal[t] = sig;
    histogram[t] = m - sig;
  }
  return { macd, signal, histogram };
}
