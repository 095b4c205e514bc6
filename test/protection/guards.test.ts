/** Account guards (shared/protection/guards.ts): daily loss halt, drawdown alert, loss-streak pause. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_PROTECTIONS_CONFIG } from '../../shared/config/strategy.js';
import { checkEquity, guardBlock, LOSS_STREAK_PAUSE_MS, recordTradeResult, resumeTrading, tickGuards } from '../../shared/protection/guards.js';
import { createProtectionState, DAY_MS, type ProtectionEvent } from '../../shared/protection/model.js';
import { protectionAlert } from '../../shared/alerts.js';
import { alertSchema } from '../../shared/messages.js';

const cfg = DEFAULT_PROTECTIONS_CONFIG.accountGuards;
const D0 = Date.UTC(2025, 5, 11);

describe('account guards', () => {
  it('alerts once at a 3 % drawdown from the day peak and halts at -10 % for the day', () => {
    const out: ProtectionEvent[] = [];
    let s = createProtectionState(D0 + 1000, 10_000);
    s = checkEquity(s, 10_500, D0 + 2000, cfg, out); // new peak
    s = checkEquity(s, 10_186, D0 + 3000, cfg, out); // 2.99 % below 10,500
    expect(out).toEqual([]);
    s = checkEquity(s, 10_185, D0 + 4000, cfg, out); // 3.0 % below the peak
    s = checkEquity(s, 10_000, D0 + 5000, cfg, out);
    expect(out.map((e) => e.kind)).toEqual(['daily_drawdown_alert']);
    s = checkEquity(s, 9_001, D0 + 6000, cfg, out);
    expect(guardBlock(s, D0 + 6000)).toBeNull();
    s = checkEquity(s, 9_000, D0 + 7000, cfg, out); // -10 % of the 10,000 day start
    expect(guardBlock(s, D0 + 7000)).toBe('daily_loss_halt');
    s = checkEquity(s, 8_500, D0 + 8000, cfg, out);
    expect(out.map((e) => e.kind)).toEqual(['daily_drawdown_alert', 'daily_loss_halt']);
    // next UTC day: cleared once, new day start = current equity
    const next = tickGuards(s, D0 + DAY_MS, () => 8_500, out);
    expect(guardBlock(next, D0 + DAY_MS)).toBeNull();
    expect(next.guards).toMatchObject({ dayStart: D0 + DAY_MS, dayStartEquity: 8_500, drawdownAlerted: false });
    expect(tickGuards(next, D0 + DAY_MS + 1, () => 0, out)).toBe(next);
    expect(out.map((e) => e.kind)).toEqual(['daily_drawdown_alert', 'daily_loss_halt', 'daily_halt_cleared']);
    expect(out.map((e) => alertSchema.parse(protectionAlert(e)).kind)).toEqual(['protection_changed', 'protection_changed', 'protection_changed']);
  });

  it('pauses after 5 consecutive losses; a win resets the streak; the pause ends by time or by the owner', () => {
    const out: ProtectionEvent[] = [];
    let s = createProtectionState(D0, 10_000);
    for (const pnl of [-1, -1, -1, -1, 2, -1, -1, -1, -1]) s = recordTradeResult(s, pnl, D0 + 10, cfg, out);
    expect(s.guards.consecutiveLosses).toBe(4);
    expect(recordTradeResult(s, 0, D0 + 10, cfg, out)).toBe(s); // break-even leaves it
    s = recordTradeResult(s, -1, D0 + 20, cfg, out);
    expect(guardBlock(s, D0 + 20)).toBe('loss_streak_pause');
    expect(s.guards.pausedUntil).toBe(D0 + 20 + LOSS_STREAK_PAUSE_MS);
    expect(out.map((e) => e.kind)).toEqual(['loss_streak_pause']);
    const byOwner = resumeTrading(s, D0 + 30, out);
    expect(guardBlock(byOwner, D0 + 30)).toBeNull();
    expect(resumeTrading(byOwner, D0 + 31, out)).toBe(byOwner);
    const byTime = tickGuards(s, D0 + 20 + LOSS_STREAK_PAUSE_MS, () => 10_000, out);
    expect(byTime.guards.pausedUntil).toBeNull();
    expect(out.map((e) => e.kind)).toEqual(['loss_streak_pause', 'trading_resumed', 'trading_resumed']);
  });
});
