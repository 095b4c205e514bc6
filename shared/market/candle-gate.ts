/**
 * THE candle gate (SPEC 6, issue 8): every consumer of candles runs it before it uses one, not only
 * the producers: candle-ingest (hot window + warehouse `ohlcv`), the micro-scalp engine, the execution
 * (fills, exits, watermarks), the MACRO columns and the backtester's loaders. Nothing on the bus is
 * trusted.
 *
 * Two layers:
 * 1. `candleViolation` (stateless): finite positive prices, ordered OHLC (low <= open,close <= high),
 *    finite volume >= 0, a configured symbol, open time aligned to the interval and not later than the
 *    clock allows (openTime + interval <= now + dataQuality.maxClockSkewMs: a CLOSED candle). A
 *    violation is a permanent error: the consumer throws PermanentError (the bus dead-letters the
 *    message at once with the reason); the candle is never traded, never written, never moves a
 *    watermark.
 * 2. `gateCandles` (stateful, one document per series `gate/{venue}:{symbol}:{interval}`, changed in
 *    a transaction): the sanity band of the last good close with re-anchoring (quality.ts
 *    judgeSanity), and the memory of recent verdicts with each candle's values. The FIRST consumer to
 *    see a candle records its verdict; every other consumer (and every redelivery) gets the recorded
 *    one, so ingest, engines and execution always agree. A closed candle that comes again with
 *    DIFFERENT values than an accepted one is refused (`altered`) and alerted; the same values are an
 *    idempotent no-op. A candle older than the memory is compared with its hot-window document.
 *    A candle out of the band is SUSPECT: held back (dead-lettered with the reason) by every consumer,
 *    never written, never fed to indicators, never opening an entry; but the execution still
 *    evaluates the open positions' protective exits on it (conservatively: a stop is never skipped).
 *    A candle its producer flagged `bad_data` is at best suspect.
 *
 * Every refusal raises a `bad_data` alert with a deterministic id (downstream de-duplicates the copies
 * of the several consumers).
 */
import type { SystemConfig } from '../config/system.js';
import type { Logger } from '../log.js';
import { PermanentError, type Bus } from '../ports/bus.js';
import type { Clock } from '../ports/clock.js';
import type { DocData, StateStore, Transaction } from '../ports/state.js';
import { TOPICS } from '../topics.js';
import { EMPTY_SANITY, judgeSanity, priceIntegrityReason, type SanityState } from './quality.js';
import { candleKey, INTERVAL_MS, isTradable, type Candle } from '../model/market.js';
import { candlePath, gateDocPath } from '../state-paths.js';
import { publish, type Alert } from '../messages.js';
import { alertAttributes } from '../alerts.js';

interface ViolationContext {
  /** Configured symbols; absent = not checked (backtests name their own files). */
  symbols?: ReadonlySet<string>;
  /** The clock; absent = no future check (historical data). */
  now?: number;
  maxClockSkewMs?: number;
}

/** Why a candle can never be processed, or null (stateless layer; see the header). */
export function candleViolation(c: Candle, ctx: ViolationContext = {}): string | null {
  const iv = INTERVAL_MS[c.interval];
  if (iv === undefined) return `unknown interval ${String(c.interval)}`;
  const broken = priceIntegrityReason(c);
  if (broken) return broken;
  if (ctx.symbols && !ctx.symbols.has(c.symbol)) return `unknown symbol ${c.symbol} (not in config/system symbols)`;
  if (!Number.isSafeInteger(c.openTime) || c.openTime < 0) return `open time ${c.openTime} is not a valid epoch ms`;
  if (c.openTime % iv !== 0) return `open time ${new Date(c.openTime).toISOString()} is not aligned to ${c.interval}`;
  if (ctx.now !== undefined && c.openTime + iv > ctx.now + (ctx.maxClockSkewMs ?? 0)) {
    return `candle ${new Date(c.openTime).toISOString()} ${c.interval} closes after now (${new Date(ctx.now).toISOString()}): not a closed candle`;
  }
  return null;
}

/** The stateless context of a running system. */
export function violationContext(system: Pick<SystemConfig, 'symbols' | 'dataQuality'>, now: number): ViolationContext {
  return { symbols: new Set(system.symbols.map((s) => s.symbol)), now, maxClockSkewMs: system.dataQuality.maxClockSkewMs };
}

type GateStatus = 'accepted' | 'suspect' | 'rejected';

