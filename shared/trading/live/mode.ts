/**
 * The trading mode switch (SPEC 5, SPEC 9): `paper` (the default) or `live`. Stored in the state doc
 * `trading/mode`; a missing doc means paper. Only the owner may change it (the caller establishes the
 * actor: issue 5's Telegram allow-list; a member is refused and nothing changes).
 *
 * Every change is one transaction that writes the new mode and a change record
 * `trading/mode/changes/{seq}` (before / after / time / actor), and returns ONE alert (deterministic
 * `alertId`) for the caller to publish on `system-alerts`. Setting the mode it already has changes
 * nothing and raises no alert, so a redelivered owner command is harmless.
 */
import { z } from 'zod';
import type { DocData, StateStore } from '../../ports/state.js';
import type { FillSource } from '../model.js';
import { modeChangePath, TRADING_MODE_DOC } from '../../state-paths.js';
import type { Alert } from '../../messages.js';

const TRADING_MODES = ['paper', 'live'] as const;
export type TradingMode = (typeof TRADING_MODES)[number];
const DEFAULT_TRADING_MODE: TradingMode = 'paper';

type Actor = 'owner' | 'member';

interface TradingModeDoc {
  mode: TradingMode;
  /** Number of changes so far (the id of the last change record). */
  seq: number;
  updatedAt: number;
  updatedBy: string;
}

interface TradingModeChange {
  seq: number;
  before: TradingMode;
  after: TradingMode;
  at: number;
  actor: Actor;
  actorId: string;
  reason: string;
  alertId: string;
}

const modeDocSchema = z.object({
  mode: z.enum(TRADING_MODES),
  seq: z.number().int().min(0),
  updatedAt: z.number(),
  updatedBy: z.string(),
});

const modeRequestSchema = z.object({
  actor: z.enum(['owner', 'member']),
  /** Who asked (Telegram user id), for the record. */
  actorId: z.string().min(1).default('unknown'),
  mode: z.enum(TRADING_MODES),
  reason: z.string().default(''),
});
type ModeRequest = z.input<typeof modeRequestSchema>;

type ModeChangeResult =
  | { ok: false; refused: 'not_owner'; message: string; mode: TradingMode }
  | { ok: true; changed: false; mode: TradingMode }
  | { ok: true; changed: true; mode: TradingMode; change: TradingModeChange; alert: Alert };

/** Validates a stored `trading/mode` document (undefined when absent; throws on a malformed one). */
export function parseModeDoc(raw: unknown): TradingModeDoc | undefined {
  if (raw === undefined) return undefined;
  const r = modeDocSchema.safeParse(raw);
  if (!r.success) throw new Error(`${TRADING_MODE_DOC} is malformed: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return r.data;
}

/** The mode a stored `trading/mode` document (or its absence) means. */
export function modeOfDoc(raw: unknown): TradingMode {
  return parseModeDoc(raw)?.mode ?? DEFAULT_TRADING_MODE;
}

/** The trading core's fill source of new groups in a mode: live trades are filled by the exchange. */
export function fillSourceOfMode(mode: TradingMode): FillSource {
  return mode === 'live' ? 'external' : 'simulated';
}

/** The current mode; paper when nothing is stored. */
export async function getTradingMode(store: StateStore): Promise<TradingMode> {
  const doc = parseModeDoc(await store.get(TRADING_MODE_DOC));
  return doc?.mode ?? DEFAULT_TRADING_MODE;
}

/** Owner-only mode change: refuses members, records every change, returns one alert per change. */
export async function setTradingMode(store: StateStore, request: ModeRequest, now: number): Promise<ModeChangeResult> {
  const req = modeRequestSchema.parse(request);
  if (req.actor !== 'owner') {
    return { ok: false, refused: 'not_owner', message: 'only the owner can switch between paper and live trading', mode: await getTradingMode(store) };
  }
  return store.runTransaction(async (tx) => {
    const doc = parseModeDoc(await tx.get(TRADING_MODE_DOC));
    const before = doc?.mode ?? DEFAULT_TRADING_MODE;
    if (before === req.mode) return { ok: true, changed: false, mode: before } as const;
    const seq = (doc?.seq ?? 0) + 1;
    const alertId = `trading-mode:${seq}`;
    const change: TradingModeChange = { seq, before, after: req.mode, at: now, actor: req.actor, actorId: req.actorId, reason: req.reason, alertId };
    const next: TradingModeDoc = { mode: req.mode, seq, updatedAt: now, updatedBy: req.actorId };
    tx.set(TRADING_MODE_DOC, next as unknown as DocData);
    tx.set(modeChangePath(seq), change as unknown as DocData);
    const alert: Alert = {
      alertId,
      kind: 'trading_mode_changed',
      severity: req.mode === 'live' ? 'warning' : 'info',
      subject: TRADING_MODE_DOC,
      message: req.mode === 'live' ? 'Trading switched to LIVE: new signals place real limit orders on Bybit' : 'Trading switched to PAPER: no new live orders (open live orders are still managed)',
      ts: now,
      details: { before, after: req.mode, actorId: req.actorId, reason: req.reason, seq },
    };
    return { ok: true, changed: true, mode: req.mode, change, alert } as const;
  });
}
