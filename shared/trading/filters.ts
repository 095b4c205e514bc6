/**
 * Scalp filters (SPEC 4): the macro-bias filter with hysteresis, and the swing-position conflict.
 *
 * Bias filter, a small state machine per symbol (only engaged symbols are stored):
 * - released -> engaged(D) when a non-expired bias D (LONG/SHORT) has confidence >= engageConfidence (80);
 * - engaged(D) holds while the bias is D with confidence >= releaseConfidence (70) and not expired;
 * - engaged(D) -> released when confidence drops below releaseConfidence, the bias turns NEUTRAL or
 *   opposite (its confidence in D is then 0; an opposite bias >= 80 engages the other side at once), or
 *   the bias expires (`expiresAt`, macro biasTtlMs).
 * While engaged(D), only D scalps pass. Bias updates older than the last one applied are ignored.
 * One event per engage/release.
 */
import type { FiltersConfig } from '../config/strategy.js';
import { protectionEvent, type ProtectionEvent } from '../protection/model.js';
import type { AccountState } from './model.js';
import type { BiasState, Direction } from '../model/trading.js';

interface BiasFilterEntry {
  engaged: Direction;
  confidence: number;
  /** ts of the bias that set or last held it. */
  biasTs: number;
  expiresAt: number;
  since: number;
}

export interface BiasFilterState {
  symbols: Record<string, BiasFilterEntry>;
  /** Earliest expiresAt of the engaged entries (fast-path check), or null. */
  nextExpiry: number | null;
  /** Latest bias ts applied per symbol (stale updates are ignored). */
  lastBiasTs: Record<string, number>;
}

export function createBiasFilterState(): BiasFilterState {
  return { symbols: {}, nextExpiry: null, lastBiasTs: {} };
}

function nextExpiry(symbols: Record<string, BiasFilterEntry>): number | null {
  let n: number | null = null;
  for (const e of Object.values(symbols)) if (n === null || e.expiresAt < n) n = e.expiresAt;
  return n;
}

function withEntry(s: BiasFilterState, symbol: string, e: BiasFilterEntry | null, biasTs: number): BiasFilterState {
  const symbols = { ...s.symbols };
  if (e === null) delete symbols[symbol];
  else symbols[symbol] = e;
  return { symbols, nextExpiry: nextExpiry(symbols), lastBiasTs: { ...s.lastBiasTs, [symbol]: biasTs } };
}

function released(symbol: string, e: BiasFilterEntry, now: number, why: string): ProtectionEvent {
  return protectionEvent('bias_filter_released', symbol, now, 'info', `${symbol}: macro-bias filter released (${why}); scalps in both directions`, {
    symbol,
    was: e.engaged,
    reason: why,
  });
}

/** Applies one bias update; returns the same state when nothing changed. */
export function updateBiasFilter(s: BiasFilterState, bias: BiasState, now: number, cfg: FiltersConfig['macroBias'], out: ProtectionEvent[]): BiasFilterState {
  const sym = bias.symbol;
  const last = s.lastBiasTs[sym];
  if (last !== undefined && bias.ts < last) return s;
  const cur = s.symbols[sym];
  const live = now < bias.expiresAt;
  if (cur) {
    if (live && bias.bias === cur.engaged && bias.confidence >= cfg.releaseConfidence) {
      if (cur.confidence === bias.confidence && cur.expiresAt === bias.expiresAt && cur.biasTs === bias.ts) return s;
      return withEntry(s, sym, { ...cur, confidence: bias.confidence, expiresAt: bias.expiresAt, biasTs: bias.ts }, bias.ts);
    }
    const why = !live ? 'bias expired' : bias.bias === cur.engaged ? `confidence ${bias.confidence} < ${cfg.releaseConfidence}` : `bias is ${bias.bias}`;
    out.push(released(sym, cur, now, why));
  }
  if (live && bias.bias !== 'NEUTRAL' && bias.confidence >= cfg.engageConfidence) {
    out.push(
      protectionEvent('bias_filter_engaged', sym, now, 'info', `${sym}: macro bias ${bias.bias} ${bias.confidence} >= ${cfg.engageConfidence}: only ${bias.bias} scalps`, {
        symbol: sym,
        direction: bias.bias,
        confidence: bias.confidence,
      }),
    );
    return withEntry(s, sym, { engaged: bias.bias, confidence: bias.confidence, biasTs: bias.ts, expiresAt: bias.expiresAt, since: now }, bias.ts);
  }
  if (cur) return withEntry(s, sym, null, bias.ts);
  return last === bias.ts ? s : { ...s, lastBiasTs: { ...s.lastBiasTs, [sym]: bias.ts } };
}

/** Releases entries whose bias expired; one event each. */
export function expireBiasFilter(s: BiasFilterState, now: number, out: ProtectionEvent[]): BiasFilterState {
  if (s.nextExpiry === null || now < s.nextExpiry) return s;
  const symbols: Record<string, BiasFilterEntry> = {};
  for (const [sym, e] of Object.entries(s.symbols)) {
    if (now >= e.expiresAt) out.push(released(sym, e, now, 'bias expired'));
    else symbols[sym] = e;
  }
  return { ...s, symbols, nextExpiry: nextExpiry(symbols) };
}

/** The direction the filter restricts `symbol` to at `now`, or null when released (or disabled). */
export function biasRestriction(s: BiasFilterState, symbol: string, now: number, cfg: FiltersConfig['macroBias']): Direction | null {
  if (!cfg.enabled) return null;
  const e = s.symbols[symbol];
  return e && now < e.expiresAt ? e.engaged : null;
}

/** A SWING group (pending or open) on the same symbol: the scalp is sized x swingConflictSizeFactor. */
export function hasSwingConflict(a: AccountState, symbol: string): boolean {
  for (const p of a.positions) if (p.engine === 'SWING' && p.symbol === symbol) return true;
  return false;
}
