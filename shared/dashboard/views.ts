/**
 * The dashboard's read views (shared/dashboard/api.ts shapes), each a plain async function over the
 * bot's deps and `now`, built ONLY from the domain code the bot already uses:
 * - paper: the account (`readAccount`, the trading document's protections and owner control),
 *   `buildReport` (the /stats per-strategy table, the /equity points) and `computeDrawdown` (the
 *   /equity PNG's drawdown), `positionUnrealized` for each position and `groupLevelBounds` for the
 *   sliders (the bounds and mark the core checks when the command arrives);
 * - trades: the trade history port (`closedBetween`, the /stats and /last source), filtered and paged;
 * - chart: chart-data.ts `buildTradeChartInput` (the alert PNG's candles, levels and lines);
 * - market: the trading document's regime and protections, the regime inputs by the execution's own
 *   `regimeInputsAt` / `classifyRegime`, freshness by the health check's series and rule, the holder's
 *   cursors and its last reported stream change (the notifier's system state); the recent protection
 *   alerts as stored (shared/dashboard/alert-log.ts) and the protections in force;
 * - research: research.ts `readModels`, `readShadow`, `shadowRows` and the pending ML suggestions.
 * Nothing here computes a P&L, a statistic or a rule of its own.
 */
import { parsePeriod } from '../telegram/command-parser.js';
import { z } from 'zod';
import type { ClosedTradeRecord } from '../ports/trade-history.js';
import { strategyIdSchema } from '../model/trading.js';
import type { Position } from '../trading/model.js';
import type { TradingDoc } from '../trading/store.js';
import { upgradeTradingDoc } from '../trading/doc-upgrade.js';
import { positionUnrealized } from '../trading/account.js';
import { groupLevelBounds, ownerLevelConfig, type OwnerLevelBounds } from '../trading/owner-levels.js';
import { getTradingMode } from '../trading/live/mode.js';
import { computeDrawdown } from '../charts/equity-chart.js';
import { buildReport } from '../telegram/reports.js';
import { readAccount, type ControlDoc, type TelegramDeps } from '../telegram/deps.js';
import { holderCursorPath, ML_SUGGESTIONS_COLLECTION, systemStatePath, TG_CONTROL_DOC, tradingDocPath } from '../state-paths.js';
import type { ChartView, MarketView, PaperView, PositionView, ResearchView, TradesView } from './api.js';
import { buildTradeChartInput, type TradeChartSpec } from '../telegram/chart-data.js';
import { DEFAULT_FEEDS } from '../trading/model.js';
import { INTERVAL_MS } from '../model/market.js';
import { latestHotCandle, recentHotCandles } from '../market/hot-store.js';
import { classifyRegime, REGIME_WINDOWS_MS, regimeInputsAt } from '../protection/regime.js';
import type { RegimeInputs } from '../protection/model.js';
import { LOSS_STREAK_PAUSE_MS } from '../protection/guards.js';
import { freshnessSeries, freshnessStatus } from '../health/freshness.js';
import type { CursorDoc } from '../market/bybit/candle-publisher.js';
import { readModels, readShadow, shadowPeriodHours, shadowRows } from '../telegram/research.js';
import { suggestionSchema } from '../telegram/trade-commands.js';
import { SCALP_STRATEGIES } from '../config/strategy.js';
import { recentProtectionAlerts } from './alert-log.js';

const PCT = 100;

/** The periods the page offers (the /stats syntax; `all` = everything the history holds). */
export const DASHBOARD_PERIODS = ['24h', '7d', '30d', 'all'] as const;
export type DashboardPeriod = (typeof DASHBOARD_PERIODS)[number];
/** The periods as the bot's commands read them (/stats 7d, /stats all): one meaning of `all`. */
const PERIOD_MS = Object.fromEntries(DASHBOARD_PERIODS.map((p) => [p, (parsePeriod(p, p) as { ms: number }).ms])) as Record<DashboardPeriod, number>;

export const TRADE_OUTCOMES = ['win', 'loss', 'timeout'] as const;
export type TradeOutcome = (typeof TRADE_OUTCOMES)[number];

/** What a closed trade counts as on the page: a time exit whatever its P&L, else a win (pnl > 0, as /stats) or a loss. */
export function outcomeOf(t: Pick<ClosedTradeRecord, 'pnl' | 'exitReason'>): TradeOutcome {
  if (t.exitReason === 'time_exit') return 'timeout';
  return t.pnl > 0 ? 'win' : 'loss';
}

