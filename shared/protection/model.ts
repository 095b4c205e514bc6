/**
 * Market-protection state (SPEC 6) and its change events. The state is plain JSON (persisted with the
 * account by shared/trading/store.ts). Every transition function returns the SAME object when nothing
 * changed and pushes exactly one ProtectionEvent per CHANGE into the caller's `out` array, so an alert is
 * raised once per change, never once per evaluation.
 */
import type { Regime, SwingSetup } from '../config/strategy.js';

export const DAY_MS = 24 * 60 * 60_000;

export type ProtectionEventKind =
  | 'regime_changed'
  | 'strategy_disabled'
  | 'strategy_enabled'
  | 'cooldown_started'
  | 'cooldown_ended'
  | 'limiter_reset'
  | 'daily_loss_halt'
  | 'daily_halt_cleared'
  | 'daily_drawdown_alert'
  | 'loss_streak_pause'
  | 'trading_resumed'
  | 'owner_paused'
  | 'bias_filter_engaged'
  | 'bias_filter_released'
  | 'regime_reference_lost'
  | 'regime_reference_restored';

export interface ProtectionEvent {
  type: 'protection';
  kind: ProtectionEventKind;
  /** Deterministic: `${kind}:${subject}:${ts}`. */
  eventId: string;
  ts: number;
  /** Symbol, `setup:symbol`, or `account`/`market`. */
  subject: string;
  severity: 'info' | 'warning' | 'critical';
  message: string;
  details: Record<string, number | string | boolean | null>;
}

export interface RegimeInputs {
  /** Close-to-close change over the window, % (negative = drop); NaN when the history is too short. */
  change1hPct: number;
  change4hPct: number;
  change24hPct: number;
  change48hPct: number;
}

export interface LimiterEntry {
  consecutiveStops: number;
  /** End of the active cooldown, or null. */
  cooldownUntil: number | null;
}

interface GuardState {
  /** Start (UTC midnight) of the current trading day. */
  dayStart: number;
  dayStartEquity: number;
  dayPeakEquity: number;
  dailyHalted: boolean;
  drawdownAlerted: boolean;
  consecutiveLosses: number;
  /** End of the loss-streak pause, or null. */
  pausedUntil: number | null;
}

interface RegimeState {
  /** The regime in force (held: see shared/protection/regime.ts stepRegime). */
  current: Regime;
  /** When `current` began. */
  since: number;
  /**
   * Since when every classification has been calmer than `current` (the de-escalation candidate),
   * or null / absent (state stored before the hold existed) when the last one was not calmer.
   */
  calmSince?: number | null;
}

/** Why the regime reference blocks new entries: never seen, or its last candle is too old. */
export type ReferenceStatus = 'ok' | 'missing' | 'stale';

export interface ReferenceState {
  /** Close time of the last reference-symbol candle applied, or null (none yet). */
  lastAt: number | null;
  status: ReferenceStatus;
  /** When `status` began. */
  since: number;
  /** The one `regime_reference_lost` alert of this outage was raised. */
  alerted: boolean;
}

export interface ProtectionState {
  regime: RegimeState;
  /**
   * Regime reference symbol (BTC) freshness; absent in state stored before it existed (read as
   * missing since the first evaluation).
   */
  reference?: ReferenceState;
  /** Disabled swing setups by 24h volatility: setup -> symbol -> disabled since. Absent = enabled. */
  volDisabled: Partial<Record<SwingSetup, Record<string, number>>>;
  /** Trade limiter per symbol (absent = no stops counted, no cooldown). */
  limiter: Record<string, LimiterEntry>;
  /** Earliest active cooldown end (fast-path check), or null. */
  nextCooldownEnd: number | null;
  guards: GuardState;
}

export function utcDayStart(ts: number): number {
  return Math.floor(ts / DAY_MS) * DAY_MS;
}

export function createProtectionState(now: number, equity: number): ProtectionState {
  return {
    regime: { current: 'NORMAL', since: now, calmSince: null },
    reference: { lastAt: null, status: 'missing', since: now, alerted: false },
    volDisabled: {},
    limiter: {},
    nextCooldownEnd: null,
    guards: {
      dayStart: utcDayStart(now),
      dayStartEquity: equity,
      dayPeakEquity: equity,
      dailyHalted: false,
      drawdownAlerted: false,
      consecutiveLosses: 0,
      pausedUntil: null,
    },
  };
}

export function protectionEvent(
  kind: ProtectionEventKind,
  subject: string,
  ts: number,
  severity: ProtectionEvent['severity'],
  message: string,
  details: ProtectionEvent['details'] = {},
): ProtectionEvent {
  return { type: 'protection', kind, eventId: `${kind}:${subject}:${ts}`, ts, subject, severity, message, details };
}

