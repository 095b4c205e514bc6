/**
 * The Kraken OHLC pull (SPEC 2), run every minute by Cloud Scheduler. For each enabled symbol with
 * a Kraken pair and each configured interval:
 *
 * 1. read the cursor `cursors/kraken:{pair}:{interval}` (open time of the last stored closed candle);
 *    when the candle after it cannot have closed yet (cursor + 2 x interval > now), ask Kraken
 *    nothing: the minute's run requests only the intervals where a candle may have closed (9 pairs x
 *    4 intervals would be 36 requests a minute at Kraken's one request a second per IP; this makes
 *    it 9 at most minutes, 36 every 4 h);
 * 2. request `since = cursor - overlapCandles x interval` (Kraken's `since` is exclusive), so the
 *    last few stored candles are fetched again and late revisions heal;
 * 3. drop the last row (the still-open candle, never stored as closed) and any row whose
 *    `open time + interval > now`;
 * 4. flag bad data (shared/market/quality.ts) against the stored close just before the batch;
 * 5. detect gaps after the cursor: Kraken omits intervals with no trades, so a gap is reported and
 *    logged, never an error, and no candle is invented. A cursor older than what one response can
 *    cover (720 candles) leaves a range Kraken can no longer serve: logged as such; the quarterly
 *    OHLCVT import (`scripts/import-ohlcvt.ts`) fills it;
 * 6. write every closed candle (flagged included, overlap included: both writes are idempotent by
 *    key) to the hot store and the warehouse;
 * 7. publish only NEW (after the cursor) unflagged candles on `ohlc-data-kraken`, one
 *    `bad_data` alert for new flagged ones;
 * 8. advance the cursor in a transaction (never backwards).
 *
 * Publishing happens before the cursor moves: a crash in between re-publishes the same candles on
 * the next run (at-least-once; consumers de-duplicate by candle key), never loses them.
 */
import type { SystemConfig } from '../../config/system.js';
import type { Logger } from '../../log.js';
import type { Bus } from '../../ports/bus.js';
import type { Clock } from '../../ports/clock.js';
import { KrakenError, type KrakenMarketData, type KrakenOhlcResult, type KrakenOhlcRow } from '../../ports/kraken.js';
import type { DocData, StateStore } from '../../ports/state.js';
import type { Warehouse } from '../../ports/warehouse.js';
import { TOPICS } from '../../topics.js';
import { candleToRow } from '../../warehouse-schema.js';
import { writeHotCandles } from '../hot-store.js';
import { flagBadData } from '../quality.js';
import { INTERVAL_MS, KRAKEN_INTERVAL_MINUTES, isTradable, type Candle, type Interval } from '../../model/market.js';
import { detectGaps, totalMissing, type GapRange } from './gaps.js';
import { barsCollection, krakenCursorPath } from '../../state-paths.js';
import { publish, type Alert } from '../../messages.js';
import { alertAttributes } from '../../alerts.js';

const MS_PER_S = 1000;
/** Warehouse insert batch size (BigQuery streaming inserts are fine well below 10k rows). */
const WAREHOUSE_BATCH_ROWS = 500;

export interface KrakenCursor {
  venue: 'kraken';
  pair: string;
  /** Kraken's result key (canonical pair name). */
  pairKey: string;
  symbol: string;
  interval: Interval;
  /** Open time (ms) of the last stored closed candle. */
  lastOpenTime: number;
  /** Kraken's `last` (s) from the response that advanced the cursor. */
  krakenLast: number;
  updatedAt: number;
}

export interface KrakenPullDeps {
  kraken: KrakenMarketData;
  state: StateStore;
  bus: Bus;
  warehouse: Warehouse;
  clock: Clock;
  log: Logger;
  config: SystemConfig;
}

