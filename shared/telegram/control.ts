/**
 * The owner's pause / resume of new trades (SPEC 9), for the bot's /pause and /resume and the
 * dashboard's buttons alike: the bot's control document (what /status shows) and the `pause` /
 * `resume` trade command the execution applies, de-duplicated by its command id.
 */
import { TOPICS } from '../topics.js';
import { publish, type TradeCommand } from '../messages.js';
import type { DocData } from '../ports/state.js';
import { TG_CONTROL_DOC } from '../state-paths.js';
import type { ControlDoc, TelegramDeps } from './deps.js';

export interface PauseRequest {
  paused: boolean;
  /** The owner's Telegram user id (the caller checked the role). */
  actorId: number;
  origin: 'telegram' | 'dashboard';
  now: number;
  /** `tg:{update_id}` or `dash:{page id}`: a retry publishes the same command again (the execution applies it once). */
  commandId: string;
}

export async function setPaused(d: Pick<TelegramDeps, 'state' | 'bus'>, req: PauseRequest): Promise<void> {
  await d.state.set(TG_CONTROL_DOC, { paused: req.paused, by: req.actorId, at: req.now } satisfies ControlDoc as unknown as DocData);
  const cmd: TradeCommand = { type: req.paused ? 'pause' : 'resume', commandId: req.commandId, actorId: String(req.actorId), ts: req.now, origin: req.origin };
  await publish(d.bus, TOPICS.tradeCommands, cmd, { attributes: { type: cmd.type, dedupeId: cmd.commandId } });
}
