/**
 * Threshold suggestions from a shadow run (SPEC 8, the 003 seed's "Safety Features").
 *
 * Tunable parameters (config key paths, bounds in config/ml `suggestions.bounds`, SPEC 8's constraints):
 *   dcaDropPct        macro.setups.DCA.dropFromHighPct           (DCA drop 2-10 %)
 *   swingBreakoutPct  macro.setups.SWING.breakoutPct             (swing breakout 1-5 %)
 *   takeProfitPct     macro.exits.<tier>.takeProfitPct           (TP 1-20 %)
 *   stopLossPct       macro.exits.<tier>.stopLossPct             (SL 2-15 %)
 *
 * For each such key that a challenger overrides:
 * - Evidence period of a challenger: the LONGEST period of the run in which the challenger has at least
 *   `suggestions.minTrades` trades (fewer everywhere: no suggestion from it).
 * - Outperformance % (over the champion in that same period):
 *       (challenger P&L - champion P&L) / max(|champion P&L|, 1 % of starting equity) x 100
 *   P&L after fees and slippage, USD. The floor (1 % of `risk.startingEquityUsd`) keeps a near-zero
 *   champion P&L from turning a few dollars into a huge percentage.
 * - Confidence (config/ml `suggestions.confidence`, the seed's graduated system): HIGH when the
 *   challenger has >= high.minTrades trades AND outperformance > high.minOutperformancePct, else MEDIUM,
 *   else LOW on the same rule; below LOW (or not beating the champion): no suggestion.
 * - Which challengers are evidence: only those whose overrides are ALL tunable thresholds (DCA_DROP_4,
 *   BREAKOUT_2, an exits-only variation); one that also changes the risk, the ML filter or a time exit
 *   (AGGRESSIVE, CONSERVATIVE, QUICK_EXITS) cannot credit its gap to a threshold. And never one whose
 *   mean P&L % per trade is below the champion's: more P&L from trading less (the kit month's
 *   CONSERVATIVE: significantly worse per trade) is not a better threshold.
 * - Optimum: the overridden value of the best qualifying challenger (highest outperformance %, then
 *   higher confidence, then name). A challenger that changes several thresholds is evidence for each;
 *   the evidence lists all its overrides.
 * - Step: stepFraction (0.3) x stepShare(confidence) x (optimum - current), then rounded to 0.05
 *   (config precision of these percentages), then clamped into the bounds. A step that rounds or clamps
 *   to no change is not suggested.
 * - The p-value (Welch's t-test of per-trade P&L %, from the shadow run) is part of the evidence and of
 *   the owner's message; it does not gate (the seed's graduated confidence is by trades and margin).
 *
 * Writing: `storeSuggestions` through the existing path (owner-commands.ts): `suggestions/{id}` with
 * `changes` (what an approval applies) and the item `ml_suggestions/{id}` the bot lists under
 * /suggestions (same id, so the bot's approval of the item applies `suggestions/{id}.changes`). The id is
 * a hash of (shadow run, key): a retried run creates nothing twice (state `create`).
 */
import { createHash } from 'node:crypto';
import type { MlConfig, StrategyConfigs } from '../config/strategy.js';
import type { DocData, JsonValue, StateStore } from '../ports/state.js';
import type { StrategyId } from '../model/trading.js';
import { configPath, ML_SUGGESTIONS_COLLECTION, mlSuggestionPath, SHADOW_LATEST_PATH, suggestionPath } from '../state-paths.js';
import { shadowResultsSchema, type ShadowPeriodStats, type ShadowResults, type ShadowVariationResult } from './types.js';

/** The day of the daily limit (SPEC: schedules and reports run on Los Angeles time). */
export const ADJUSTMENT_TIME_ZONE = 'America/Los_Angeles';

export type BoundName = keyof MlConfig['suggestions']['bounds'];
export type ConfidenceLevel = 'HIGH' | 'MEDIUM' | 'LOW';

const MACRO_STRATEGIES: StrategyId[] = ['dca', 'swing_breakout', 'channel'];

/** What a tunable config key is: its bound, and the strategies (and tier) whose trades it changes. */
export interface TunableKey {
  key: string;
  bound: BoundName;
  strategies: StrategyId[];
  /** For per-tier exits: the tier whose symbols' trades it changes. */
  tier: string | null;
}