export interface PairIntervalSummary {
  pair: string;
  symbol: string;
  interval: Interval;
  pairKey?: string;
  /** `since` sent to Kraken (s), undefined on the first pull. */
  since?: number;
  cursorBefore?: number;
  cursorAfter?: number;
  /** Rows Kraken returned (open candle included). */
  received: number;
  /** Rows dropped as not yet closed (the last row, plus any row ending after now). */
  droppedOpen: number;
  /** Closed candles written (hot store + warehouse), overlap included. */
  stored: number;
  /** Closed candles at or before the cursor that were re-written (the overlap). */
  overlapped: number;
  /** New, unflagged candles published on `ohlc-data-kraken`. */
  published: number;
  /** New candles flagged bad_data (stored, not published). */
  flagged: number;
  /** Missing candles after the cursor (intervals Kraken omitted: no trades). */
  gapMissing: number;
  gaps: GapRange[];
  /** Not requested: no candle can have closed since the cursor. */
  skipped?: true;
  /** Range older than one response can cover: Kraken cannot serve it; the OHLCVT import fills it. */
  unserved?: GapRange;
  error?: { name: string; message: string; retryable: boolean };
}

interface KrakenPullResult {
  /** (pair, interval) pulls that asked Kraken (the others were skipped: nothing could have closed). */
  pulls: number;
  skipped: number;
  published: number;
  stored: number;
  flagged: number;
  gapMissing: number;
  errors: number;
  summaries: PairIntervalSummary[];
}

interface Target {
  pair: string;
  symbol: string;
}

/** Enabled symbols with a Kraken pair, one target per pair. */
function pullTargets(config: SystemConfig): Target[] {
  return config.symbols
    .filter((s) => s.enabled && s.krakenPair !== null)
    .map((s) => ({ pair: s.krakenPair as string, symbol: s.symbol }));
}

/**
 * A Kraken row as a system candle. Kraken sends vwap "0.0" when there were no trades: no vwap then.
 * A zero trade count with non-zero volume means the count is unknown: omitted.
 */
function rowToCandle(row: KrakenOhlcRow, symbol: string, interval: Interval): Candle {
  const c: Candle = {
    symbol,
    interval,
    venue: 'kraken',
    openTime: row.time * MS_PER_S,
    open: row.open,
    high: row.high,
    low: row.low,
    close: row.close,
    volume: row.volume,
  };
  if (row.count > 0 || row.volume === 0) c.trades = row.count;
  if (row.vwap > 0) c.vwap = row.vwap;
  return c;
}

/** Runs one pull over every target and interval. Pairs run concurrently; intervals of one pair in turn. */
export async function pullKraken(deps: KrakenPullDeps): Promise<KrakenPullResult> {
  const targets = pullTargets(deps.config);
  const perPair = await Promise.all(
    targets.map(async (t) => {
      const out: PairIntervalSummary[] = [];
      for (const interval of deps.config.kraken.intervals) out.push(await pullOne(deps, t, interval));
      return out;
    }),
  );
  const summaries = perPair.flat();
  const sum = (f: (s: PairIntervalSummary) => number) => summaries.reduce((n, s) => n + f(s), 0);
  return {
    pulls: summaries.filter((s) => !s.skipped).length,
    skipped: summaries.filter((s) => s.skipped).length,
    published: sum((s) => s.published),
    stored: sum((s) => s.stored),
    flagged: sum((s) => s.flagged),
    gapMissing: sum((s) => s.gapMissing),
    errors: summaries.filter((s) => s.error).length,
    summaries,
  };
}

/** One (pair, interval) pull. Errors are caught and reported in the summary; other pairs go on. */
async function pullOne(deps: KrakenPullDeps, target: Target, interval: Interval): Promise<PairIntervalSummary> {
  const { pair, symbol } = target;
  const log = deps.log.child({ venue: 'kraken', pair, symbol, interval });
  const summary: PairIntervalSummary = {
    pair,
    symbol,
    interval,
    received: 0,
    droppedOpen: 0,
    stored: 0,
    overlapped: 0,
    published: 0,
    flagged: 0,
    gapMissing: 0,
    gaps: [],
  };
  try {
    await pullInto(deps, target, interval, summary, log);
  } catch (e) {
    const err = e as Error;
    summary.error = { name: err.name, message: err.message, retryable: e instanceof KrakenError ? e.retryable : true };
    log.error('kraken pull failed', { error: err });
  }
  return summary;
}

