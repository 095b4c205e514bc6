/**
 * Archiving market data (domain, no cloud SDK): closed candles go to the hot window in state AND to
 * the warehouse `ohlcv` table; raw trade batches go to the warehouse `ticks` table. Both are
 * idempotent, so an at-least-once redelivery leaves state and history unchanged: hot-store writes
 * are keyed by open time, and warehouse inserts are no-ops for keys already stored.
 */
import type { Bus } from '../ports/bus.js';
import type { Clock } from '../ports/clock.js';
import type { ConfigSource } from '../config/source.js';
import type { StateStore } from '../ports/state.js';
import type { Row, Warehouse } from '../ports/warehouse.js';
import { PermanentError } from '../ports/bus.js';
import type { Logger } from '../log.js';
import { candleToRow } from '../warehouse-schema.js';
import { accepted, gateCandles, gateRefusal } from './candle-gate.js';
import { writeHotCandles } from './hot-store.js';
import type { Candle, Venue } from '../model/market.js';
import type { TickBatch } from '../messages.js';

export interface IngestDeps {
  state: StateStore;
  warehouse: Warehouse;
  clock: Clock;
  log: Logger;
}

/** What the gated ingest of bus candles needs besides IngestDeps. */
export interface GatedIngestDeps extends IngestDeps {
  bus: Bus;
  config: ConfigSource;
}

interface IngestResult {
  /** Candles written (after de-duplication within the batch). */
  candles: number;
  series: string[];
}

/** Keeps the last occurrence of each key (a later copy in one batch is the corrected one). */
function dedupeCandles(candles: Candle[]): Candle[] {
  const byKey = new Map<string, Candle>();
  for (const c of candles) byKey.set(`${c.venue}|${c.symbol}|${c.interval}|${c.openTime}`, c);
  return [...byKey.values()].sort((a, b) => a.openTime - b.openTime);
}

/**
 * Candles from the bus (candle-ingest): the candle gate first (shared/market/candle-gate.ts); only
 * accepted candles are stored (never a refused one, never over an accepted one: state and warehouse
 * agree). Any refused candle makes the message a PermanentError (dead-lettered with the reasons)
 * after the accepted ones are stored.
 */
export async function ingestBusCandles(deps: GatedIngestDeps, candles: Candle[]): Promise<IngestResult> {
  const system = await deps.config.system();
  const verdicts = await gateCandles(deps, system, candles, 'candle-ingest');
  const result = await ingestClosedCandles(deps, accepted(verdicts));
  const refusal = gateRefusal(verdicts);
  if (refusal) throw refusal;
  return result;
}

/**
 * Stores closed candles: hot window first (what the engines read), then history. A failure after the
 * hot write is retried by the bus; both writes are idempotent, so the retry converges.
 */
async function ingestClosedCandles(deps: IngestDeps, candles: Candle[]): Promise<IngestResult> {
  const unique = dedupeCandles(candles);
  if (unique.length === 0) return { candles: 0, series: [] };
  await writeHotCandles(deps.state, unique);
  const ingestedAt = deps.clock.now();
  await deps.warehouse.insert(
    'ohlcv',
    unique.map((c) => candleToRow(c, ingestedAt)),
  );
  const series = [...new Set(unique.map((c) => `${c.venue}:${c.symbol}:${c.interval}`))];
  const first = unique[0] as Candle;
  const last = unique[unique.length - 1] as Candle;
  deps.log.info('ingested closed candles', {
    count: unique.length,
    series,
    fromOpenTime: first.openTime,
    toOpenTime: last.openTime,
    flagged: unique.filter((c) => c.flags && c.flags.length > 0).length,
  });
  return { candles: unique.length, series };
}

/** The warehouse `ticks` row of one trade. */
function tradeToTickRow(venue: Venue, t: TickBatch['trades'][number]): Row {
  return { venue, symbol: t.symbol, trade_id: t.id, ts: t.ts, price: t.price, size: t.size, side: t.side };
}

/**
 * Archives one batch of raw trades (one symbol, at most one second) to the warehouse `ticks` table.
 * A trade of another symbol than the batch's makes the message malformed (PermanentError).
 */
export async function archiveTicks(
  deps: Pick<IngestDeps, 'warehouse' | 'log'>,
  batch: TickBatch,
  venue: Venue = 'bybit',
): Promise<{ trades: number }> {
  const foreign = batch.trades.find((t) => t.symbol !== batch.symbol);
  if (foreign) {
    throw new PermanentError(`tick batch for ${batch.symbol} contains a ${foreign.symbol} trade (${foreign.id})`);
  }
  await deps.warehouse.insert(
    'ticks',
    batch.trades.map((t) => tradeToTickRow(venue, t)),
  );
  deps.log.debug('archived ticks', { symbol: batch.symbol, trades: batch.trades.length, fromTs: batch.fromTs, toTs: batch.toTs });
  return { trades: batch.trades.length };
}
