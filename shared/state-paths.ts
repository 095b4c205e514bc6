/**
 * The state-paths catalog: every document and collection the state store holds, in one list (as
 * shared/topics.ts is for bus topics and shared/warehouse-schema.ts `TABLES` for warehouse tables).
 * Nothing outside this module builds a state path from a literal; a module that reads or writes state
 * takes its path from here (test/state/state-paths.test.ts checks both the paths and that rule).
 *
 * Paths follow Firestore's model: a collection path has an odd number of segments, a document path an
 * even number. Every id that comes from data (a symbol, a signal id, a message key) goes through
 * `safeId`, so it can never add a segment. Each entry says what the document holds and who writes it.
 *
 * The layout is the stored data's: renaming a path here moves (or loses) documents in every deployed
 * store, so paths change only with a migration.
 */
import { safeId } from './ports/state.js';
import type { Candle, Interval, Venue } from './model/market.js';

// ---------- market data ----------

/** Id of one candle series, `{venue}:{symbol}:{interval}` (the hot window and the candle gate key on it). */
function seriesId(venue: Venue, symbol: string, interval: Interval): string {
  return safeId(`${venue}:${symbol}:${interval}`);
}

/**
 * The hot window of one series: one document per closed candle, id = open time. Written by
 * candle-ingest (shared/market/ingest.ts) and the Kraken pull / OHLCVT import; read by the engines,
 * the candle cache, charts and freshness; pruned by retention.
 */
export function barsCollection(venue: Venue, symbol: string, interval: Interval): string {
  return `candles/${seriesId(venue, symbol, interval)}/bars`;
}

/** One hot-window candle (see `barsCollection`). */
export function candlePath(c: Pick<Candle, 'venue' | 'symbol' | 'interval' | 'openTime'>): string {
  return `${barsCollection(c.venue, c.symbol, c.interval)}/${c.openTime}`;
}

/**
 * The candle gate's state of one series: the sanity band and the recorded verdicts of recent candles.
 * Written in a transaction by every candle consumer's gate (shared/market/candle-gate.ts).
 */
export function gateDocPath(c: Pick<Candle, 'venue' | 'symbol' | 'interval'>): string {
  return `gate/${seriesId(c.venue, c.symbol, c.interval)}`;
}

/** Kraken pull cursors (one per pair and interval). */
export const KRAKEN_CURSORS_COLLECTION = 'cursors';

/** The Kraken pull's cursor of one pair and interval (last stored candle, gaps); written by kraken-pull. */
export function krakenCursorPath(pair: string, interval: Interval): string {
  return `${KRAKEN_CURSORS_COLLECTION}/${safeId(`kraken:${pair}:${interval}`)}`;
}

/**
 * The Bybit holder's publish cursor of one symbol (open time and close of the last published 1m
 * candle); written by the holder's candle publisher (shared/market/bybit/candle-publisher.ts).
 * Collection `holder`, document `bybit`, sub-collection `cursors`.
 */
export function holderCursorPath(symbol: string): string {
  return `holder/bybit/cursors/${safeId(symbol)}`;
}

/** Data-freshness status per symbol. */
export const HEALTH_COLLECTION = 'health';

/** One symbol's freshness status (fresh / stale, since when); written by the health check (shared/health/freshness.ts). */
export function healthPath(symbol: string): string {
  return `${HEALTH_COLLECTION}/${safeId(symbol)}`;
}

// ---------- macro ----------

/** Macro bias per symbol. */
export const BIAS_COLLECTION = 'bias';

/** One symbol's macro bias (`StoredBias`); written by macro-analysis, read by execution and the bot. */
export function biasPath(symbol: string): string {
  return `${BIAS_COLLECTION}/${safeId(symbol)}`;
}

/** Markers of the swing signals macro-analysis published (idempotency; pruned by retention). */
export const SWING_PUBLISHED_COLLECTION = 'macro_swing_published';

/** One published swing signal's marker; written by macro-analysis after the publish. */
export function swingPublishedPath(signalId: string): string {
  return `${SWING_PUBLISHED_COLLECTION}/${safeId(signalId)}`;
}

// ---------- trading ----------

/**
 * One trading account's document (`TradingDoc`: the core's state, schema version); written in
 * transactions by the TradingStore (execution). The account id `mode` is taken by `TRADING_MODE_DOC`.
 */
export function tradingDocPath(accountId: string): string {
  return `trading/${safeId(accountId)}`;
}

/** An account's applied-signal markers (pruned by retention). */
export function signalMarkersCollection(accountId: string): string {
  return `${tradingDocPath(accountId)}/applied`;
}