/** Steps 1-8 of the header for one (pair, interval), filling `summary` as it goes. */
async function pullInto(deps: KrakenPullDeps, target: Target, interval: Interval, summary: PairIntervalSummary, log: Logger): Promise<void> {
  const { config, state, clock } = deps;
  const { pair, symbol } = target;
  const cursorDoc = await state.get<KrakenCursor>(krakenCursorPath(pair, interval));
  const cursor = cursorDoc?.lastOpenTime;
  summary.cursorBefore = cursor;
  if (cursor !== undefined && cursor + 2 * INTERVAL_MS[interval] > clock.now()) {
    summary.skipped = true;
    summary.cursorAfter = cursor;
    return;
  }
  const { res, raw } = await fetchClosed(deps, target, interval, cursor, summary);
  reportGaps(config, raw, cursor, res.rows.length >= config.kraken.maxCandlesPerResponse, INTERVAL_MS[interval], summary, log);
  if (raw.length === 0) return;

  const prevClose = await storedCloseBefore(state, symbol, interval, raw[0]!.openTime);
  const { candles, flagged } = flagBadData(raw, prevClose, config.dataQuality);
  const isNew = (c: Candle) => cursor === undefined || c.openTime > cursor;
  const fresh = candles.filter(isNew);
  summary.overlapped = candles.length - fresh.length;

  await storeCandles(deps, candles);
  summary.stored = candles.length;
  await publishFresh(deps, target, interval, fresh, flagged.filter((f) => isNew(f.candle)), summary, log);

  const newest = candles[candles.length - 1]!;
  summary.cursorAfter = await advanceCursor(state, {
    venue: 'kraken',
    pair,
    pairKey: res.pairKey,
    symbol,
    interval,
    lastOpenTime: newest.openTime,
    krakenLast: res.last,
    updatedAt: clock.now(),
  });
}

/**
 * Steps 2-3: the OHLC rows since the cursor minus the overlap, as candles: the still-open last row
 * and any row ending after now dropped, sorted, one per open time.
 */
async function fetchClosed(
  deps: KrakenPullDeps,
  { pair, symbol }: Target,
  interval: Interval,
  cursor: number | undefined,
  summary: PairIntervalSummary,
): Promise<{ res: KrakenOhlcResult; raw: Candle[] }> {
  const intervalMs = INTERVAL_MS[interval];
  const since = cursor !== undefined ? Math.floor((cursor - deps.config.kraken.overlapCandles * intervalMs) / MS_PER_S) : undefined;
  summary.since = since;
  const res = await deps.kraken.ohlc(pair, KRAKEN_INTERVAL_MINUTES[interval], since);
  const now = deps.clock.now();
  summary.pairKey = res.pairKey;
  summary.received = res.rows.length;
  // The last row is the still-open candle; anything ending after now is not closed either.
  const closedRows = res.rows.slice(0, -1).filter((r) => r.time * MS_PER_S + intervalMs <= now);
  summary.droppedOpen = res.rows.length - closedRows.length;
  return { res, raw: dedupeSorted(closedRows.map((r) => rowToCandle(r, symbol, interval))) };
}

/**
 * Step 5: gaps after the cursor. When the response was capped (720 candles) and its oldest row is
 * younger than the cursor's successor, the range in between is older than what Kraken serves: not
 * an omission but unserved history.
 */
function reportGaps(config: SystemConfig, raw: readonly Candle[], cursor: number | undefined, capped: boolean, intervalMs: number, summary: PairIntervalSummary, log: Logger): void {
  const gaps = detectGaps(
    raw.map((c) => c.openTime),
    intervalMs,
    cursor,
  );
  const firstGap = gaps[0];
  const unserved = cursor !== undefined && capped && firstGap !== undefined && firstGap.fromMs === cursor + intervalMs ? firstGap : undefined;
  const after = unserved ? gaps.slice(1) : gaps;
  summary.gaps = after;
  summary.gapMissing = totalMissing(after);
  if (unserved) {
    summary.unserved = unserved;
    log.warn('cursor is older than one Kraken response can cover: Kraken cannot serve this range; the quarterly OHLCVT import (scripts/import-ohlcvt.ts) fills it', {
      from: new Date(unserved.fromMs).toISOString(),
      to: new Date(unserved.toMs).toISOString(),
      missing: unserved.missing,
      maxCandlesPerResponse: config.kraken.maxCandlesPerResponse,
    });
  }
  if (after.length > 0) {
    log.info('gaps: Kraken omitted intervals with no trades (not an error; no candle invented)', {
      missing: summary.gapMissing,
      gaps: after.map((g) => ({ from: new Date(g.fromMs).toISOString(), to: new Date(g.toMs).toISOString(), missing: g.missing })),
    });
  }
}