async function tradingDoc(d: Pick<TelegramDeps, 'state' | 'tg'>): Promise<TradingDoc | undefined> {
  return upgradeTradingDoc(await d.state.get<TradingDoc>(tradingDocPath(d.tg.accountId)));
}

/** One position as the page shows it (the /positions row plus the owner's slider bounds, as the core checks them). */
export function positionView(p: Position, mark: number | null, now: number, bounds: OwnerLevelBounds): PositionView {
  const filled = p.status === 'open';
  const unrealized = filled && mark !== null ? positionUnrealized(p, mark) : null;
  const notional = p.avgEntry * p.filledQty;
  return {
    groupId: p.groupId,
    symbol: p.symbol,
    strategy: p.strategy,
    direction: p.direction,
    status: p.status,
    live: p.external !== null,
    avgEntry: p.avgEntry,
    entries: p.entries.map((e) => ({ price: e.fillPrice ?? e.price, qty: e.qty, status: e.status, filledAt: e.fillTime })),
    qty: p.filledQty,
    takeProfit: p.takeProfit,
    stopLoss: p.stopLoss,
    mark,
    unrealizedPnl: unrealized,
    unrealizedPct: unrealized !== null && notional > 0 ? (unrealized / notional) * PCT : null,
    openedAt: p.openedAt,
    placedAt: p.placedAt,
    ageMs: Math.max(0, now - (p.openedAt ?? p.placedAt)),
    bounds,
  };
}

/** Holds on new entries, as /status words them. */
function holdsOf(doc: TradingDoc | undefined, ownerPaused: boolean, now: number): string[] {
  const out: string[] = [];
  if (ownerPaused) out.push('Paused by the owner');
  const prot = doc?.state.protections;
  if (!prot) return out;
  if (prot.regime.current === 'PANIC') out.push('Regime PANIC: no new entries');
  if (prot.guards.dailyHalted) out.push('Daily loss halt');
  if (prot.guards.pausedUntil !== null && prot.guards.pausedUntil > now) out.push(`Loss-streak pause until ${new Date(prot.guards.pausedUntil).toISOString().slice(0, 16).replace('T', ' ')} UTC`);
  if (prot.reference && prot.reference.status !== 'ok') out.push(`Regime reference ${prot.reference.status}: no new entries`);
  return out;
}

/** `GET /api/paper?period=`: account, open positions, the per-strategy table and equity over the period. */
export async function paperView(d: TelegramDeps, now: number, period: DashboardPeriod): Promise<PaperView> {
  const [doc, account, report, mode, control, strategies] = await Promise.all([
    tradingDoc(d),
    readAccount(d),
    buildReport(d, 'Dashboard', PERIOD_MS[period], now),
    getTradingMode(d.state),
    d.state.get<ControlDoc>(TG_CONTROL_DOC),
    d.config.strategies(),
  ]);
  const paused = doc?.state.control?.paused ?? control?.paused ?? false;
  const { series, max } = computeDrawdown(report.points);
  const last = series[series.length - 1];
  const levels = ownerLevelConfig(strategies, d.tg.dashboard);
  const positions = account.positions.map((p) => {
    const b = groupLevelBounds(account, p.groupId, levels, now);
    return positionView(p, account.marks[p.symbol] ?? null, now, { takeProfit: b?.takeProfit ?? null, stopLoss: b?.stopLoss ?? null });
  });
  return {
    asOf: now,
    accountId: account.accountId,
    mode,
    paused,
    holds: holdsOf(doc, paused, now),
    account: {
      startingEquity: account.startingEquity,
      realizedPnl: account.realizedPnl,
      unrealizedPnl: report.unrealized,
      equity: report.equityNow,
      drawdownPct: last ? -last.drawdown * PCT : 0,
      maxDrawdownPct: -max.drawdown * PCT,
    },
    positions,
    perStrategy: report.byStrategy,
    period: { label: period, fromMs: report.from, toMs: report.to },
    equity: series.map((p) => ({ t: p.t, equity: p.equity, drawdownPct: -p.drawdown * PCT })),
  };
}

/**
 * What identifies a paper view's content for its ETag: the view without what moves with the clock
 * alone (the period's bounds, the times of the equity curve's first and last points: the period
 * start and now; the positions' ages), so polling an unchanged book costs a 304.
 */
