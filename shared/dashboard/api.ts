/**
 * The dashboard's JSON API: every route and the shape of every answer (SPEC 9 "Dashboard", issue 12).
 * One contract for the server (shared/dashboard/*, served by functions/dashboard) and the page
 * (web/dashboard/app.js reads exactly these fields). Views are built from the same domain code the bot
 * uses (reports, chart data, research, readiness); nothing here computes.
 *
 * Authentication: every `/api/*` route but `POST /api/session` needs `Authorization: Bearer <session>`
 * (401 without a valid one). A session is opened with Telegram Mini App `initData` (verified with the
 * bot token, shared/dashboard/auth.ts) or with a single-use signed login link from `/dashboard`. The
 * role is re-read from the allow-list on every request: members see, only the owner acts.
 *
 * Live updates: GET views answer with a strong `ETag` (a hash of the JSON); the page polls every
 * `pollMs` with `If-None-Match` and an unchanged view costs a 304 with no body.
 */
import type { ClosedTradeRecord } from '../ports/trade-history.js';
import type { Direction, StrategyId } from '../model/trading.js';

/** Path prefix of the page and its API (the function is mounted at `/dashboard`). */
export const DASHBOARD_BASE = '/dashboard';

export const API_ROUTES = {
  session: '/api/session',
  me: '/api/me',
  paper: '/api/paper',
  trades: '/api/trades',
  chart: '/api/chart',
  strategies: '/api/strategies',
  market: '/api/market',
  research: '/api/research',
  actions: '/api/actions',
} as const;

export type Role = 'owner' | 'member';

// ---------- session ----------

/** `POST /api/session` body: exactly one of the two. */
export type SessionRequest = { initData: string } | { login: string };

export interface SessionResponse {
  /** Bearer token for every other route. */
  token: string;
  expiresAt: number;
  user: { id: number; name: string };
  role: Role;
  /** The page polls its current view this often. */
  pollMs: number;
}

/** `GET /api/me`. */
export interface MeResponse {
  user: { id: number; name: string };
  role: Role;
  pollMs: number;
  /** Server time, epoch ms (the page shows ages against it, not against the phone's clock). */
  now: number;
}

/** Every error answer: a status (400 / 401 / 403 / 404 / 409 / 429 / 500) and this body. */
export interface ErrorResponse {
  error: string;
  /** Machine-readable reason (`stale_init_data`, `bad_signature`, `owner_only`, `out_of_bounds`...). */
  reason?: string;
}

// ---------- paper trading ----------

export interface LevelBounds {
  /** Inclusive price range the owner's slider may set (already on the right side of entry and mark). */
  min: number;
  max: number;
}

export interface PositionView {
  groupId: string;
  symbol: string;
  strategy: StrategyId;
  direction: Direction;
  status: 'pending' | 'open';
  /** Live (external fills) or paper. */
  live: boolean;
  avgEntry: number;
  /** Entry limits (pending and filled). */
  entries: Array<{ price: number; qty: number; status: string; filledAt: number | null }>;
  qty: number;
  takeProfit: number;
  stopLoss: number;
  mark: number | null;
  unrealizedPnl: number | null;
  unrealizedPct: number | null;
  openedAt: number | null;
  placedAt: number;
  /** now - openedAt (or placedAt while pending). */
  ageMs: number;
  /** Slider bounds for the owner (null: the level cannot be moved now, e.g. no mark yet or an exit is decided). */
  bounds: { takeProfit: LevelBounds | null; stopLoss: LevelBounds | null };
}

export interface StrategyStatsRow {
  strategy: string;
  trades: number;
  wins: number;
  winRatePct: number;
  pnl: number;
  profitFactor: number | null;
}

export interface PaperView {
  asOf: number;
  accountId: string;
  mode: 'paper' | 'live';
  paused: boolean;
  /** Protections that hold new entries (regime PANIC, loss-streak pause, daily halt), human-readable. */
  holds: string[];
  account: {
    startingEquity: number;
    realizedPnl: number;
    unrealizedPnl: number;
    equity: number;
    /** Drawdown of the marked equity from its peak, % (>= 0). */
    drawdownPct: number;
    maxDrawdownPct: number;
  };
  positions: PositionView[];
  /** Per-strategy table over `period` (the same numbers /stats shows). */
  perStrategy: StrategyStatsRow[];
  period: { label: string; fromMs: number; toMs: number };
  /** Equity after each closed trade over the period (the /equity PNG's points). */
  equity: Array<{ t: number; equity: number; drawdownPct: number }>;
}

/** `GET /api/trades?strategy=&symbol=&outcome=win|loss|timeout&period=24h|7d|30d|all&page=0`. */
export interface TradesView {
  trades: ClosedTradeRecord[];
  page: number;
  pages: number;
  total: number;
  pageSize: number;
  /** Values the filters may take (from the config and the period's trades). */
  options: { strategies: string[]; symbols: string[]; outcomes: Array<'win' | 'loss' | 'timeout'>; periods: string[] };
}

