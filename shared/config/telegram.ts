/**
 * Telegram config (SPEC 9): the document `config/telegram`, validated with zod; every number here is a
 * default the owner may edit. The owner's Telegram user id comes from `CST_TELEGRAM_OWNER_ID`
 * (environment / function config) or, when unset, from `ownerUserId` in the document.
 *
 * Like every config document it is read through ConfigService (`ConfigSource.telegram()`, registered in
 * shared/config/documents.ts): validated strictly, merged over the last valid version (a partial edit
 * changes only what it names), re-read within `configReloadMs`, recorded in the change log, alerted
 * once when rejected. A bad edit never drops the owner id: the last valid config stays in force.
 * Every number is bounded; the rate limits cannot be set above Telegram's own limits.
 */
import { z } from 'zod';
import { isTimeZone } from './system.js';

const OWNER_ENV_VAR = 'CST_TELEGRAM_OWNER_ID';
const DASHBOARD_URL_ENV_VAR = 'CST_DASHBOARD_URL';
const HOUR_MS = 60 * 60_000;
const DAY_MS = 24 * HOUR_MS;
const timeZone = z.string().min(1).refine(isTimeZone, 'not a known IANA time zone (e.g. America/Los_Angeles)');

export const telegramConfigSchema = z.strictObject({
  /** Owner's Telegram user id (the env var wins when set). */
  ownerUserId: z.number().int().positive().max(2 ** 52).nullable(),
  /** Trading account whose positions and equity the bot shows. */
  accountId: z.string().min(1).max(100),
  access: z.strictObject({
    /** An invite code expires this long after /invite. */
    inviteTtlMs: z.number().int().min(60_000).max(30 * DAY_MS),
    /** Wrong /verify attempts per user before a lock-out. */
    maxVerifyAttempts: z.number().int().min(1).max(20),
    lockoutMs: z.number().int().min(60_000).max(365 * DAY_MS),
  }),
  /** Telegram's limits (SPEC 9): about 1 msg/s per chat, 20/min per group, about 30/s overall. */
  limits: z.strictObject({
    perChatIntervalMs: z.number().int().min(1_000).max(60_000),
    perGroupMax: z.number().int().positive().max(20),
    perGroupWindowMs: z.number().int().min(60_000).max(HOUR_MS),
    globalMax: z.number().int().positive().max(30),
    globalWindowMs: z.number().int().min(1_000).max(60_000),
  }),
  outbox: z.strictObject({
    /** Send attempts (other than 429 waits) before a message is marked failed. */
    maxAttempts: z.number().int().min(1).max(100),
    /** A claimed message whose sender died is re-sent after this lease. */
    leaseMs: z.number().int().min(5_000).max(15 * 60_000),
    /** One drain run stops after this long and hands the rest to the next run. */
    maxDrainMs: z.number().int().min(1_000).max(9 * 60_000),
    /** With more than this many messages queued, photos are shrunk to `shrinkMaxWidth`. */
    shrinkQueueLength: z.number().int().positive().max(10_000),
    shrinkMaxWidth: z.number().int().min(100).max(2_560),
    retryBackoffMs: z.number().int().min(100).max(10 * 60_000),
    /** Pending messages read per page of the queue. */
    scanLimit: z.number().int().min(10).max(500),
    /** Pages of the queue looked at per scheduling step (a backlogged chat does not hide the others). */
    scanPages: z.number().int().min(1).max(50),
  }),
  alerts: z.strictObject({
    /**
     * The owner's choice of signal alerts: false (default) = each signal's alert says what happened to
     * it (opened as a trade and edited as it fills and exits, or NOT TAKEN with the reason); true =
     * "signal only": the signal's plan (entries, SL, TP, chart) without trade wording, whatever the
     * paper book did. One alert per signal either way.
     */
    signalOnly: z.boolean(),
    /** Signal alerts wait this long so the siblings of one cycle can go out as one album. */
    gatherMs: z.number().int().nonnegative().max(60_000),
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
    ownerOnlyKinds: z.array(z.string().min(1)).max(100),
    /** Move-TP button steps, % of the entry price. */
    moveTpStepsPct: z.array(z.number().finite().min(-20).max(20)).min(1).max(6),
    muteDefaultMs: z.number().int().min(60_000).max(30 * DAY_MS),
  }),
  lists: z.strictObject({
    pageSize: z.number().int().min(1).max(20),
    defaultLast: z.number().int().min(1).max(10),
    maxLast: z.number().int().min(1).max(10),
  }),
  reports: z.strictObject({
    timeZone,
    /** Best and worst trades listed. */
    bestWorst: z.number().int().min(1).max(10),
  }),
  /** Days an update-id marker / sent outbox entry is kept (retention cleanup). */
  markerRetentionMs: z.number().int().min(DAY_MS).max(365 * DAY_MS),
  webhook: z.strictObject({
    /** Bodies larger than this are refused (413) before they are parsed; Telegram's updates are a few KB. */
    maxBodyBytes: z.number().int().min(16_384).max(16 * 1_048_576),
    /**
     * An update still marked `processing` after this long was abandoned by a crashed handler: Telegram's
     * retry handles it again. A younger marker answers 503 so Telegram retries later.
     */
    processingTimeoutMs: z.number().int().min(5_000).max(3_600_000),
  }),
  /** The dashboard (Telegram Mini App and the same page via a signed login link; functions/dashboard). */
  dashboard: z.strictObject({
    /**
     * Public https URL of the deployed dashboard page (`https://…/dashboard`), used for the "Dashboard"
     * web_app buttons and the `/dashboard` login links. `CST_DASHBOARD_URL` wins when set; null = no
     * buttons (the local runtime prints its own link).
     */
    publicUrl: z.string().url().refine(isDashboardUrl, 'an https URL (http only for localhost / 127.0.0.1: bearer tokens must not travel in clear text)').nullable(),
    /** Mini App `initData` older than this (its `auth_date`) is refused (401). */
    initDataMaxAgeMs: z.number().int().min(60_000).max(DAY_MS),
    /** A `/dashboard` login link works once, within this long. */
    loginLinkTtlMs: z.number().int().min(60_000).max(HOUR_MS),
    /** A session opened with either lasts this long (then the page asks to re-open it). */
    sessionTtlMs: z.number().int().min(5 * 60_000).max(7 * DAY_MS),
    /** The page re-polls its view this often (ETag: an unchanged view costs a 304). */
    pollMs: z.number().int().min(500).max(60_000),
    /** Closed trades per page. */
    tradesPageSize: z.number().int().min(10).max(500),
    /** The TP slider reaches at most this far from the average entry (SPEC: TP 1-20 %). */
    takeProfitMaxPct: z.number().min(0.1).max(100),
    /** The Market page lists this many of the newest protection alerts. */
    recentAlerts: z.number().int().min(1).max(200).default(20),
    /**
     * A group's mark (the close of the last candle of ITS feed) older than its feed interval plus this
     * is stale: the owner's close and stop move are refused (`no_mark`) rather than priced at an old
     * price after a feed outage (shared/trading/owner-levels.ts groupMark).
     */
    maxMarkAgeMs: z.number().int().min(60_000).max(DAY_MS).default(10 * 60_000),
  }),
}).superRefine((c, ctx) => {
  if (c.alerts.mediaGroupMin > c.alerts.mediaGroupMax) {
    ctx.addIssue({ code: 'custom', path: ['alerts', 'mediaGroupMin'], message: 'mediaGroupMin must be <= mediaGroupMax' });
  }
  if (c.lists.defaultLast > c.lists.maxLast) {
    ctx.addIssue({ code: 'custom', path: ['lists', 'defaultLast'], message: 'defaultLast must be <= maxLast' });
  }
  if (c.alerts.moveTpStepsPct.includes(0)) {
    ctx.addIssue({ code: 'custom', path: ['alerts', 'moveTpStepsPct'], message: 'a move-TP step of 0 % moves nothing' });
  }
});
export type TelegramConfig = z.infer<typeof telegramConfigSchema>;