export interface GateVerdict {
  candle: Candle;
  status: GateStatus;
  /** Why it is not accepted (or why the reference re-anchored on it). */
  reason: string | null;
  /** Accepted, and the sanity reference moved to it after a lasting move. */
  reanchored: boolean;
  /** Refused because an accepted candle with the same key had other values. */
  altered: boolean;
}

interface SeenEntry {
  fp: string;
  status: 'accepted' | 'suspect';
  reason: string | null;
  reanchored?: boolean;
}

export interface GateDoc {
  sanity: SanityState;
  /** openTime -> verdict of the recent candles (at most dataQuality.gateMemoryCandles). */
  seen: Record<string, SeenEntry>;
  updatedAt: number;
}

/** What makes two copies of a closed candle the same candle. */
function candleFingerprint(c: Pick<Candle, 'open' | 'high' | 'low' | 'close' | 'volume'>): string {
  return `${c.open}|${c.high}|${c.low}|${c.close}|${c.volume}`;
}

interface GateDeps {
  state: StateStore;
  bus: Bus;
  clock: Clock;
  log: Logger;
}

/**
 * Judges candles (any series, any order) for one consumer. Returns one verdict per input candle, in
 * input order. Publishes one `bad_data` alert per refused or re-anchoring candle.
 */
export async function gateCandles(deps: GateDeps, system: Pick<SystemConfig, 'symbols' | 'dataQuality'>, candles: readonly Candle[], consumer: string): Promise<GateVerdict[]> {
  const now = deps.clock.now();
  const verdicts = new Map<Candle, GateVerdict>();
  const bySeries = screenCandles(candles, violationContext(system, now), verdicts);
  for (const [path, list] of bySeries) {
    const sorted = [...list].sort((a, b) => a.openTime - b.openTime);
    const out = await deps.state.runTransaction((tx) => judgeSeries(tx, path, sorted, system, now));
    for (const v of out) verdicts.set(v.candle, v);
  }
  const result = candles.map((c) => verdicts.get(c) as GateVerdict);
  for (const v of result) {
    if (v.status === 'accepted' && !v.reanchored) continue;
    const alert = gateAlert(v, now);
    deps.log.warn(v.status === 'accepted' ? 'candle gate: sanity reference re-anchored' : `candle gate: ${v.status}`, { consumer, candle: candleKey(v.candle), reason: v.reason });
    await publish(deps.bus, TOPICS.alerts, alert, { attributes: alertAttributes(alert) });
  }
  return result;
}

/**
 * The stateless checks: a candle that violates the system's rules (candleViolation) or comes with a
 * conflicting copy in the same message is rejected into `verdicts`; the others are grouped by series
 * (their gate document path) for the sanity check.
 */
function screenCandles(candles: readonly Candle[], ctx: ViolationContext, verdicts: Map<Candle, GateVerdict>): Map<string, Candle[]> {
  const bySeries = new Map<string, Candle[]>();
  // One message carrying two versions of one candle: no copy is trusted (whichever consumer judged first
  // would otherwise decide which version is traded and which is stored).
  const versions = new Map<string, Set<string>>();
  for (const c of candles) {
    const k = candleKey(c);
    const set = versions.get(k) ?? new Set<string>();
    set.add(candleFingerprint(c));
    versions.set(k, set);
  }
  for (const c of candles) {
    const why = candleViolation(c, ctx) ?? ((versions.get(candleKey(c))?.size ?? 1) > 1 ? `conflicting copies of ${candleKey(c)} in one message` : null);
    if (why) {
      verdicts.set(c, { candle: c, status: 'rejected', reason: why, reanchored: false, altered: false });
      continue;
    }
    const path = gateDocPath(c);
    const list = bySeries.get(path) ?? [];
    list.push(c);
    bySeries.set(path, list);
  }
  return bySeries;
}

/**
 * Inside the transaction on one series' gate document: the verdicts of its candles (sorted by open
 * time), then the document with the new verdicts, trimmed to the last gateMemoryCandles.
 */
