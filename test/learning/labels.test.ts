/**
 * Labels: real closed trades of the kit slice linked to their scans; `paper_trades` rows (what the
 * warehouse holds) grouped back into one labelled trade per group, a DCA group of several real lots
 * booked by the same close code (trade-group.ts bookClose) included; bad rows refused with the reason.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_MACRO_CONFIG } from '../../shared/config/strategy.js';
import { dedupeBySignal, labelledFromPaperRows, outcomeOf, isPositive, type LabelledTrade } from '../../shared/learning/labels.js';
import { bookClose } from '../../shared/trading/trade-group.js';
import type { Position } from '../../shared/trading/model.js';
import { evaluateDcaAt, isSwingSignal, prepareSwing } from '../../shared/strategies/macro/swing.js';
import { FILES, cols, ts } from '../macro/helpers.js';
import { sliceRun } from './helpers.js';

describe('outcomeOf', () => {
  it('TIMEOUT for a time exit whatever the P&L, else WIN when P&L after costs > 0, else LOSS', () => {
    expect(outcomeOf({ pnl: 5, exitReason: 'time_exit' })).toBe('TIMEOUT');
    expect(outcomeOf({ pnl: 5, exitReason: 'take_profit' })).toBe('WIN');
    expect(outcomeOf({ pnl: 0, exitReason: 'take_profit' })).toBe('LOSS');
    expect(outcomeOf({ pnl: -1, exitReason: 'stop_loss' })).toBe('LOSS');
    // The classifier's target: a profitable timeout is a positive.
    expect(isPositive({ pnl: 5 })).toBe(1);
    expect(isPositive({ pnl: 0 })).toBe(0);
  });
});

describe('real trades of the kit slice', () => {
  const { run, labelled } = sliceRun();

  it('every closed trade is linked to its scan and labelled by its P&L after costs', () => {
    expect(labelled.length).toBe(run.trades.length);
    expect(labelled.length).toBeGreaterThan(60);
    const outcomes = new Set(labelled.map((l) => l.outcome));
    expect([...outcomes].sort()).toEqual(['LOSS', 'TIMEOUT', 'WIN']);
    for (const l of labelled) {
      expect(l.decisionTs).toBeLessThanOrEqual(l.entryTime);
      expect(l.outcome).toBe(l.exitReason === 'time_exit' ? 'TIMEOUT' : l.pnl > 0 ? 'WIN' : 'LOSS');
    }
  });

  it('paper_trades rows give back the same labelled trades (decision time and price derived from the signal id and the features copy)', () => {
    const rows = run.trades.flatMap((t) => t.rows);
    const { trades, refused } = labelledFromPaperRows(rows);
    expect(refused).toEqual([]);
    const byId = new Map(labelled.map((l) => [l.signalId, l]));
    expect(trades.length).toBe(labelled.length);
    for (const t of trades) {
      const l = byId.get(t.signalId) as LabelledTrade;
      expect(t.decisionTs).toBe(l.decisionTs);
      expect(t.price).toBe(l.price);
      expect(t.pnl).toBeCloseTo(l.pnl, 9);
      expect(t.pnlPct).toBeCloseTo(l.pnlPct, 9);
      expect(t.outcome).toBe(l.outcome);
      expect(t.source).toBe('paper');
      expect(t.features).toEqual(l.features);
    }
  });

  it('a bad row is refused with the reason, and refuses its whole group', () => {
    const rows = run.trades.slice(0, 3).flatMap((t) => t.rows);
    const broken = rows.map((r, i) => (i === 0 ? { ...r, pnl: 'lots' } : r));
    const { trades, refused } = labelledFromPaperRows(broken);
    expect(trades).toHaveLength(2);
    expect(refused[0]).toEqual({ key: rows[0]!.trade_group_id, reason: expect.stringContaining('pnl') });
    const noSignal = labelledFromPaperRows([{ ...rows[1]!, signal_id: null }]);
    expect(noSignal.refused[0]!.reason).toMatch(/signal_id/);
  });

  it('dedupeBySignal keeps one per signal, live over paper over shadow, ordered by decision time', () => {
    const a = labelled.slice(0, 5);
    const shadow = a.map((l) => ({ ...l, source: 'shadow' as const, pnl: -99 }));
    const live = { ...a[2]!, source: 'live' as const, pnl: 42 };
    const out = dedupeBySignal([...shadow, ...[...a].reverse(), live]);
    expect(out).toHaveLength(5);
    expect(out.map((o) => o.signalId)).toEqual([...a].sort((x, y) => x.decisionTs - y.decisionTs || (x.signalId < y.signalId ? -1 : 1)).map((o) => o.signalId));
    expect(out.find((o) => o.signalId === live.signalId)!.source).toBe('live');
    expect(out.filter((o) => o.source === 'shadow')).toEqual([]);
  });
});

describe('a DCA group of several lots', () => {
  it('is one labelled trade: P&L summed, pnl_pct size-weighted, earliest entry, decision from the signal id', () => {
    const c5 = cols(FILES.btc5mJan, '5m');
    const i = c5.openTime.indexOf(ts('2023-01-14T01:40:00Z'));
    const s = evaluateDcaAt(prepareSwing(DEFAULT_MACRO_CONFIG, { '5m': c5 }), i, { symbol: 'BTCUSDT', tier: 'large_cap', regime: 'NORMAL' });
    if (!isSwingSignal(s)) throw new Error('expected the real DCA TAKE');
    const p = {
      groupId: `tg:${s.signalId}`,
      signalId: s.signalId,
      strategy: s.strategy,
      engine: s.engine,
      symbol: s.symbol,
      tier: s.tier,
      direction: s.direction,
      openedAt: s.ts + 5 * 60_000,
      avgEntry: 0,
      filledQty: 0,
      features: s.features,
    } as unknown as Position;
    // Three of the five grid entries filled (0.01 BTC each), taker fee 0.055 %, exit at the take profit.
    const lots = s.entries.slice(0, 3).map((price, k) => ({ orderId: `${p.groupId}:e${k}`, fill: price, qty: 0.01, fee: price * 0.01 * 0.00055, slippage: 0, fillTime: s.ts + (k + 1) * 5 * 60_000 }));
    const { trade } = bookClose(p, lots, s.takeProfit, (q) => ({ fee: s.takeProfit * q * 0.00055, slippage: 0 }), 'take_profit', s.ts + 6 * 3_600_000, 'paper');
    expect(trade.rows).toHaveLength(3);
    const { trades, refused } = labelledFromPaperRows(trade.rows);
    expect(refused).toEqual([]);
    expect(trades).toHaveLength(1);
    const l = trades[0]!;
    expect(l.signalId).toBe(s.signalId);
    expect(l.decisionTs).toBe(s.ts);
    expect(l.price).toBe(s.price);
    expect(l.entryTime).toBe(s.ts + 5 * 60_000);
    expect(l.pnl).toBeCloseTo(trade.rows.reduce((n, r) => n + r.pnl, 0), 9);
    expect(l.pnlPct).toBeCloseTo(trade.pnlPct, 9);
    expect(l.outcome).toBe('WIN');
  });
});