/** `GET /api/chart?symbol=S[&groupId=G]`: candles with levels, the group's lines and its fills. */
export interface ChartView {
  symbol: string;
  interval: string;
  /** Seconds since epoch (lightweight-charts' UTCTimestamp). */
  candles: Array<{ time: number; open: number; high: number; low: number; close: number }>;
  /** Support / resistance levels. */
  levels: Array<{ price: number; kind: 'support' | 'resistance' }>;
  /** The group's entry / TP / SL (empty without a group). */
  lines: Array<{ price: number; kind: 'entry' | 'take_profit' | 'stop_loss'; label: string }>;
  /** Fills as markers (entries and exits). */
  markers: Array<{ time: number; price: number; kind: 'entry' | 'exit'; side: 'buy' | 'sell'; text: string }>;
}

// ---------- strategies (readiness) ----------

export interface ReadinessCondition {
  /** Stable id (`rsi_divergence`, `volume_spike`, `bias_aligned`...). */
  id: string;
  label: string;
  /** The value now (null: not computable yet, e.g. warm-up). */
  value: number | string | boolean | null;
  /** What it is compared with. */
  threshold: number | string | boolean | null;
  comparator: '>=' | '<=' | '>' | '<' | '==' | 'info';
  /** null for `info` rows and uncomputable values. */
  met: boolean | null;
  /**
   * 0..1: how far the value is toward its threshold; 1 exactly when met (an unmet condition shows at
   * most UNMET_PROGRESS_MAX, 0.99: shared/strategies/readiness.ts); null when not a distance.
   */
  progress: number | null;
  /**
   * Id of the condition that counts this one (e.g. each levels_exhaustion check counts toward
   * `exhaustion_checks`, "2 of 4"): it is shown but not required by itself, and is left out of the
   * side's met / total / closeness. Absent: required by itself.
   */
  partOf?: string;
}

export interface ReadinessSide {
  direction: Direction;
  conditions: ReadinessCondition[];
  /** Required conditions (no `partOf`) met, of `total`. */
  met: number;
  total: number;
  /** 0..1 over the required conditions (mean progress, met counting 1). */
  closeness: number;
}

export interface StrategyReadiness {
  strategy: StrategyId;
  engine: 'SCALP' | 'MACRO';
  symbol: string;
  enabled: boolean;
  /** Log-only strategies decide but do not emit. */
  emitting: boolean;
  /**
   * The decision the strategy's own code takes now; null when it takes none (a scalp with no setup at
   * this candle logs nothing) or cannot compute yet (see `note`).
   */
  decision: 'TAKE' | 'NEAR_MISS' | 'SKIP' | null;
  /** Close time of the last candle the readiness was computed on. */
  asOf: number | null;
  sides: ReadinessSide[];
  /** Trade-limiter cooldown of this symbol / strategy (null: none running). */
  cooldownUntil: number | null;
  /** Why nothing could be computed (no candles yet, warm-up...). */
  note?: string;
}

export interface BiasView {
  symbol: string;
  bias: string;
  confidence: string | number;
  active: boolean;
  expiresAt: number | null;
  /** The bias's components as the MACRO engine stored them. */
  components: Array<{ name: string; value: number | string | boolean | null }>;
}

export interface StrategiesView {
  asOf: number;
  readiness: StrategyReadiness[];
  biases: BiasView[];
  /** Strategies switched off in config (with where). */
  disabled: Array<{ strategy: string; symbol: string | null; reason: string }>;
}

// ---------- market ----------

export interface MarketView {
  asOf: number;
  regime: { current: string; since: number | null; inputs: Array<{ name: string; value: number | string | boolean | null }> };
  freshness: Array<{ symbol: string; venue: 'bybit' | 'kraken'; interval: string; lastCandleOpen: number | null; ageMs: number | null; status: 'fresh' | 'stale' | 'unknown' }>;
  holder: { connected: boolean | null; reconnects: number | null; lastMessageAgeMs: number | null; detail: string | null };
  /** Recent protection alerts, newest first. */
  protections: Array<{ ts: number; kind: string; severity: string; subject: string | null; message: string }>;
}

// ---------- research ----------

export interface ResearchView {
  asOf: number;
  models: Array<{ strategy: string; version: string | null; score: number | null; trainedAt: number | null; rows: number | null; featureVersion: string | null; awaitingApproval: boolean; detail?: string }>;
  /** The latest shadow run (null: none yet). */
  shadow: null | {
    runId: string;
    ranAt: number;
    periodHours: number;
    periods: number[];
    rows: Array<{ variation: string; trades: number; winRatePct: number; profitFactor: number | null; pnl: number; vsChampion: number | null; meanPnlPct: number | null; pValue: number | null }>;
  };
  suggestions: Array<{ id: string; strategy: string; parameter: string; current: number; suggested: number; createdAt: number; summary?: string }>;
}

// ---------- owner actions ----------

/**
 * `POST /api/actions` (owner only). `commandId` is the page's id for this one intent (a retry sends the
 * same id: the command is applied once). The answer says it was queued (the outcome arrives in the
 * chat and in the next poll) or refused with its reason.
 */
export type ActionRequest =
  | { commandId: string; action: 'move_tp'; groupId: string; symbol: string; price: number }
  | { commandId: string; action: 'move_sl'; groupId: string; symbol: string; price: number }
  | { commandId: string; action: 'close'; groupId: string; symbol: string }
  | { commandId: string; action: 'pause' }
  | { commandId: string; action: 'resume' }
  | { commandId: string; action: 'suggestion'; suggestionId: string; approve: boolean };

export interface ActionResponse {
  status: 'queued' | 'refused';
  /** The trade command's id (`dash:{commandId}`). */
  commandId: string;
  reason?: string;
  detail?: string;
}