/** Marker of one signal applied to the account (decision and events); written by the TradingStore with the account. */
export function signalMarkerPath(accountId: string, signalId: string): string {
  return `${signalMarkersCollection(accountId)}/${safeId(signalId)}`;
}

/** An account's applied exchange-fill markers (pruned by retention). */
export function externalMarkersCollection(accountId: string): string {
  return `${tradingDocPath(accountId)}/external`;
}

/** Marker of one exchange fill or cancel applied to the account; written by the TradingStore with the account. */
export function externalMarkerPath(accountId: string, key: string): string {
  return `${externalMarkersCollection(accountId)}/${safeId(key)}`;
}

/** Marker of one owner command applied to the account (outcome); written by the TradingStore with the account. */
export function commandMarkerPath(accountId: string, commandId: string): string {
  return `${tradingDocPath(accountId)}/commands/${safeId(commandId)}`;
}

/** The live side's notices (one alert per switch to live without keys); created by execution. */
export function liveNoticePath(accountId: string, key: string): string {
  return `${tradingDocPath(accountId)}/notices/${safeId(key)}`;
}

/** The live exchange groups of an account. */
export function liveCollection(accountId: string): string {
  return `${tradingDocPath(accountId)}/live`;
}

/** One live group's exchange ledger (`LiveGroup`: orders, fills); written by the live executor. */
export function liveGroupPath(accountId: string, groupId: string): string {
  return `${liveCollection(accountId)}/${safeId(groupId)}`;
}

/** The trading mode switch (`paper` | `live`; missing = paper); written by the owner's mode command (shared/trading/live/mode.ts). */
export const TRADING_MODE_DOC = 'trading/mode';

/** The mode switch's change records. */
export const TRADING_MODE_CHANGES = `${TRADING_MODE_DOC}/changes`;

/** One mode change (before / after / time / actor), written with the switch; ids sort in order. */
export function modeChangePath(seq: number): string {
  return `${TRADING_MODE_CHANGES}/${String(seq).padStart(6, '0')}`;
}

// ---------- config ----------

/** The owner-editable config documents (shared/config/documents.ts `CONFIG_DOCUMENTS`). */
export const CONFIG_COLLECTION = 'config';

/** One config document (`config/system`, `config/risk` ...); seeded by ConfigService, edited by the owner or an applied suggestion. */
export function configPath(name: string): string {
  return `${CONFIG_COLLECTION}/${safeId(name)}`;
}

/** The config document name of a `config/{name}` path; null for any other path. */
export function configNameOf(path: string): string | null {
  return path.startsWith(`${CONFIG_COLLECTION}/`) ? path.slice(CONFIG_COLLECTION.length + 1) : null;
}

/** ConfigService's bookkeeping per config document (last valid value, rejected hash). */
export const CONFIG_STATE_COLLECTION = 'config_state';

/** One config document's bookkeeping; written by ConfigService. */
export function configStatePath(name: string): string {
  return `${CONFIG_STATE_COLLECTION}/${safeId(name)}`;
}

/** The audit trail of accepted and rejected config edits. */
export const CONFIG_CHANGES_COLLECTION = 'config_changes';

/** One config change record; written by ConfigService. */
export function configChangePath(id: string): string {
  return `${CONFIG_CHANGES_COLLECTION}/${safeId(id)}`;
}

// ---------- backtests and suggestions ----------

/** Stored backtest runs. */
export const BACKTESTS_COLLECTION = 'backtests';

/** One backtest run's report; created by the backtest CLI (shared/backtest/store.ts). */
export function backtestPath(id: string): string {
  return `${BACKTESTS_COLLECTION}/${safeId(id)}`;
}

/** The trials of one optimisation run (hyperopt): one document per trial, under the run's document. */
export function backtestTrialsCollection(id: string): string {
  return `${backtestPath(id)}/trials`;
}

/**
 * One trial of an optimisation run (its index in the run, zero-padded so ids sort in trial order;
 * parameters, metrics, score, rank); created by the backtest CLI's hyperopt --store.
 */
export function backtestTrialPath(id: string, index: number): string {
  return `${backtestTrialsCollection(id)}/${String(Math.trunc(index)).padStart(6, '0')}`;
}

/** Config-change suggestions: the backtester's proposals and the owner's decisions on them. */
export const SUGGESTIONS_COLLECTION = 'suggestions';

/** One suggestion; created by the backtester's proposal, decided and applied by the owner's command (owner-commands). */
export function suggestionPath(id: string): string {
  return `${SUGGESTIONS_COLLECTION}/${safeId(id)}`;
}

/** Numeric threshold suggestions the Telegram bot lists under /suggestions. */
export const ML_SUGGESTIONS_COLLECTION = 'ml_suggestions';

