/**
 * The closed-trade read model (StateTradeLog) under polling: the dashboard reads it every few seconds,
 * so while no trade was recorded a read costs ONE document read (the log's version), not one per
 * trade, and a trade recorded since is seen at the next read, whatever the clock of the caller.
 * The records have the notifier's shape; what is tested (what is read, and when) does not depend on
 * their values.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import type { DocData, DocSnapshot, Query, StateStore } from '../../shared/ports/state.js';
import type { ClosedTradeRecord } from '../../shared/ports/trade-history.js';
import { StateTradeLog } from '../../shared/telegram/trade-log.js';

/** Counts what reaches the store (documents read by get / returned by query). */
function counting(inner: StateStore): { store: StateStore; reads: () => number } {
  let reads = 0;
  const store = Object.create(inner) as StateStore;
  store.get = async <T = DocData>(path: string): Promise<T | undefined> => {
    reads += 1;
    return inner.get<T>(path);
  };
  store.query = async <T = DocData>(collection: string, q?: Query): Promise<DocSnapshot<T>[]> => {
    const r = await inner.query<T>(collection, q);
    reads += Math.max(1, r.length);
    return r;
  };
  return { store, reads: () => reads };
}

/** Three closed-trade records (the notifier's shape). */
const TRADES: ClosedTradeRecord[] = [
  { groupId: 'tg:a', strategy: 'v52_divergence', symbol: 'BTCUSDT', direction: 'LONG', entryTime: 1749600060000, exitTime: 1749601260000, avgEntry: 109628.1, exitPrice: 109515.89, qty: 0.0456, fees: 5.5, pnl: -10.62, pnlPct: -0.21, exitReason: 'time_exit' },
  { groupId: 'tg:b', strategy: 'v52_divergence', symbol: 'BTCUSDT', direction: 'SHORT', entryTime: 1749631500000, exitTime: 1749632400000, avgEntry: 110325.7, exitPrice: 109774.07, qty: 0.1072, fees: 11.83, pnl: 59.04, pnlPct: 0.46, exitReason: 'take_profit' },
  { groupId: 'tg:c', strategy: 'channel', symbol: 'BTCUSDT', direction: 'LONG', entryTime: 1749641700000, exitTime: 1749648900000, avgEntry: 109381.5, exitPrice: 109228.5, qty: 0.0251, fees: 0.0, pnl: -3.84, pnlPct: -0.79, exitReason: 'trailing_stop' },
];

describe('StateTradeLog under polling', () => {
  let base: SqliteStateStore;
  beforeEach(() => {
    base = new SqliteStateStore({ file: ':memory:' });
  });
  afterEach(async () => {
    await base.close();
  });

  it('reads each trade once while nothing new is recorded; a new trade is seen at the next read', async () => {
    const { store, reads } = counting(base);
    const log = new StateTradeLog(store);
    await log.record(TRADES[0]!);
    await log.record(TRADES[1]!);
    const day = [TRADES[0]!.exitTime - 3_600_000, TRADES[1]!.exitTime + 1] as const;
    expect(await log.closedBetween(...day)).toEqual([TRADES[0], TRADES[1]]);
    const before = reads();
    for (let i = 0; i < 5; i++) expect(await log.closedBetween(day[0] + i * 1000, day[1] + i * 1000)).toEqual([TRADES[0], TRADES[1]]);
    expect(reads() - before).toBe(5); // the version document only
    // a narrower window inside what was read: still from memory, filtered
    expect(await log.closedBetween(TRADES[1]!.exitTime, day[1])).toEqual([TRADES[1]]);

    // recorded by another instance (the notifier's own StateTradeLog): seen at once
    await new StateTradeLog(base).record(TRADES[2]!);
    expect(await log.closedBetween(day[0], TRADES[2]!.exitTime + 1)).toEqual(TRADES);
    // the same trade again (a redelivered position_closed) changes nothing, so nothing is re-read
    await new StateTradeLog(base).record(TRADES[2]!);
    const again = reads();
    expect(await log.closedBetween(day[0], TRADES[2]!.exitTime + 1)).toEqual(TRADES);
    expect(reads() - again).toBe(1);
    // an earlier start than what was kept is read from the store
    expect(await log.closedBetween(0, TRADES[0]!.exitTime + 1)).toEqual([TRADES[0]]);
  });

  it('a later trade is never hidden by what was kept, whatever the caller\'s clock (replays)', async () => {
    const log = new StateTradeLog(base);
    await log.record(TRADES[0]!);
    expect(await log.closedBetween(0, TRADES[0]!.exitTime + 1)).toEqual([TRADES[0]]);
    await log.record(TRADES[1]!);
    expect(await log.closedBetween(0, Number.MAX_SAFE_INTEGER)).toEqual([TRADES[0], TRADES[1]]);
  });
});