export function paperValidator(v: PaperView): unknown {
  const last = v.equity.length - 1;
  return {
    ...v,
    asOf: null,
    period: v.period.label,
    positions: v.positions.map((p) => ({ ...p, ageMs: null })),
    equity: v.equity.map((p, i) => (i === 0 || i === last ? { equity: p.equity, drawdownPct: p.drawdownPct } : p)),
  };
}

export interface TradesQuery {
  strategy?: string;
  symbol?: string;
  outcome?: TradeOutcome;
  period: DashboardPeriod;
  page: number;
}

/** `GET /api/trades`: the period's closed trades (newest first), filtered, one page of them. */
export async function tradesView(d: TelegramDeps, now: number, q: TradesQuery): Promise<TradesView> {
  const [all, system] = await Promise.all([d.trades.closedBetween(now - PERIOD_MS[q.period], now + 1), d.config.system()]);
  const newestFirst = [...all].reverse();
  const hits = newestFirst.filter(
    (t) => (q.strategy === undefined || t.strategy === q.strategy) && (q.symbol === undefined || t.symbol === q.symbol) && (q.outcome === undefined || outcomeOf(t) === q.outcome),
  );
  const pageSize = d.tg.dashboard.tradesPageSize;
  const pages = Math.max(1, Math.ceil(hits.length / pageSize));
  const page = Math.min(q.page, pages - 1);
  const strategies = new Set<string>([...strategyIdSchema.options, ...all.map((t) => t.strategy)]);
  const symbols = new Set<string>([...system.symbols.map((s) => s.symbol), ...all.map((t) => t.symbol)]);
  return {
    trades: hits.slice(page * pageSize, page * pageSize + pageSize),
    page,
    pages,
    total: hits.length,
    pageSize,
    options: { strategies: [...strategies].sort(), symbols: [...symbols].sort(), outcomes: [...TRADE_OUTCOMES], periods: [...DASHBOARD_PERIODS] },
  };
}

// ---------- chart ----------

/** A closed trade or an open position of `groupId`, as the chart draws it. */
async function chartSpecOf(d: TelegramDeps, now: number, symbol: string, groupId: string | undefined): Promise<{ spec: TradeChartSpec; group: ChartGroup | null } | null> {
  const base = { symbol, size: 'large' as const, candles: d.tg.alerts.chartCandles, resampleBaseCandles: d.tg.alerts.resampleBaseCandles };
  if (groupId === undefined) return { spec: { ...base, engine: 'SCALP', time: now }, group: null };
  const account = await readAccount(d);
  const p = account.positions.find((x) => x.groupId === groupId && x.symbol === symbol);
  if (p) {
    const entry = p.status === 'open' ? p.avgEntry : (p.entries[0]?.price ?? p.avgEntry);
    return {
      spec: { ...base, engine: p.engine, strategy: p.strategy, direction: p.direction, entry, takeProfit: p.takeProfit, stopLoss: p.stopLoss, time: p.openedAt ?? p.placedAt, until: now },
      group: { direction: p.direction, entries: p.entries.filter((e) => e.fillTime !== null && e.fillPrice !== null).map((e) => ({ time: e.fillTime as number, price: e.fillPrice as number })), exit: null, pending: p.status === 'pending' ? p.entries.map((e) => e.price) : [] },
    };
  }
  const closed = (await d.trades.closedBetween(0, now + 1)).find((t) => t.groupId === groupId && t.symbol === symbol);
  if (!closed) return null;
  return {
    spec: {
      ...base,
      engine: engineOfStrategy(closed.strategy),
      strategy: closed.strategy,
      direction: closed.direction,
      entry: closed.avgEntry,
      time: closed.entryTime,
      exit: { time: closed.exitTime, price: closed.exitPrice },
      badge: closed.pnl > 0 ? 'WIN' : 'LOSS',
    },
    group: { direction: closed.direction, entries: [{ time: closed.entryTime, price: closed.avgEntry }], exit: { time: closed.exitTime, price: closed.exitPrice }, pending: [] },
  };
}

interface ChartGroup {
  direction: 'LONG' | 'SHORT';
  entries: Array<{ time: number; price: number }>;
  exit: { time: number; price: number } | null;
  /** Limit prices of unfilled entries (a pending group). */
  pending: number[];
}

function engineOfStrategy(strategy: string): 'SCALP' | 'SWING' {
  return (SCALP_STRATEGIES as readonly string[]).includes(strategy) ? 'SCALP' : 'SWING';
}

/**
 * `GET /api/chart?symbol=S[&groupId=G]`: the trade chart's input as the bot's PNG builds it
 * (chart-data.ts `buildTradeChartInput`: the same candles, levels and lines), in lightweight-charts'
 * units; an open position is drawn up to now. Null: no such group.
 */