/**
 * Step 6: idempotent writes (keyed by open time): the overlap is re-written so late revisions heal
 * in the hot store. The hot store keeps the window; the warehouse keeps everything.
 */
async function storeCandles(deps: KrakenPullDeps, candles: readonly Candle[]): Promise<void> {
  await writeHotCandles(deps.state, candles.slice(-deps.config.hotWindowCandles));
  const ingestedAt = deps.clock.now();
  for (let i = 0; i < candles.length; i += WAREHOUSE_BATCH_ROWS) {
    await deps.warehouse.insert(
      'ohlcv',
      candles.slice(i, i + WAREHOUSE_BATCH_ROWS).map((c) => candleToRow(c, ingestedAt)),
    );
  }
}

/** Step 7: the new unflagged (tradable) candles on `ohlc-data-kraken`, one bad_data alert for the new flagged ones. */
async function publishFresh(
  deps: KrakenPullDeps,
  { pair, symbol }: Target,
  interval: Interval,
  fresh: readonly Candle[],
  freshFlagged: Array<{ candle: Candle; reason: string }>,
  summary: PairIntervalSummary,
  log: Logger,
): Promise<void> {
  const tradable = fresh.filter(isTradable);
  if (tradable.length > 0) {
    await publish(deps.bus, TOPICS.krakenOhlc, { candles: tradable }, {
      attributes: { venue: 'kraken', symbol, interval },
      orderingKey: `kraken:${symbol}:${interval}`,
    });
  }
  summary.published = tradable.length;
  summary.flagged = freshFlagged.length;
  if (freshFlagged.length > 0) {
    const alert = badDataAlert(symbol, interval, pair, freshFlagged, deps.clock.now());
    log.warn('bad data flagged: stored, not published', { alertId: alert.alertId, candles: alert.details });
    await publish(deps.bus, TOPICS.alerts, alert, { attributes: alertAttributes(alert) });
  }
}

/** Sorted ascending by open time, one candle per open time (the later row wins). */
function dedupeSorted(candles: Candle[]): Candle[] {
  const byTime = new Map<number, Candle>();
  for (const c of candles) byTime.set(c.openTime, c);
  return [...byTime.values()].sort((a, b) => a.openTime - b.openTime);
}

/** Close of the stored candle immediately before `openTime` (the reference for the bad-data check). */
async function storedCloseBefore(state: StateStore, symbol: string, interval: Interval, openTime: number): Promise<number | undefined> {
  const [prev] = await state.query<Candle>(barsCollection('kraken', symbol, interval), {
    where: [{ field: 'openTime', op: '<', value: openTime }],
    orderBy: { field: 'openTime', direction: 'desc' },
    limit: 1,
  });
  return prev?.data.close;
}

/** Moves the cursor forward in a transaction; never backwards. Returns the cursor after the call. */
export async function advanceCursor(state: StateStore, next: KrakenCursor): Promise<number> {
  const path = krakenCursorPath(next.pair, next.interval);
  return state.runTransaction(async (tx) => {
    const cur = await tx.get<KrakenCursor>(path);
    if (cur && cur.lastOpenTime >= next.lastOpenTime) return cur.lastOpenTime;
    tx.set(path, next as unknown as DocData);
    return next.lastOpenTime;
  });
}

function badDataAlert(
  symbol: string,
  interval: Interval,
  pair: string,
  flagged: Array<{ candle: Candle; reason: string }>,
  ts: number,
): Alert {
  const times = flagged.map((f) => f.candle.openTime);
  const first = Math.min(...times);
  const last = Math.max(...times);
  const n = flagged.length;
  return {
    alertId: `bad_data:kraken:${symbol}:${interval}:${first}:${last}:${n}`,
    kind: 'bad_data',
    severity: 'warning',
    subject: symbol,
    message:
      `${n} Kraken ${interval} candle${n === 1 ? '' : 's'} of ${symbol} (${pair}) flagged as bad data, stored but not traded: ` +
      flagged.map((f) => `${new Date(f.candle.openTime).toISOString()} ${f.reason}`).join('; '),
    ts,
    details: {
      venue: 'kraken',
      pair,
      interval,
      candles: flagged.map((f) => ({ openTime: f.candle.openTime, reason: f.reason })),
    },
  };
}
