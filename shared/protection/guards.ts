/**
 * Account guards (SPEC 6), per UTC day:
 * - daily loss halt: no new trades once marked equity <= day-start equity x (1 - dailyLossHaltPct);
 *   cleared at the next UTC day (or by the owner's resume);
 * - daily drawdown alert: once per day when marked equity falls dailyDrawdownAlertPct below the day's
 *   peak;
 * - loss streak: `maxConsecutiveLosses` losing trades in a row pause new trades for LOSS_STREAK_PAUSE_MS
 *   (or until the owner resumes); a winning trade resets the streak, a break-even one leaves it.
 */
import type { ProtectionsConfig } from '../config/strategy.js';
import { DAY_MS, protectionEvent, utcDayStart, type ProtectionEvent, type ProtectionState } from './model.js';

/** Proposed config field: `protections.accountGuards.lossStreakPauseMs`. */
export const LOSS_STREAK_PAUSE_MS = DAY_MS;
const PCT = 100;

type GuardBlock = 'daily_loss_halt' | 'loss_streak_pause';

/** Why new trades are blocked at `now`, or null. */
export function guardBlock(s: ProtectionState, now: number): GuardBlock | null {
  if (s.guards.dailyHalted && now < s.guards.dayStart + DAY_MS) return 'daily_loss_halt';
  if (s.guards.pausedUntil !== null && now < s.guards.pausedUntil) return 'loss_streak_pause';
  return null;
}

/** Day rollover and pause expiry (cheap when nothing is due). */
export function tickGuards(s: ProtectionState, now: number, equity: () => number, out: ProtectionEvent[]): ProtectionState {
  let r = s;
  const g = s.guards;
  if (now >= g.dayStart + DAY_MS) {
    const e = equity();
    if (g.dailyHalted) out.push(protectionEvent('daily_halt_cleared', 'account', now, 'info', 'New trading day: daily loss halt cleared', { equity: e }));
    r = { ...r, guards: { ...r.guards, dayStart: utcDayStart(now), dayStartEquity: e, dayPeakEquity: e, dailyHalted: false, drawdownAlerted: false } };
  }
  if (r.guards.pausedUntil !== null && now >= r.guards.pausedUntil) {
    out.push(protectionEvent('trading_resumed', 'account', now, 'info', 'Loss-streak pause over: new trades allowed again', { reason: 'pause_expired' }));
    r = { ...r, guards: { ...r.guards, pausedUntil: null } };
  }
  return r;
}

/** The daily drawdown % (below the day's peak, `equity` included in it): what the drawdown alert compares. */
export function dailyDrawdownPct(guards: Pick<ProtectionState['guards'], 'dayPeakEquity'>, equity: number): number {
  const peak = Math.max(guards.dayPeakEquity, equity);
  return ((peak - equity) / peak) * PCT;
}

/** Evaluates marked equity against the day start and the day's peak. */
export function checkEquity(s: ProtectionState, equity: number, now: number, cfg: ProtectionsConfig['accountGuards'], out: ProtectionEvent[]): ProtectionState {
  const g = s.guards;
  const peak = Math.max(g.dayPeakEquity, equity);
  const lossPct = ((g.dayStartEquity - equity) / g.dayStartEquity) * PCT;
  const ddPct = dailyDrawdownPct(g, equity);
  const halt = !g.dailyHalted && lossPct >= cfg.dailyLossHaltPct;
  const alert = !g.drawdownAlerted && ddPct >= cfg.dailyDrawdownAlertPct;
  if (peak === g.dayPeakEquity && !halt && !alert) return s;
  if (alert) {
    out.push(
      protectionEvent('daily_drawdown_alert', 'account', now, 'warning', `Daily drawdown ${ddPct.toFixed(2)} % (alert level ${cfg.dailyDrawdownAlertPct} %)`, {
        drawdownPct: ddPct,
        equity,
        peakEquity: peak,
      }),
    );
  }
  if (halt) {
    out.push(
      protectionEvent('daily_loss_halt', 'account', now, 'critical', `Daily loss ${lossPct.toFixed(2)} % >= ${cfg.dailyLossHaltPct} %: no new trades today`, {
        lossPct,
        equity,
        dayStartEquity: g.dayStartEquity,
      }),
    );
  }
  return { ...s, guards: { ...g, dayPeakEquity: peak, dailyHalted: g.dailyHalted || halt, drawdownAlerted: g.drawdownAlerted || alert } };
}

/** Loss streak bookkeeping for one closed trade. */
export function recordTradeResult(s: ProtectionState, pnl: number, now: number, cfg: ProtectionsConfig['accountGuards'], out: ProtectionEvent[]): ProtectionState {
  const g = s.guards;
  if (pnl > 0) return g.consecutiveLosses === 0 ? s : { ...s, guards: { ...g, consecutiveLosses: 0 } };
  if (!(pnl < 0)) return s;
  const n = g.consecutiveLosses + 1;
  if (n < cfg.maxConsecutiveLosses) return { ...s, guards: { ...g, consecutiveLosses: n } };
  const until = now + LOSS_STREAK_PAUSE_MS;
  out.push(
    protectionEvent('loss_streak_pause', 'account', now, 'critical', `${n} consecutive losses: new trades paused until ${new Date(until).toISOString()}`, {
      losses: n,
      pausedUntil: until,
    }),
  );
  return { ...s, guards: { ...g, consecutiveLosses: 0, pausedUntil: until } };
}

/** Owner's resume: clears the loss-streak pause and today's loss halt. */
export function resumeTrading(s: ProtectionState, now: number, out: ProtectionEvent[]): ProtectionState {
  const g = s.guards;
  if (g.pausedUntil === null && !g.dailyHalted) return s;
  out.push(protectionEvent('trading_resumed', 'account', now, 'info', 'Owner resumed trading', { reason: 'owner' }));
  return { ...s, guards: { ...g, pausedUntil: null, dailyHalted: false, consecutiveLosses: 0 } };
}