export async function chartView(d: TelegramDeps, now: number, symbol: string, groupId?: string): Promise<ChartView | null> {
  const found = await chartSpecOf(d, now, symbol, groupId);
  if (!found) return null;
  const lv = (await d.config.strategies()).scalp.levels_exhaustion.levels;
  const input = await buildTradeChartInput(d.state, found.spec, { horizontal: lv.horizontal, trendLines: lv.trendLines });
  const interval = DEFAULT_FEEDS[found.spec.engine].interval;
  const step = INTERVAL_MS[interval];
  if (!input) return { symbol, interval, candles: [], levels: [], lines: [], markers: [] };
  const sec = (ms: number) => Math.floor(ms / 1000);
  /** The open time of the candle a time falls in (a fill time is the END of its candle). */
  const bar = (t: number, end: boolean) => sec(Math.floor((end ? t - 1 : t) / step) * step);
  const lines: ChartView['lines'] = [];
  const fmt = (v: number) => String(Number(v.toPrecision(6)));
  if (input.entry !== undefined) lines.push({ price: input.entry, kind: 'entry', label: `Entry ${fmt(input.entry)}` });
  for (const price of found.group?.pending ?? []) if (price !== input.entry) lines.push({ price, kind: 'entry', label: `Limit ${fmt(price)}` });
  if (input.takeProfit !== undefined) lines.push({ price: input.takeProfit, kind: 'take_profit', label: `TP ${fmt(input.takeProfit)}` });
  if (input.stopLoss !== undefined) lines.push({ price: input.stopLoss, kind: 'stop_loss', label: `SL ${fmt(input.stopLoss)}` });
  const markers: ChartView['markers'] = [];
  const g = found.group;
  if (g) {
    const entrySide = g.direction === 'LONG' ? 'buy' : 'sell';
    const first = input.candles[0]?.openTime ?? 0;
    for (const e of g.entries) if (e.time >= first) markers.push({ time: bar(e.time, g.exit === null), price: e.price, kind: 'entry', side: entrySide, text: `${entrySide === 'buy' ? 'Buy' : 'Sell'} ${fmt(e.price)}` });
    if (g.exit && g.exit.time >= first) markers.push({ time: bar(g.exit.time, false), price: g.exit.price, kind: 'exit', side: entrySide === 'buy' ? 'sell' : 'buy', text: `Exit ${fmt(g.exit.price)}` });
  }
  return {
    symbol,
    interval,
    candles: input.candles.map((c) => ({ time: sec(c.openTime), open: c.open, high: c.high, low: c.low, close: c.close })),
    levels: (input.levels ?? []).map((l) => ({ price: l.price, kind: l.kind === 'support' ? 'support' : 'resistance' })),
    lines,
    markers: markers.sort((a, b) => a.time - b.time),
  };
}

// ---------- market ----------

/** The regime's inputs on the reference symbol's newest stored 1m candles (execution's own function), memoised per last candle. */
const regimeMemo = new WeakMap<object, { openTime: number; inputs: RegimeInputs | null }>();

async function regimeInputsNow(d: TelegramDeps, referenceSymbol: string): Promise<RegimeInputs | null> {
  const last = await latestHotCandle(d.state, 'bybit', referenceSymbol, '1m');
  if (!last) return null;
  const memo = regimeMemo.get(d.state);
  if (memo && memo.openTime === last.openTime) return memo.inputs;
  const n = Math.max(...Object.values(REGIME_WINDOWS_MS)) / INTERVAL_MS['1m'] + 1;
  const candles = await recentHotCandles(d.state, 'bybit', referenceSymbol, '1m', n);
  const inputs = candles.length ? regimeInputsAt(candles.map((c) => c.openTime), candles.map((c) => c.close), candles.length - 1) : null;
  regimeMemo.set(d.state, { openTime: last.openTime, inputs });
  return inputs;
}

/** What the market view reads of a holder cursor and of the notifier's holder state (other fields ignored). */
const cursorSeen = z.object({ updatedAt: z.number().finite() });
const holderLink = z.object({ kind: z.string(), ts: z.number().finite() });

const finiteOrNull = (v: number) => (Number.isFinite(v) ? v : null);