export const DEFAULT_TELEGRAM_CONFIG: TelegramConfig = {
  ownerUserId: null,
  accountId: 'paper',
  access: { inviteTtlMs: 24 * HOUR_MS, maxVerifyAttempts: 5, lockoutMs: 24 * HOUR_MS },
  limits: { perChatIntervalMs: 1_000, perGroupMax: 20, perGroupWindowMs: 60_000, globalMax: 30, globalWindowMs: 1_000 },
  outbox: { maxAttempts: 8, leaseMs: 60_000, maxDrainMs: 50_000, shrinkQueueLength: 20, shrinkMaxWidth: 480, retryBackoffMs: 2_000, scanLimit: 100, scanPages: 5 },
  alerts: {
    signalOnly: false,
    gatherMs: 3_000,
    mediaGroupMin: 3,
    mediaGroupMax: 10,
    chartCandles: 90,
    resampleBaseCandles: 6_000,
    forumTopics: true,
    ownerOnlyKinds: ['config_applied', 'config_rejected', 'owner_command'],
    moveTpStepsPct: [-0.25, 0.25, 0.5],
    muteDefaultMs: 24 * HOUR_MS,
  },
  lists: { pageSize: 5, defaultLast: 5, maxLast: 10 },
  reports: { timeZone: 'America/Los_Angeles', bestWorst: 3 },
  markerRetentionMs: 7 * 24 * HOUR_MS,
  webhook: { maxBodyBytes: 1_048_576, processingTimeoutMs: 60_000 },
  dashboard: { publicUrl: null, initDataMaxAgeMs: HOUR_MS, loginLinkTtlMs: 10 * 60_000, sessionTtlMs: 12 * HOUR_MS, pollMs: 1_500, tradesPageSize: 50, takeProfitMaxPct: 20, recentAlerts: 20, maxMarkAgeMs: 10 * 60_000 },
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

/** An https URL, or http on the local machine (the embedded default's own page). */
export function isDashboardUrl(raw: string): boolean {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return false;
  }
  if (u.protocol === 'https:') return true;
  return u.protocol === 'http:' && (u.hostname === 'localhost' || u.hostname === '127.0.0.1' || u.hostname === '[::1]');
}

/** The dashboard's public URL: env first, then the document; undefined when neither names one. */
export function dashboardUrlFrom(cfg: TelegramConfig, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const raw = env[DASHBOARD_URL_ENV_VAR];
  if (raw !== undefined && raw !== '') {
    if (!isDashboardUrl(raw)) throw new Error(`${DASHBOARD_URL_ENV_VAR} must be an https URL (http only for localhost / 127.0.0.1), got "${raw}"`);
    return raw.replace(/\/+$/, '');
  }
  return cfg.dashboard.publicUrl?.replace(/\/+$/, '') ?? undefined;
}