/** The tunable parameter a config key path is, or null. */
export function tunableKey(key: string): TunableKey | null {
  if (key === 'macro.setups.DCA.dropFromHighPct') return { key, bound: 'dcaDropPct', strategies: ['dca'], tier: null };
  if (key === 'macro.setups.SWING.breakoutPct') return { key, bound: 'swingBreakoutPct', strategies: ['swing_breakout'], tier: null };
  const m = /^macro\.exits\.([a-z_]+)\.(takeProfitPct|stopLossPct)$/.exec(key);
  if (m) return { key, bound: m[2] as 'takeProfitPct' | 'stopLossPct', strategies: [...MACRO_STRATEGIES], tier: m[1] as string };
  return null;
}

export interface SuggestionEvidence {
  variation: string;
  description: string;
  /** Every override of the variation (the key suggested, and what else it changed). */
  overrides: Record<string, number | boolean | string>;
  periodHours: number;
  trades: number;
  winRate: number | null;
  profitFactor: number | null;
  pnl: number;
  champion: { trades: number; winRate: number | null; profitFactor: number | null; pnl: number };
  /** (challenger P&L - champion P&L) / max(|champion P&L|, 1 % of equity) x 100. */
  outperformancePct: number;
  pValue: number | null;
  /** pValue below config/ml shadow.significanceP. */
  significant: boolean;
  confidence: ConfidenceLevel;
  stepShare: number;
}

export interface ThresholdSuggestion {
  id: string;
  runId: string;
  createdAt: number;
  /** Config key path (`macro.exits.large_cap.takeProfitPct`). */
  key: string;
  bound: BoundName;
  strategies: StrategyId[];
  tier: string | null;
  /** `config/{name}` and the field in it (what owner-commands writes). */
  document: string;
  field: string;
  before: number;
  after: number;
  /** The best challenger's value. */
  optimum: number;
  evidence: SuggestionEvidence;
  summary: string;
}

/** Outperformance % of a challenger's P&L over the champion's (see the header). */
export function outperformancePct(challengerPnl: number, championPnl: number, equityUsd: number): number {
  return ((challengerPnl - championPnl) / Math.max(Math.abs(championPnl), 0.01 * equityUsd)) * 100;
}

/** The graduated confidence of `trades` trades beating the champion by `outPct` %, or null below LOW. */
export function confidenceOf(trades: number, outPct: number, cfg: MlConfig['suggestions']['confidence']): { level: ConfidenceLevel; stepShare: number } | null {
  const levels: Array<[ConfidenceLevel, MlConfig['suggestions']['confidence']['high']]> = [
    ['HIGH', cfg.high],
    ['MEDIUM', cfg.medium],
    ['LOW', cfg.low],
  ];
  for (const [level, c] of levels) if (trades >= c.minTrades && outPct > c.minOutperformancePct) return { level, stepShare: c.stepShare };
  return null;
}

/** Rounds a percentage to 0.05 (the precision of these thresholds). */
export function roundStep(x: number): number {
  return Math.round(x * 20 + 1e-9) / 20;
}

/**
 * The next value: `stepFraction x stepShare` of the way from `current` toward `optimum`, rounded to
 * 0.05, clamped into `[lo, hi]`; null when that is no change, or when `current` itself is outside the bounds.
 */
export function stepToward(current: number, optimum: number, stepFraction: number, stepShare: number, [lo, hi]: readonly [number, number]): number | null {
  // a value in force outside the bounds (the owner's own edit): the clamp could step AWAY from the
  // evidence or jump further than the step; no suggestion rather than a misleading one
  if (current < lo || current > hi) return null;
  const raw = current + stepFraction * stepShare * (optimum - current);
  const next = Math.min(hi, Math.max(lo, roundStep(raw)));
  return Math.abs(next - current) < 1e-9 ? null : Number(next.toFixed(2));
}

/** Deterministic suggestion id per (shadow run, key): <= 23 characters (fits Telegram callback data). */
export function suggestionIdOf(runId: string, key: string): string {
  return `sg_${createHash('sha256').update(`${runId}|${key}`).digest('hex').slice(0, 20)}`;
}

function getNumber(obj: unknown, key: string): number | undefined {
  let cur: unknown = obj;
  for (const p of key.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[p];
  }
  return typeof cur === 'number' ? cur : undefined;
}

