/**
 * 24h volatility and strategy disable with hysteresis (SPEC 6).
 *
 * Volatility = the price range over the window: (max high - min low) / min low x 100, over the candles
 * whose open time lies in (time[i] - windowMs, time[i]] (whatever part of the window the series covers).
 * Hysteresis per (setup, symbol): disabled when volatility >= disableAbovePct ("off at 8 %"), enabled
 * again when volatility <= enableBelowPct ("back on at 6 %"); in between the previous state holds.
 */
import type { ProtectionsConfig, SwingSetup } from '../config/strategy.js';
import { protectionEvent, type ProtectionEvent, type ProtectionState } from './model.js';

const PCT = 100;

export function volatilityPctAt(time: ArrayLike<number>, high: ArrayLike<number>, low: ArrayLike<number>, i: number, windowMs: number): number {
  const from = (time[i] as number) - windowMs;
  let hi = -Infinity;
  let lo = Infinity;
  for (let j = i; j >= 0 && (time[j] as number) > from; j--) {
    if ((high[j] as number) > hi) hi = high[j] as number;
    if ((low[j] as number) < lo) lo = low[j] as number;
  }
  return ((hi - lo) / lo) * PCT;
}

/** Volatility at every index in O(n) (monotonic deques); equal to `volatilityPctAt` at every index. */
export function volatilitySeries(time: ArrayLike<number>, high: ArrayLike<number>, low: ArrayLike<number>, windowMs: number): Float64Array {
  const n = time.length;
  const out = new Float64Array(n);
  const maxQ = new Int32Array(n);
  const minQ = new Int32Array(n);
  let mh = 0;
  let mt = 0;
  let nh = 0;
  let nt = 0;
  let start = 0;
  for (let i = 0; i < n; i++) {
    while (mt > mh && (high[maxQ[mt - 1] as number] as number) <= (high[i] as number)) mt--;
    maxQ[mt++] = i;
    while (nt > nh && (low[minQ[nt - 1] as number] as number) >= (low[i] as number)) nt--;
    minQ[nt++] = i;
    const from = (time[i] as number) - windowMs;
    while ((time[start] as number) <= from) start++;
    while ((maxQ[mh] as number) < start) mh++;
    while ((minQ[nh] as number) < start) nh++;
    const hi = high[maxQ[mh] as number] as number;
    const lo = low[minQ[nh] as number] as number;
    out[i] = ((hi - lo) / lo) * PCT;
  }
  return out;
}

export function isSetupDisabled(s: ProtectionState, setup: SwingSetup, symbol: string): boolean {
  const m = s.volDisabled[setup];
  return m !== undefined && m[symbol] !== undefined;
}

/** Applies one volatility reading of `symbol` to every configured setup; one event per change. */
export function updateVolatility(
  s: ProtectionState,
  symbol: string,
  volPct: number,
  cfg: ProtectionsConfig['volatilityDisable'],
  now: number,
  out: ProtectionEvent[],
): ProtectionState {
  if (!Number.isFinite(volPct)) return s;
  let r = s;
  for (const setup of Object.keys(cfg) as SwingSetup[]) {
    const rule = cfg[setup];
    if (!rule) continue;
    const disabled = isSetupDisabled(r, setup, symbol);
    if (!disabled && volPct >= rule.disableAbovePct) {
      r = { ...r, volDisabled: { ...r.volDisabled, [setup]: { ...r.volDisabled[setup], [symbol]: now } } };
      out.push(
        protectionEvent('strategy_disabled', `${setup}:${symbol}`, now, 'warning', `${setup} disabled on ${symbol}: 24h volatility ${volPct.toFixed(2)} % >= ${rule.disableAbovePct} %`, {
          setup,
          symbol,
          volatilityPct: volPct,
        }),
      );
    } else if (disabled && volPct <= rule.enableBelowPct) {
      const m = { ...r.volDisabled[setup] };
      delete m[symbol];
      r = { ...r, volDisabled: { ...r.volDisabled, [setup]: m } };
      out.push(
        protectionEvent('strategy_enabled', `${setup}:${symbol}`, now, 'info', `${setup} re-enabled on ${symbol}: 24h volatility ${volPct.toFixed(2)} % <= ${rule.enableBelowPct} %`, {
          setup,
          symbol,
          volatilityPct: volPct,
        }),
      );
    }
  }
  return r;
}