/** The protections in force as the trading document stores them, each with when it began (kinds: `regime`, `cooldown`, `daily_loss_halt`...). */
function protectionRows(doc: TradingDoc | undefined, now: number, cooldownMsOf: (symbol: string) => number | null): MarketView['protections'] {
  const prot = doc?.state.protections;
  if (!prot) return [];
  const out: MarketView['protections'] = [];
  if (prot.regime.current !== 'NORMAL') out.push({ ts: prot.regime.since, kind: 'regime', severity: prot.regime.current === 'PANIC' ? 'critical' : 'warning', subject: null, message: `Regime ${prot.regime.current}` });
  if (prot.reference && prot.reference.status !== 'ok') out.push({ ts: prot.reference.since, kind: 'regime_reference', severity: 'warning', subject: null, message: `Regime reference ${prot.reference.status}` });
  for (const [symbol, l] of Object.entries(prot.limiter)) {
    const length = cooldownMsOf(symbol);
    if (l.cooldownUntil !== null && l.cooldownUntil > now) out.push({ ts: length === null ? l.cooldownUntil : l.cooldownUntil - length, kind: 'cooldown', severity: 'info', subject: symbol, message: `Cooldown after ${l.consecutiveStops} stop(s) until ${new Date(l.cooldownUntil).toISOString().slice(0, 16).replace('T', ' ')} UTC` });
  }
  for (const [setup, bySymbol] of Object.entries(prot.volDisabled)) {
    for (const [symbol, since] of Object.entries(bySymbol ?? {})) out.push({ ts: since, kind: 'volatility_disabled', severity: 'info', subject: symbol, message: `${setup} disabled by 24h volatility` });
  }
  const g = prot.guards;
  if (g.dailyHalted) out.push({ ts: g.dayStart, kind: 'daily_loss_halt', severity: 'critical', subject: 'account', message: 'Daily loss halt: no new trades today' });
  else if (g.drawdownAlerted) out.push({ ts: g.dayStart, kind: 'daily_drawdown_alert', severity: 'warning', subject: 'account', message: 'Daily drawdown alert level reached today' });
  if (g.pausedUntil !== null && g.pausedUntil > now) out.push({ ts: g.pausedUntil - LOSS_STREAK_PAUSE_MS, kind: 'loss_streak_pause', severity: 'warning', subject: 'account', message: `Loss-streak pause (${g.consecutiveLosses} losses)` });
  if (doc.state.control?.paused) out.push({ ts: doc.state.control.pausedAt ?? 0, kind: 'owner_paused', severity: 'info', subject: 'account', message: 'Paused by the owner' });
  return out.sort((a, b) => b.ts - a.ts);
}

/** `GET /api/market`: regime and its inputs, data freshness per symbol and venue, the holder, protections in force. */
export async function marketView(d: TelegramDeps, now: number): Promise<MarketView> {
  const [system, strategies, doc] = await Promise.all([d.config.system(), d.config.strategies(), tradingDoc(d)]);
  const regimeCfg = strategies.protections.regime;
  const inputs = await regimeInputsNow(d, regimeCfg.referenceSymbol);
  const staleAfter = system.dataQuality.staleAfterMs;
  const freshness: MarketView['freshness'] = [];
  const cursors: Array<Pick<CursorDoc, 'updatedAt'>> = [];
  for (const s of system.symbols.filter((x) => x.enabled)) {
    for (const series of freshnessSeries(system, s)) {
      const last = await latestHotCandle(d.state, series.venue, s.symbol, series.interval);
      const closeAt = last ? last.openTime + INTERVAL_MS[series.interval] : null;
      freshness.push({
        symbol: s.symbol,
        venue: series.venue,
        interval: series.interval,
        lastCandleOpen: last?.openTime ?? null,
        ageMs: closeAt === null ? null : Math.max(0, now - closeAt),
        status: closeAt === null ? 'unknown' : freshnessStatus(now, closeAt, staleAfter),
      });
    }
    const c = cursorSeen.safeParse(await d.state.get<CursorDoc>(holderCursorPath(s.symbol)));
    if (c.success) cursors.push(c.data);
  }
  const stored = holderLink.safeParse(await d.state.get(systemStatePath('holder', 'bybit-holder')));
  const link = stored.success ? stored.data : null;
  const lastPublish = cursors.length ? Math.max(...cursors.map((c) => c.updatedAt)) : null;
  return {
    asOf: now,
    regime: {
      current: doc?.state.protections.regime.current ?? 'NORMAL',
      since: doc?.state.protections.regime.since ?? null,
      inputs: [
        { name: 'reference', value: regimeCfg.referenceSymbol },
        ...(['change1hPct', 'change4hPct', 'change24hPct', 'change48hPct'] as const).map((k) => ({ name: k, value: inputs ? finiteOrNull(inputs[k]) : null })),
        { name: 'classified now', value: inputs ? classifyRegime(inputs, regimeCfg) : null },
        { name: 'reference data', value: doc?.state.protections.reference?.status ?? null },
      ],
    },
    freshness,
    holder: {
      connected: link ? link.kind !== 'holder_disconnected' : null,
      reconnects: null,
      lastMessageAgeMs: lastPublish === null ? null : Math.max(0, now - lastPublish),
      detail: link
        ? `${link.kind === 'holder_disconnected' ? 'disconnected' : 'reconnected'} at ${new Date(link.ts).toISOString().slice(0, 16).replace('T', ' ')} UTC (last stream change reported)`
        : lastPublish === null
          ? 'no candle published by the holder yet'
          : 'no disconnection reported',
    },
    protections: [
      ...(await recentProtectionAlerts(d.state, d.tg.dashboard.recentAlerts)).map((a) => ({ ts: a.ts, kind: a.change ?? a.kind, severity: a.severity, subject: a.subject, message: a.message })),
      ...protectionRows(doc, now, (symbol) => {
        const tier = system.symbols.find((x) => x.symbol === symbol)?.tier;
        return tier ? strategies.protections.tradeLimiter.cooldownMs[tier] : null;
      }),
    ].sort((a, b) => b.ts - a.ts || a.message.localeCompare(b.message)),
  };
}

