/**
 * BTC market regime (SPEC 6), computed on columnar arrays.
 *
 * Changes are close-to-close over a time window: change(W) at index i = close[i] / close[j] - 1 where
 * j is the last index with time[j] <= time[i] - W (times are candle open times of one interval, so on
 * a 1m series the 1h change compares with the candle 60 back). NaN when the series is too short.
 *
 * Classification, first match wins (drops are -change):
 *   PANIC    drop1h >  panic.drop1hPct (5)  or drop4h > panic.drop4hPct (10)       (strictly more)
 *   CAUTION  drop1h >= caution.drop1hPct (3), or drop24h >= bleed24hPct (3), or drop48h >= bleed48hPct (5)
 *   EUPHORIA rise1h >  euphoria.rise1hPct (5)
 *   NORMAL   otherwise
 */
import type { ProtectionsConfig, Regime } from '../config/strategy.js';
import { REGIMES } from '../config/strategy.js';
import { protectionEvent, type ProtectionEvent, type ProtectionState, type RegimeInputs } from './model.js';

const HOUR_MS = 60 * 60_000;
export const REGIME_WINDOWS_MS = { change1hPct: HOUR_MS, change4hPct: 4 * HOUR_MS, change24hPct: 24 * HOUR_MS, change48hPct: 48 * HOUR_MS } as const;
const PCT = 100;

export type RegimeConfig = ProtectionsConfig['regime'];

export function classifyRegime(x: RegimeInputs, cfg: RegimeConfig): Regime {
  const d1 = -x.change1hPct;
  if (d1 > cfg.panic.drop1hPct || -x.change4hPct > cfg.panic.drop4hPct) return 'PANIC';
  if (d1 >= cfg.caution.drop1hPct || -x.change24hPct >= cfg.caution.bleed24hPct || -x.change48hPct >= cfg.caution.bleed48hPct) return 'CAUTION';
  if (x.change1hPct > cfg.euphoria.rise1hPct) return 'EUPHORIA';
  return 'NORMAL';
}

/** Size multiplier of a regime (PANIC 0 = halt). */
export function regimeSizeMultiplier(r: Regime, cfg: RegimeConfig): number {
  switch (r) {
    case 'PANIC':
      return cfg.panic.sizeMultiplier;
    case 'CAUTION':
      return cfg.caution.sizeMultiplier;
    case 'EUPHORIA':
      return cfg.euphoria.sizeMultiplier;
    default:
      return 1;
  }
}

/** Last index j <= i with time[j] <= t (binary search), or -1. */
function lastAtOrBefore(time: ArrayLike<number>, i: number, t: number): number {
  let lo = 0;
  let hi = i;
  if (i < 0 || (time[0] as number) > t) return -1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((time[mid] as number) <= t) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Close-to-close change over `windowMs` ending at index i, %; NaN without enough history. */
export function changePctAt(time: ArrayLike<number>, close: ArrayLike<number>, i: number, windowMs: number): number {
  const j = lastAtOrBefore(time, i, (time[i] as number) - windowMs);
  if (j < 0) return Number.NaN;
  return ((close[i] as number) / (close[j] as number) - 1) * PCT;
}

export function regimeInputsAt(time: ArrayLike<number>, close: ArrayLike<number>, i: number): RegimeInputs {
  return {
    change1hPct: changePctAt(time, close, i, REGIME_WINDOWS_MS.change1hPct),
    change4hPct: changePctAt(time, close, i, REGIME_WINDOWS_MS.change4hPct),
    change24hPct: changePctAt(time, close, i, REGIME_WINDOWS_MS.change24hPct),
    change48hPct: changePctAt(time, close, i, REGIME_WINDOWS_MS.change48hPct),
  };
}

export function regimeAt(time: ArrayLike<number>, close: ArrayLike<number>, i: number, cfg: RegimeConfig): Regime {
  return classifyRegime(regimeInputsAt(time, close, i), cfg);
}

/**
 * The regime at every index (codes = index into REGIMES), O(n) with one moving pointer per window:
 * the backtester computes it once per series. Equal to `regimeAt` at every index.
 */
export function regimeSeries(time: ArrayLike<number>, close: ArrayLike<number>, cfg: RegimeConfig): Uint8Array {
  const n = time.length;
  const out = new Uint8Array(n);
  const windows = [REGIME_WINDOWS_MS.change1hPct, REGIME_WINDOWS_MS.change4hPct, REGIME_WINDOWS_MS.change24hPct, REGIME_WINDOWS_MS.change48hPct];
  const ptr = [-1, -1, -1, -1];
  const ch = [0, 0, 0, 0];
  const x: RegimeInputs = { change1hPct: 0, change4hPct: 0, change24hPct: 0, change48hPct: 0 };
  for (let i = 0; i < n; i++) {
    const t = time[i] as number;
    for (let w = 0; w < 4; w++) {
      const limit = t - (windows[w] as number);
      let j = ptr[w] as number;
      while (j + 1 <= i && (time[j + 1] as number) <= limit) j++;
      ptr[w] = j;
      ch[w] = j < 0 ? Number.NaN : ((close[i] as number) / (close[j] as number) - 1) * PCT;
    }
    x.change1hPct = ch[0] as number;
    x.change4hPct = ch[1] as number;
    x.change24hPct = ch[2] as number;
    x.change48hPct = ch[3] as number;
    out[i] = REGIMES.indexOf(classifyRegime(x, cfg));
  }
  return out;
}

export function regimeFromCode(code: number): Regime {
  const r = REGIMES[code];
  if (r === undefined) throw new Error(`bad regime code ${code}`);
  return r;
}

/** Records the current regime; one `regime_changed` event per change. */
export function updateRegime(s: ProtectionState, regime: Regime, now: number, out: ProtectionEvent[], inputs?: RegimeInputs): ProtectionState {
  if (s.regime.current === regime) return s;
  const from = s.regime.current;
  const severity = regime === 'PANIC' ? 'critical' : regime === 'NORMAL' ? 'info' : 'warning';
  const details: ProtectionEvent['details'] = { from, to: regime };
  if (inputs) {
    for (const [k, v] of Object.entries(inputs)) details[k] = Number.isFinite(v) ? Math.round(v * 1e4) / 1e4 : null;
  }
  out.push(protectionEvent('regime_changed', 'market', now, severity, `Market regime ${from} -> ${regime}`, details));
  return { ...s, regime: { current: regime, since: now } };
}
