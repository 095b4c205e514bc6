/**
 * The owner moves a level (Telegram's Move TP, the dashboard's TP / SL sliders): the execution publishes
 * `take_profit_moved` / `stop_loss_moved`, and the trade's alert is EDITED to show the new level, on
 * real SOLUSDT prices (2025-06-22), through the local Bot API server. A redelivered move edits nothing
 * again; a later fill still edits (its rank stays above the moves); a move after the exit changes nothing.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TOPICS } from '../../shared/topics.js';
import { groupIdOf } from '../../shared/trading/group-id.js';
import { fmtPrice } from '../../shared/telegram/html.js';
import type { Signal } from '../../shared/model/trading.js';
import { openedOutcome } from './outcomes.js';
import { loadCandles, makeHarness, MIN, OWNER, T0, type Harness } from './helpers.js';

let h: Harness;
beforeEach(async () => {
  h = await makeHarness();
});
afterEach(async () => {
  await h.close();
});

const sol1m = loadCandles('SOLUSDT_1m_2025-06-22T1000_1400.csv', 'SOLUSDT', '1m');
const price = sol1m.find((c) => c.openTime === T0)!.close;

const signal: Signal = {
  signalId: `v52_divergence:SOLUSDT:${T0}`,
  strategy: 'v52_divergence',
  engine: 'SCALP',
  symbol: 'SOLUSDT',
  ts: T0 + MIN,
  candleTime: T0,
  decision: 'TAKE',
  direction: 'SHORT',
  price,
  reasons: ['RSI divergence'],
  features: {},
  tier: 'mid_cap',
  entries: [price],
  stopLoss: price * 1.003,
  takeProfit: price * 0.995,
  trailingFraction: null,
  maxHoldMs: 3_600_000,
  confidence: 60,
  emit: true,
};

async function publish(payload: unknown): Promise<void> {
  await h.bus.publish(TOPICS.tradeEvents, payload);
  await h.bus.drain();
}

describe('level moves edit the trade alert', () => {
  it('shows a moved TP and SL in the alert, once per move, and never after the exit', async () => {
    await publish(openedOutcome(signal));
    const alertMsg = h.server.chatMessages(OWNER).find((m) => m.photo)!;
    const groupId = groupIdOf(signal.signalId);
    const base = { accountId: 'paper', groupId, signalId: signal.signalId, symbol: 'SOLUSDT', strategy: 'v52_divergence', direction: 'SHORT' };
    await publish({ ...base, type: 'entry_filled', eventId: `fill:${groupId}`, ts: T0 + 2 * MIN, orderId: `${groupId}:e0`, price, qty: 10, fee: 0.5, avgEntry: price, filledQty: 10 });
    expect(h.server.ok('editMessageCaption')).toHaveLength(1);

    const newTp = price * 0.99;
    const tpMove = { ...base, type: 'take_profit_moved', eventId: `${groupId}:tp:dash:a1`, ts: T0 + 3 * MIN, from: signal.takeProfit, to: newTp, commandId: 'dash:a1' };
    await publish(tpMove);
    expect(h.server.ok('editMessageCaption')).toHaveLength(2);
    expect(h.server.message(OWNER, alertMsg.messageId)!.caption).toContain(`TP <code>${fmtPrice(newTp)}</code>`);
    await publish(tpMove); // redelivered: nothing new
    expect(h.server.ok('editMessageCaption')).toHaveLength(2);
    // a second move, then the first one delivered again late: the alert keeps the newer level
    const newerTp = price * 0.989;
    await publish({ ...tpMove, eventId: `${groupId}:tp:dash:a1b`, ts: T0 + 3 * MIN + 30_000, from: newTp, to: newerTp, commandId: 'dash:a1b' });
    expect(h.server.ok('editMessageCaption')).toHaveLength(3);
    await publish(tpMove);
    expect(h.server.ok('editMessageCaption')).toHaveLength(3);

    const newSl = price * 1.001;
    await publish({ ...base, type: 'stop_loss_moved', eventId: `${groupId}:sl:dash:a2`, ts: T0 + 4 * MIN, from: signal.stopLoss, to: newSl, commandId: 'dash:a2' });
    expect(h.server.ok('editMessageCaption')).toHaveLength(4);
    const caption = h.server.message(OWNER, alertMsg.messageId)!.caption!;
    expect(caption).toContain(`SL <code>${fmtPrice(newSl)}</code>`);
    expect(caption).toContain(`TP <code>${fmtPrice(newerTp)}</code>`);

    // A second DCA-style fill after the moves still edits (its rank is above theirs).
    await publish({ ...base, type: 'entry_filled', eventId: `fill2:${groupId}`, ts: T0 + 5 * MIN, orderId: `${groupId}:e1`, price, qty: 2, fee: 0.1, avgEntry: price, filledQty: 12 });
    expect(h.server.ok('editMessageCaption')).toHaveLength(5);
    expect(h.server.message(OWNER, alertMsg.messageId)!.caption).toContain('qty 12');
    expect(h.server.message(OWNER, alertMsg.messageId)!.caption).toContain(`TP <code>${fmtPrice(newerTp)}</code>`);

    // Closed: a late move edits nothing.
    const exitTime = T0 + 20 * MIN;
    const pnl = (price - newTp) * 12 - 1;
    const trade = {
      groupId, signalId: signal.signalId, strategy: 'v52_divergence', engine: 'SCALP', symbol: 'SOLUSDT', tier: 'mid_cap', direction: 'SHORT',
      entryTime: T0 + 2 * MIN, exitTime, avgEntry: price, exitPrice: newTp, qty: 12, fees: 1, pnl, pnlPct: (pnl / (price * 12)) * 100, exitReason: 'take_profit', rows: [],
    };
    await publish({ ...base, type: 'position_closed', eventId: `closed:${groupId}`, ts: exitTime, trade });
    const editsAfterClose = h.server.ok('editMessageCaption').length + h.server.ok('editMessageMedia').length;
    await publish({ ...base, type: 'take_profit_moved', eventId: `${groupId}:tp:dash:a3`, ts: exitTime + MIN, from: newTp, to: price * 0.98, commandId: 'dash:a3' });
    expect(h.server.ok('editMessageCaption').length + h.server.ok('editMessageMedia').length).toBe(editsAfterClose);
    expect(h.server.message(OWNER, alertMsg.messageId)!.caption).toContain('<b>WIN</b>');
  });
});