// ---------- research ----------

/** `GET /api/research[?period=7d]`: models in force, the latest shadow run over a period, pending suggestions. */
export async function researchView(d: TelegramDeps, now: number, periodArg?: string): Promise<ResearchView> {
  const [models, shadow, pending] = await Promise.all([
    readModels(d.state),
    readShadow(d.state),
    d.state.query<unknown>(ML_SUGGESTIONS_COLLECTION, { where: [{ field: 'status', op: '==', value: 'pending' }] }),
  ]);
  let shadowView: ResearchView['shadow'] = null;
  if (shadow.status === 'ok') {
    const r = shadow.doc;
    const hours = shadowPeriodHours(periodArg, r.periodsHours) ?? shadowPeriodHours(undefined, r.periodsHours) ?? r.periodsHours[r.periodsHours.length - 1] ?? null;
    if (hours !== null) {
      const { rows } = shadowRows(r, hours);
      const champion = rows.find((x) => x.champion);
      shadowView = {
        runId: r.runId,
        ranAt: r.ts,
        periodHours: hours,
        periods: r.periodsHours,
        rows: rows.map((x) => ({
          variation: x.name,
          trades: x.stats.trades,
          winRatePct: x.stats.winRate === null ? 0 : x.stats.winRate * PCT,
          profitFactor: x.stats.profitFactor,
          pnl: x.stats.pnl,
          vsChampion: champion && !x.champion ? x.stats.pnl - champion.stats.pnl : null,
          meanPnlPct: x.stats.meanPnlPct,
          pValue: x.stats.pValue,
        })),
      };
    }
  }
  return {
    asOf: now,
    models: models.map((e) => ({
      strategy: e.strategy,
      version: e.model.status === 'ok' ? e.model.doc.version : null,
      score: e.model.status === 'ok' ? e.model.doc.metrics.score : null,
      trainedAt: e.model.status === 'ok' ? e.model.doc.trainedAt : null,
      rows: e.model.status === 'ok' ? e.model.doc.metrics.rows : null,
      featureVersion: e.model.status === 'ok' ? e.model.doc.featureVersion : null,
      awaitingApproval: e.pending !== null,
      ...(e.model.status === 'invalid' ? { detail: `unreadable: ${e.model.reason}` } : e.pending ? { detail: `${e.pending.version} waits for approval: ${e.pending.reason}` } : {}),
    })),
    shadow: shadowView,
    suggestions: pending
      .flatMap((x) => {
        const v = suggestionSchema.safeParse(x.data);
        if (!v.success) d.log.warn('dashboard: a stored suggestion does not validate: not listed', { path: x.path });
        return v.success ? [v.data] : [];
      })
      .sort((a, b) => a.createdAt - b.createdAt)
      .map((s) => ({ id: s.id, strategy: s.strategy, parameter: s.parameter, current: s.current, suggested: s.suggested, createdAt: s.createdAt, ...(s.summary ? { summary: s.summary } : {}) })),
  };
}