/** The longest period in which `v` has at least `minTrades` trades, with both sides' figures. */
function evidencePeriod(v: ShadowVariationResult, champion: ShadowVariationResult, periods: number[], minTrades: number): { hours: number; ch: ShadowPeriodStats; champ: ShadowPeriodStats } | null {
  for (const hours of [...periods].sort((a, b) => b - a)) {
    const ch = v.periods[String(hours)];
    const champ = champion.periods[String(hours)];
    if (ch && champ && ch.trades >= minTrades) return { hours, ch, champ };
  }
  return null;
}

const fmt = (x: number | null, d = 2) => (x === null ? 'n/a' : x.toFixed(d));

/**
 * The threshold suggestions a shadow run supports (see the header), one per tunable key at most,
 * sorted by key. `current` is the config in force (the champion).
 */
export function suggestFromShadow(results: ShadowResults, current: StrategyConfigs, cfg: MlConfig, now: number): ThresholdSuggestion[] {
  const s = cfg.suggestions;
  const champion = results.variations.find((v) => v.name === 'CHAMPION');
  if (!champion || champion.error) return [];
  const equity = current.risk.startingEquityUsd;
  const best = new Map<string, { value: number; evidence: SuggestionEvidence; tk: TunableKey }>();
  for (const v of results.variations) {
    if (v.name === 'CHAMPION' || v.error) continue;
    // Evidence for a threshold only from a variation that changes thresholds only: one that also
    // changes the risk, the ML filter or a time exit cannot credit its gap to any one of them.
    const keys = Object.entries(v.overrides);
    if (keys.length === 0 || keys.some(([k, val]) => tunableKey(k) === null || typeof val !== 'number')) continue;
    const period = evidencePeriod(v, champion, results.periodsHours, s.minTrades);
    if (!period) continue;
    const { hours, ch, champ } = period;
    // More P&L from trading less is not a better threshold: per trade it must not be worse
    // (and a significant difference must be in the challenger's favour).
    if (ch.meanPnlPct === null || champ.meanPnlPct === null || ch.meanPnlPct < champ.meanPnlPct) continue;
    const out = outperformancePct(ch.pnl, champ.pnl, equity);
    const conf = confidenceOf(ch.trades, out, s.confidence);
    if (!conf) continue;
    for (const [key, value] of Object.entries(v.overrides)) {
      const tk = tunableKey(key);
      if (!tk || typeof value !== 'number') continue;
      const evidence: SuggestionEvidence = {
        variation: v.name,
        description: v.description,
        overrides: v.overrides,
        periodHours: hours,
        trades: ch.trades,
        winRate: ch.winRate,
        profitFactor: ch.profitFactor,
        pnl: ch.pnl,
        champion: { trades: champ.trades, winRate: champ.winRate, profitFactor: champ.profitFactor, pnl: champ.pnl },
        outperformancePct: Number(out.toFixed(2)),
        pValue: ch.pValue,
        significant: ch.pValue !== null && ch.pValue < cfg.shadow.significanceP,
        confidence: conf.level,
        stepShare: conf.stepShare,
      };
      const prev = best.get(key)?.evidence;
      // the best: higher outperformance, then higher confidence, then the name (deterministic)
      const better =
        !prev ||
        evidence.outperformancePct > prev.outperformancePct ||
        (evidence.outperformancePct === prev.outperformancePct && (evidence.stepShare > prev.stepShare || (evidence.stepShare === prev.stepShare && v.name < prev.variation)));
      if (better) best.set(key, { value, evidence, tk });
    }
  }
  const out: ThresholdSuggestion[] = [];
  for (const [key, { value: optimum, evidence, tk }] of [...best.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const before = getNumber(current, key);
    if (before === undefined) continue;
    const after = stepToward(before, optimum, s.stepFraction, evidence.stepShare, s.bounds[tk.bound]);
    if (after === null) continue;
    const parts = key.split('.');
    const e = evidence;
    out.push({
      id: suggestionIdOf(results.runId, key),
      runId: results.runId,
      createdAt: now,
      key,
      bound: tk.bound,
      strategies: tk.strategies,
      tier: tk.tier,
      document: configPath(parts[0] as string),
      field: parts.slice(1).join('.'),
      before,
      after,
      optimum,
      evidence,
      summary:
        `shadow ${e.variation} (${key} ${optimum}) over ${e.periodHours}h: ${e.trades} trades, win ${fmt(e.winRate === null ? null : e.winRate * 100, 0)}%, ` +
        `PF ${fmt(e.profitFactor)}, P&L ${e.pnl.toFixed(2)} vs champion ${e.champion.pnl.toFixed(2)} (${e.outperformancePct >= 0 ? '+' : ''}${e.outperformancePct.toFixed(1)}%), ` +
        `p=${fmt(e.pValue, 3)}, ${e.confidence} confidence: ${Math.round(s.stepFraction * e.stepShare * 100)}% of the way`,
    });
  }
  return out;
}

/** Writes each suggestion as `suggestions/{id}` (+ `ml_suggestions/{id}` for the bot); `create`: a retried run writes nothing twice. */
export async function storeSuggestions(state: StateStore, suggestions: readonly ThresholdSuggestion[]): Promise<{ created: string[] }> {
  const created: string[] = [];
  for (const sg of suggestions) {
    const doc = JSON.parse(
      JSON.stringify({
        id: sg.id,
        kind: 'learning_threshold',
        status: 'pending',
        appliedAutomatically: false,
        createdAt: sg.createdAt,
        runId: sg.runId,
        changes: [{ key: sg.key, document: sg.document, field: sg.field, before: sg.before, after: sg.after }],
        scope: { strategies: sg.strategies, tier: sg.tier },
        optimum: sg.optimum,
        evidence: sg.evidence,
        summary: sg.summary,
      }),
    ) as DocData;
    const a = await state.create(suggestionPath(sg.id), doc);
    const b = await state.create(mlSuggestionPath(sg.id), {
      id: sg.id,
      strategy: sg.document.replace(/^config\//, ''),
      parameter: sg.key,
      current: sg.before,
      suggested: sg.after,
      status: 'pending',
      createdAt: sg.createdAt,
      summary: sg.summary,
    } satisfies Record<string, JsonValue>);
    if (a || b) created.push(sg.id);
    await supersedeOlder(state, sg);
  }
  return { created };
}

/**
 * Older suggestions of the same key still pending are superseded by `sg` (each daily shadow run has
 * its own id, so without this /suggestions would list the key once per day, and approving one would
 * leave the others stale). In a transaction per older one: one the owner decided meanwhile stays as
 * decided.
 */
async function supersedeOlder(state: StateStore, sg: ThresholdSuggestion): Promise<void> {
  const older = await state.query<{ id?: string; createdAt?: number }>(ML_SUGGESTIONS_COLLECTION, {
    where: [
      { field: 'status', op: '==', value: 'pending' },
      { field: 'parameter', op: '==', value: sg.key },
    ],
  });
  for (const o of older) {
    if (o.id === sg.id || !(typeof o.data.createdAt === 'number' && o.data.createdAt <= sg.createdAt)) continue;
    await state.runTransaction(async (tx) => {
      const item = await tx.get<{ status?: string }>(mlSuggestionPath(o.id));
      const rec = await tx.get<{ status?: string; kind?: string }>(suggestionPath(o.id));
      if (item?.status !== 'pending') return;
      tx.merge(mlSuggestionPath(o.id), { status: 'superseded', supersededBy: sg.id });
      if (rec && rec.kind === 'learning_threshold' && rec.status === 'pending') tx.merge(suggestionPath(o.id), { status: 'superseded', supersededBy: sg.id });
    });
  }
}

/** The calendar day (YYYY-MM-DD) of `t` in `timeZone`: the key of the daily limit. */
export function localDay(t: number, timeZone = ADJUSTMENT_TIME_ZONE): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(t));
}

/**
 * The step after a shadow run: the suggestions the latest results (`shadow/latest`, validated) support
 * against the config in force, stored for the owner. A missing run gives nothing; a stored document
 * that does not validate is refused with its reason (never half-read).
 */
export async function proposeFromLatestShadow(state: StateStore, current: StrategyConfigs, now: number): Promise<{ runId: string | null; suggestions: ThresholdSuggestion[]; created: string[] }> {
  const raw = await state.get(SHADOW_LATEST_PATH);
  if (raw === undefined) return { runId: null, suggestions: [], created: [] };
  const parsed = shadowResultsSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`${SHADOW_LATEST_PATH} is not a valid shadow result (${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}); run the shadow test again`);
  }
  const suggestions = suggestFromShadow(parsed.data, current, current.ml, now);
  const { created } = await storeSuggestions(state, suggestions);
  return { runId: parsed.data.runId, suggestions, created };
}