/** One numeric suggestion; created by the backtester (and the learning loop), decided by the owner in the bot. */
export function mlSuggestionPath(id: string): string {
  return `${ML_SUGGESTIONS_COLLECTION}/${safeId(id)}`;
}

// ---------- learning loop (SPEC 8) ----------

/** The models collection: one document per strategy. */
export const MODELS_COLLECTION = 'models';

/**
 * The model IN FORCE of one strategy (shared/learning/model-store.ts StoredModel: version, feature
 * list and version, metrics, importances, training window, the serialized forest); written only by
 * the retraining run when a candidate passes the replacement rules, or by the owner's approval of a
 * feature change. Read by every scan of the strategy (the prediction beside the decision).
 */
export function modelPath(strategy: string): string {
  return `${MODELS_COLLECTION}/${safeId(strategy)}`;
}

/** Every trained model of a strategy, kept or not (metadata, and the forest of kept or pending ones). */
export function modelVersionsCollection(strategy: string): string {
  return `${modelPath(strategy)}/versions`;
}

/** One trained model (`{strategy}@{n}`), zero-padded so ids sort in training order. */
export function modelVersionPath(strategy: string, n: number): string {
  return `${modelVersionsCollection(strategy)}/${String(Math.trunc(n)).padStart(6, '0')}`;
}

/**
 * The retraining cursor of one strategy: trades seen, last run, and a candidate waiting for the
 * owner's approval of a feature change. Written in a transaction by the retraining run.
 */
export function learningStatePath(strategy: string): string {
  return `learning/${safeId(strategy)}`;
}

/** The shadow test's latest results (champion vs challengers per period); written by the shadow run. */
export const SHADOW_LATEST_PATH = 'shadow/latest';

/** The shadow runs, one document each (results, variations, window); id = the run id. */
export const SHADOW_RUNS_COLLECTION = 'shadow_runs';

export function shadowRunPath(runId: string): string {
  return `${SHADOW_RUNS_COLLECTION}/${safeId(runId)}`;
}

/**
 * Applied threshold adjustments (an approved learning-loop suggestion): before / after, when, the
 * rollback state; one per suggestion id. Written by the owner-command path in a transaction (the
 * daily limit counts them), read by the rollback trigger.
 */
export const ADJUSTMENTS_COLLECTION = 'threshold_adjustments';

export function adjustmentPath(suggestionId: string): string {
  return `${ADJUSTMENTS_COLLECTION}/${safeId(suggestionId)}`;
}

// ---------- Telegram ----------

/** Idempotency records of outbound Telegram messages (status, result). */
export const TG_OUTBOX_COLLECTION = 'tg_outbox';

/** One message key's outbox record; created by the outbox's enqueue, marked by its drainer. */
export function outboxPath(key: string): string {
  return `${TG_OUTBOX_COLLECTION}/${safeId(key)}`;
}

/** Pending outbound messages (deleted when done). */
export const TG_QUEUE_COLLECTION = 'tg_queue';

/** One pending message; written by the outbox's enqueue, deleted by its drainer. */
export function queuePath(id: string): string {
  return `${TG_QUEUE_COLLECTION}/${safeId(id)}`;
}

/** Per-chat sequence numbers of the outbox queue. */
export const TG_CHAT_SEQ_COLLECTION = 'tg_chat_seq';

/** One chat's next sequence number and last sort time; written by the outbox's enqueue. */
export function chatSeqPath(chatId: number): string {
  return `${TG_CHAT_SEQ_COLLECTION}/${chatId}`;
}

/** PNG bytes of queued photos. */
export const TG_FILES_COLLECTION = 'tg_files';

/** One queued photo (base64); written by the outbox's enqueue, deleted with its queue entry. */
export function outboxFilePath(id: string): string {
  return `${TG_FILES_COLLECTION}/${safeId(id)}`;
}

/** The outbox drain lease and the rate limiter's windows; written by the drainer. */
export const OUTBOX_LOCK_DOC = 'tg_outbox_lock/drain';

/** Highest edit rank applied per original message. */
export const TG_EDIT_RANKS_COLLECTION = 'tg_edit_ranks';

/** One original message's applied edit rank (an older edit never overwrites a newer one); written by the drainer. */
export function editRankPath(originalKey: string): string {
  return `${TG_EDIT_RANKS_COLLECTION}/${safeId(originalKey)}`;
}

/** Forum topics per chat and symbol. */
export const TG_TOPICS_COLLECTION = 'tg_topics';

/** The forum topic (thread id) of `symbol` in a forum chat; written by the drainer on first use. */
export function forumTopicPath(chatId: number, symbol: string): string {
  return `${TG_TOPICS_COLLECTION}/${chatId}_${safeId(symbol)}`;
}

