/**
 * Telegram config (SPEC 9): the document `config/telegram`, validated with zod; every number here is a
 * default the owner may edit. The owner's Telegram user id comes from `CST_TELEGRAM_OWNER_ID`
 * (environment / function config) or, when unset, from `ownerUserId` in the document.
 *
 * This document is read by `loadTelegramConfig`: fields missing from it take the defaults; an invalid
 * document is logged at ERROR and the defaults apply. To put it under ConfigService's change log and
 * alerting, register it in shared/config/documents.ts (see the report).
 */
import { z } from 'zod';
import type { StateStore } from '../ports/state.js';
import type { Logger } from '../log.js';

export const TELEGRAM_CONFIG_PATH = 'config/telegram';
export const OWNER_ENV_VAR = 'CST_TELEGRAM_OWNER_ID';

const ms = z.number().int().positive();
const HOUR_MS = 60 * 60_000;

export const telegramConfigSchema = z.object({
  /** Owner's Telegram user id (the env var wins when set). */
  ownerUserId: z.number().int().positive().nullable(),
  /** Trading account whose positions and equity the bot shows. */
  accountId: z.string().min(1),
  access: z.object({
    /** An invite code expires this long after /invite. */
    inviteTtlMs: ms,
    /** Wrong /verify attempts per user before a lock-out. */
    maxVerifyAttempts: z.number().int().min(1).max(20),
    lockoutMs: ms,
  }),
  /** Telegram's limits (SPEC 9): about 1 msg/s per chat, 20/min per group, about 30/s overall. */
  limits: z.object({
    perChatIntervalMs: ms,
    perGroupMax: z.number().int().positive(),
    perGroupWindowMs: ms,
    globalMax: z.number().int().positive(),
    globalWindowMs: ms,
  }),
  outbox: z.object({
    /** Send attempts (other than 429 waits) before a message is marked failed. */
    maxAttempts: z.number().int().min(1),
    /** A claimed message whose sender died is re-sent after this lease. */
    leaseMs: ms,
    /** One drain run stops after this long and hands the rest to the next run. */
    maxDrainMs: ms,
    /** With more than this many messages queued, photos are shrunk to `shrinkMaxWidth`. */
    shrinkQueueLength: z.number().int().positive(),
    shrinkMaxWidth: z.number().int().min(100),
    retryBackoffMs: ms,
    /** Pending messages read per page of the queue. */
    scanLimit: z.number().int().min(10).max(500),
    /** Pages of the queue looked at per scheduling step (a backlogged chat does not hide the others). */
    scanPages: z.number().int().min(1).max(50),
  }),
  alerts: z.object({
    /** Signal alerts wait this long so the siblings of one cycle can go out as one album. */
    gatherMs: z.number().int().nonnegative(),
    /** This many signals of one cycle or more go as a media group... */
    mediaGroupMin: z.number().int().min(2).max(10),
    /** ...of at most this many photos per album (Bot API: 10). */
    mediaGroupMax: z.number().int().min(2).max(10),
    chartCandles: z.number().int().min(10).max(500),
    /** At most this many 1m candles are read to resample a series that is not stored (/analyze, chart levels). */
    resampleBaseCandles: z.number().int().min(60).max(50_000),
    /** One forum topic per symbol when a group is a forum. */
    forumTopics: z.boolean(),
    /** System-alert kinds sent to the owner only (everything else goes to every allowed chat). */
    ownerOnlyKinds: z.array(z.string()),
    /** Move-TP button steps, % of the entry price. */
    moveTpStepsPct: z.array(z.number().finite()).min(1).max(6),
    muteDefaultMs: ms,
  }),
  lists: z.object({
    pageSize: z.number().int().min(1).max(20),
    defaultLast: z.number().int().min(1).max(10),
    maxLast: z.number().int().min(1).max(10),
  }),
  reports: z.object({
    timeZone: z.string().min(1),
    /** Best and worst trades listed. */
    bestWorst: z.number().int().min(1).max(10),
  }),
  /** Days an update-id marker / sent outbox entry is kept (retention cleanup). */
  markerRetentionMs: ms,
  webhook: z.object({
    /** Bodies larger than this are refused (413) before they are parsed; Telegram's updates are a few KB. */
    maxBodyBytes: z.number().int().min(16_384).max(16 * 1_048_576),
    /**
     * An update still marked `processing` after this long was abandoned by a crashed handler: Telegram's
     * retry handles it again. A younger marker answers 503 so Telegram retries later.
     */
    processingTimeoutMs: z.number().int().min(5_000).max(3_600_000),
  }),
});
export type TelegramConfig = z.infer<typeof telegramConfigSchema>;

export const DEFAULT_TELEGRAM_CONFIG: TelegramConfig = {
  ownerUserId: null,
  accountId: 'paper',
  access: { inviteTtlMs: 24 * HOUR_MS, maxVerifyAttempts: 5, lockoutMs: 24 * HOUR_MS },
  limits: { perChatIntervalMs: 1_000, perGroupMax: 20, perGroupWindowMs: 60_000, globalMax: 30, globalWindowMs: 1_000 },
  outbox: { maxAttempts: 8, leaseMs: 60_000, maxDrainMs: 50_000, shrinkQueueLength: 20, shrinkMaxWidth: 480, retryBackoffMs: 2_000, scanLimit: 100, scanPages: 5 },
  alerts: {
    gatherMs: 3_000,
    mediaGroupMin: 3,
    mediaGroupMax: 10,
    chartCandles: 90,
    resampleBaseCandles: 6_000,
    forumTopics: true,
    ownerOnlyKinds: ['config_applied', 'config_rejected'],
    moveTpStepsPct: [-0.25, 0.25, 0.5],
    muteDefaultMs: 24 * HOUR_MS,
  },
  lists: { pageSize: 5, defaultLast: 5, maxLast: 10 },
  reports: { timeZone: 'America/Los_Angeles', bestWorst: 3 },
  markerRetentionMs: 7 * 24 * HOUR_MS,
  webhook: { maxBodyBytes: 1_048_576, processingTimeoutMs: 60_000 },
};

/** The owner id: env first, then the document; undefined when neither names one. */
export function ownerIdFrom(cfg: TelegramConfig, env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env[OWNER_ENV_VAR];
  if (raw !== undefined && raw !== '') {
    const n = Number(raw);
    if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${OWNER_ENV_VAR} must be a Telegram user id (a positive integer), got "${raw}"`);
    return n;
  }
  return cfg.ownerUserId ?? undefined;
}

/** Reads and validates `config/telegram`; a missing document means the defaults, an invalid one is logged and the defaults apply. */
export async function loadTelegramConfig(state: StateStore, log?: Logger): Promise<TelegramConfig> {
  const raw = await state.get(TELEGRAM_CONFIG_PATH);
  if (raw === undefined) return DEFAULT_TELEGRAM_CONFIG;
  const merged = { ...DEFAULT_TELEGRAM_CONFIG, ...(raw as Record<string, unknown>) };
  const parsed = telegramConfigSchema.safeParse(merged);
  if (parsed.success) return parsed.data;
  log?.error('config "telegram" is invalid; using the defaults', {
    errors: parsed.error.issues.slice(0, 8).map((i) => `${i.path.join('.')}: ${i.message}`),
  });
  return DEFAULT_TELEGRAM_CONFIG;
}