async function judgeSeries(tx: Transaction, path: string, sorted: readonly Candle[], system: Pick<SystemConfig, 'dataQuality'>, now: number): Promise<GateVerdict[]> {
  const stored = await tx.get<GateDoc>(path);
  const doc: GateDoc = { sanity: stored?.sanity ?? EMPTY_SANITY, seen: { ...stored?.seen }, updatedAt: now };
  let changed = false;
  const res: GateVerdict[] = [];
  for (const c of sorted) {
    const known = await knownVerdict(tx, doc, c);
    if (known !== null) {
      res.push(known);
      continue;
    }
    const j = judgeSanity(doc.sanity, c, system.dataQuality);
    doc.sanity = j.state;
    const fp = candleFingerprint(c);
    let entry: SeenEntry;
    if (j.verdict === 'suspect') entry = { fp, status: 'suspect', reason: j.reason };
    else if (!isTradable(c)) entry = { fp, status: 'suspect', reason: `flagged ${String(c.flags)} by its producer` };
    else entry = { fp, status: 'accepted', reason: j.reason, ...(j.verdict === 'reanchored' ? { reanchored: true } : {}) };
    doc.seen[String(c.openTime)] = entry;
    changed = true;
    res.push(fromSeen(c, entry));
  }
  if (changed) {
    const keys = Object.keys(doc.seen).map(Number).sort((a, b) => a - b);
    for (const k of keys.slice(0, Math.max(0, keys.length - system.dataQuality.gateMemoryCandles))) delete doc.seen[String(k)];
    tx.set(path, doc as unknown as DocData);
  }
  return res;
}

/**
 * The verdict of a candle the gate already knows: the same copy judged before (its verdict again),
 * other values than the accepted copy (altered), or a candle older than the memory checked against
 * the hot window's accepted copy. Null: a new candle, to judge.
 */
async function knownVerdict(tx: Transaction, doc: GateDoc, c: Candle): Promise<GateVerdict | null> {
  const fp = candleFingerprint(c);
  const seen = doc.seen[String(c.openTime)];
  if (seen && seen.fp === fp) return fromSeen(c, seen);
  if (seen && seen.status === 'accepted') return altered(c, `values differ from the accepted candle (${seen.fp} vs ${fp})`);
  const ref = doc.sanity.ref;
  if (!seen && ref !== null && c.openTime <= ref.openTime) {
    // older than the memory: the hot window has the accepted copy, if any
    const hot = await tx.get<Candle>(candlePath(c));
    if (hot) {
      const hotFp = candleFingerprint(hot);
      return hotFp === fp ? { candle: c, status: 'accepted', reason: null, reanchored: false, altered: false } : altered(c, `values differ from the stored candle (${hotFp} vs ${fp})`);
    }
  }
  return null;
}

function fromSeen(c: Candle, s: SeenEntry): GateVerdict {
  return { candle: c, status: s.status, reason: s.reason, reanchored: s.reanchored === true, altered: false };
}

function altered(c: Candle, detail: string): GateVerdict {
  return { candle: c, status: 'rejected', reason: `altered closed candle ${candleKey(c)}: ${detail}`, reanchored: false, altered: true };
}

/** The owner alert of a refused (or re-anchoring) candle; one id per candle key and values. */
function gateAlert(v: GateVerdict, now: number): Alert {
  const c = v.candle;
  const what = v.status === 'accepted' ? 'sanity reference re-anchored on' : v.status === 'suspect' ? 'suspect candle held back (open positions still get their stops)' : 'candle refused';
  return {
    alertId: `bad_data:gate:${candleKey(c)}:${v.status}:${candleFingerprint(c)}`,
    kind: 'bad_data',
    severity: v.altered ? 'critical' : 'warning',
    subject: c.symbol,
    message: `${c.symbol} ${c.interval} ${new Date(Number.isFinite(c.openTime) ? c.openTime : 0).toISOString()}: ${what}: ${v.reason ?? ''}`,
    ts: now,
    details: { candle: candleKey(c), status: v.status, reason: v.reason, altered: v.altered, open: c.open, high: c.high, low: c.low, close: c.close, volume: c.volume },
  };
}

/** The PermanentError for a message with refused candles (null when every candle was accepted). */
export function gateRefusal(verdicts: readonly GateVerdict[]): PermanentError | null {
  const bad = verdicts.filter((v) => v.status !== 'accepted');
  if (bad.length === 0) return null;
  const parts = bad.slice(0, 5).map((v) => `${candleKey(v.candle)} ${v.status}: ${v.reason}`);
  return new PermanentError(`candle gate: ${bad.length} candle(s) not accepted: ${parts.join('; ')}${bad.length > 5 ? '; ...' : ''}`);
}

export const accepted = (verdicts: readonly GateVerdict[]): Candle[] => verdicts.filter((v) => v.status === 'accepted').map((v) => v.candle);