/** Trade alert records (what was sent where, its state). */
export const TG_ALERTS_COLLECTION = 'tg_alerts';

/** One trade alert's record; created by the notifier, updated by the notifier, the drainer and the bot (move TP). */
export function alertRecordPath(alertKey: string): string {
  return `${TG_ALERTS_COLLECTION}/${safeId(alertKey)}`;
}

/** Last sent state per system-alert family and subject (only a change of state is sent). */
export const TG_SYSTEM_STATE_COLLECTION = 'tg_system_state';

/** One family's state for one subject (e.g. `data_BTCUSDT`); written by the notifier. */
export function systemStatePath(family: string, subject: string): string {
  return `${TG_SYSTEM_STATE_COLLECTION}/${safeId(`${family}_${subject}`)}`;
}

/** The closed-trade read model the bot and the reports query (`StateTradeLog`). */
export const TG_TRADES_COLLECTION = 'tg_trades';

/** One closed trade group; written by the notifier from `position_closed`. */
export function tradeRecordPath(groupId: string): string {
  return `${TG_TRADES_COLLECTION}/${safeId(groupId)}`;
}

/**
 * The trade log's version: a counter bumped in the same transaction as every new or changed trade
 * record, so a reader can keep what it read while the counter stays (`StateTradeLog`).
 */
export const TG_TRADES_VERSION_DOC = 'tg_trades_meta/version';

/** Per-chat symbol mutes. */
export const TG_MUTES_COLLECTION = 'tg_mutes';

/** One chat's mute of one symbol (until when); written by the bot (/mute, /unmute). */
export function mutePath(chatId: number, symbol: string): string {
  return `${TG_MUTES_COLLECTION}/${chatId}_${safeId(symbol)}`;
}

/** Paused by the owner (`/pause`), as recorded by the bot. */
export const TG_CONTROL_DOC = 'tg_control/trading';

/** Allowed members (the owner is implicit and never stored). */
export const TG_USERS_COLLECTION = 'tg_users';

/** One allowed member; written by the bot's access control (/verify). */
export function userPath(userId: number): string {
  return `${TG_USERS_COLLECTION}/${userId}`;
}

/** Allowed groups (`/allowgroup`). */
export const TG_GROUPS_COLLECTION = 'tg_groups';

/** One allowed group; written by the bot's access control. */
export function groupPath(chatId: number): string {
  return `${TG_GROUPS_COLLECTION}/${chatId}`;
}

/** Single-use invite codes. */
export const TG_INVITES_COLLECTION = 'tg_invites';

/** One invite code (created by, expires, used by); written by the bot's access control. */
export function invitePath(code: string): string {
  return `${TG_INVITES_COLLECTION}/${safeId(code)}`;
}

/** Wrong-code counters and lock-outs per user. */
export const TG_VERIFY_COLLECTION = 'tg_verify';

/** One user's wrong-code counter; written by the bot's access control (/verify). */
export function verifyPath(userId: number): string {
  return `${TG_VERIFY_COLLECTION}/${userId}`;
}

/** Spent dashboard login links (single use; pruned by retention once expired). */
export const DASHBOARD_LOGINS_COLLECTION = 'dashboard_logins';

/** One login link's nonce, created when the link is exchanged for a session; written by shared/dashboard/auth.ts. */
export function dashboardLoginPath(nonce: string): string {
  return `${DASHBOARD_LOGINS_COLLECTION}/${safeId(nonce)}`;
}

/** The dashboard's owner actions by the page's command id (a retry publishes nothing new; pruned by retention). */
export const DASHBOARD_ACTIONS_COLLECTION = 'dashboard_actions';

/** One owner action of the dashboard; written by shared/dashboard/actions.ts. */
export function dashboardActionPath(commandId: string): string {
  return `${DASHBOARD_ACTIONS_COLLECTION}/${safeId(commandId)}`;
}

/** Protection alerts as they were raised, for the dashboard's Market page (pruned by retention). */
export const PROTECTION_ALERTS_COLLECTION = 'protection_alerts';

/** One protection alert by its id; written by shared/dashboard/alert-log.ts `recordProtectionAlert` (the notifier, on each alert). */
export function protectionAlertPath(alertId: string): string {
  return `${PROTECTION_ALERTS_COLLECTION}/${safeId(alertId)}`;
}

/** De-duplication markers of Telegram updates (pruned by retention). */
export const TG_UPDATES_COLLECTION = 'tg_updates';

/** One update's marker (`processing`, then `done`); written by the webhook. */
export function updateMarkerPath(updateId: number): string {
  return `${TG_UPDATES_COLLECTION}/${updateId}`;
}
