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
 *
 * Hold (stepRegime; SPEC 6 "regimes hold for a minimum time"), severity PANIC > CAUTION > EUPHORIA >
 * NORMAL (by how much they cut sizes):
 *   - a classification MORE severe than the regime in force applies at once;
 *   - one equal to it keeps it (and ends any calm spell);
 *   - a CALMER one starts (or continues) a calm spell (`calmSince`); the regime changes to the
 *     classification of that moment only once BOTH the regime has held >= minHoldMs (from its start)
 *     AND the calm spell has lasted >= calmConfirmMs (every classification in it calmer). A not-calmer
 *     classification ends the spell. So a series oscillating around a threshold gives ONE episode that
 *     lasts at least minHoldMs and ends calmConfirmMs after the last severe reading at the earliest.
 * The held regime lives in ProtectionState (persisted with the account, changed in its transactions):
 * restarts keep it. One regime_changed event per change of the HELD regime.
 *
 * Reference freshness (updateReference): the regime is computed from `referenceSymbol` candles. When
 * none was ever applied (`missing`) or the last one closed more than referenceMaxAgeMs ago (`stale`),
 * the trading core refuses new entries (fail closed) and ONE `regime_reference_lost` event says why
 * (for `missing` only once it lasted referenceMaxAgeMs, so a fresh start whose first reference candle
 * comes a moment after another symbol's does not alert); `regime_reference_restored` once when it
 * is back.
 */
import type { ProtectionsConfig, Regime } from '../config/strategy.js';
import { REGIMES } from '../config/strategy.js';
import { protectionEvent, type ProtectionEvent, type ProtectionState, type ReferenceState, type ReferenceStatus, type RegimeInputs } from './model.js';
import { upperBound } from '../sorted.js';

const HOUR_MS = 60 * 60_000;
export const REGIME_WINDOWS_MS = { change1hPct: HOUR_MS, change4hPct: 4 * HOUR_MS, change24hPct: 24 * HOUR_MS, change48hPct: 48 * HOUR_MS } as const;
const PCT = 100;

type RegimeConfig = ProtectionsConfig['regime'];

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
  if (i < 0) return -1;
  return upperBound(time, t, 0, i + 1) - 1;
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
  return { ...s, regime: { current: regime, since: now, calmSince: null } };
}

/** Severity rank (higher = more severe: cuts sizes more). */
const REGIME_SEVERITY: Readonly<Record<Regime, number>> = { NORMAL: 0, EUPHORIA: 1, CAUTION: 2, PANIC: 3 };

/**
 * The held regime after one classification at `now` (rule in the module comment). Returns the same
 * object when nothing changed; one `regime_changed` event per change.
 */
export function stepRegime(s: ProtectionState, classified: Regime, now: number, cfg: RegimeConfig, out: ProtectionEvent[], inputs?: RegimeInputs): ProtectionState {
  const r = s.regime;
  const calmSince = r.calmSince ?? null;
  const d = REGIME_SEVERITY[classified] - REGIME_SEVERITY[r.current];
  if (d > 0) return updateRegime(s, classified, now, out, inputs);
  if (d === 0) return calmSince === null ? s : { ...s, regime: { ...r, calmSince: null } };
  const spell = calmSince ?? now;
  if (now - r.since >= cfg.minHoldMs && now - spell >= cfg.calmConfirmMs) return updateRegime(s, classified, now, out, inputs);
  return calmSince === null ? { ...s, regime: { ...r, calmSince: now } } : s;
}

/** Reference status at `now` from the last reference candle's close time. */
function referenceStatusAt(lastAt: number | null, now: number, cfg: RegimeConfig): ReferenceStatus {
  if (lastAt === null) return 'missing';
  return now - lastAt > cfg.referenceMaxAgeMs ? 'stale' : 'ok';
}

const isoOf = (t: number | null) => (t === null ? 'never' : new Date(t).toISOString());

/**
 * Reference freshness at `now`, after a reference candle closing at `candleClose` (null: no
 * reference candle in this input). Same object when nothing changed; one `regime_reference_lost`
 * per outage, one `regime_reference_restored` when it ends (see the module comment).
 */
export function updateReference(s: ProtectionState, candleClose: number | null, now: number, cfg: RegimeConfig, out: ProtectionEvent[]): ProtectionState {
  const r0 = s.reference;
  const prevLast = r0?.lastAt ?? null;
  const lastAt = candleClose === null ? prevLast : prevLast === null ? candleClose : Math.max(prevLast, candleClose);
  const status = referenceStatusAt(lastAt, now, cfg);
  if (r0 !== undefined && r0.lastAt === lastAt && r0.status === status && (status === 'ok' || r0.alerted || now - r0.since <= cfg.referenceMaxAgeMs)) return s;
  // Runs on every reference candle (lastAt moves): new objects built field by field, not by spread
  // (V8's spread copy cost ~10 times more here); referenceState / withReference keep every field.
  let r = r0 === undefined ? referenceState(lastAt, status, now, false) : referenceState(lastAt, r0.status, r0.since, r0.alerted);
  if (r.status !== status) r = referenceState(lastAt, status, now, r.alerted);
  const sym = cfg.referenceSymbol;
  if (status === 'ok') {
    if (r.alerted) {
      out.push(protectionEvent('regime_reference_restored', 'market', now, 'info', `Regime reference ${sym} is back (candle closed ${isoOf(lastAt)}): new entries allowed again`, referenceDetails(cfg, status, lastAt)));
      r = referenceState(r.lastAt, r.status, r.since, false);
    }
  } else if (!r.alerted && (status === 'stale' || now - r.since > cfg.referenceMaxAgeMs)) {
    const maxMin = cfg.referenceMaxAgeMs / 60_000;
    const why =
      status === 'missing'
        ? `no ${sym} candle received since ${isoOf(r.since)}`
        : `the last ${sym} candle closed ${isoOf(lastAt)}, more than ${maxMin} min ago`;
    out.push(
      protectionEvent('regime_reference_lost', 'market', now, 'critical', `Regime reference ${sym} ${status}: ${why}. The market regime is unknown: new entries stopped until it is back (open positions are still managed)`, {
        ...referenceDetails(cfg, status, lastAt),
        since: r.since,
      }),
    );
    r = referenceState(r.lastAt, r.status, r.since, true);
  }
  return withReference(s, r);
}

function referenceState(lastAt: number | null, status: ReferenceStatus, since: number, alerted: boolean): ReferenceState {
  return { lastAt, status, since, alerted };
}

/** Every key of ProtectionState (compile error when a key is added there and not here, or removed). */
const PROTECTION_STATE_KEYS = { regime: true, reference: true, volDisabled: true, limiter: true, nextCooldownEnd: true, guards: true } as const satisfies Record<keyof ProtectionState, true>;
void PROTECTION_STATE_KEYS;

/** `{ ...s, reference }` with the fields listed (same keys and values; see PROTECTION_STATE_KEYS). */
function withReference(s: ProtectionState, reference: ReferenceState): ProtectionState {
  return { regime: s.regime, reference, volDisabled: s.volDisabled, limiter: s.limiter, nextCooldownEnd: s.nextCooldownEnd, guards: s.guards };
}

function referenceDetails(cfg: RegimeConfig, status: ReferenceStatus, lastAt: number | null): { referenceSymbol: string; status: ReferenceStatus; lastCandleAt: number | null; maxAgeMs: number } {
  return { referenceSymbol: cfg.referenceSymbol, status, lastCandleAt: lastAt, maxAgeMs: cfg.referenceMaxAgeMs };
}
