/**
 * The learning loop in Telegram (SPEC 8 / 9): `/models` (the model in force per strategy), `/shadow
 * [period]` (champion vs challengers: a phone-width table and a P&L bar chart), the models line of
 * `/status`, the ML line of a trade alert, and the daily research summary the retraining run queues
 * at 02:00 America/Los_Angeles.
 *
 * Every stored document is read through the state port and validated with its schema
 * (shared/learning/types.ts): a document that does not parse becomes one clear line in the reply
 * ("unreadable: <where>: <why>"), never a crash and never a half-read figure.
 *
 * The research summary goes to the OWNER only: it carries model internals, challenger configs and
 * threshold suggestions that only the owner can act on (approving suggestions is owner-only, SPEC 9);
 * members and groups get what is actionable for them (trade alerts, reports, /models and /shadow on
 * request).
 */
import type { z } from 'zod';
import type { BarChartInput } from '../charts/bar-chart.js';
import type { MlConfig } from '../config/strategy.js';
import { modelPath, modelVersionPath, learningStatePath, SHADOW_LATEST_PATH } from '../state-paths.js';
import { strategyIdSchema, type MlPrediction, type StrategyId } from '../model/trading.js';
import type { StateStore } from '../ports/state.js';
import {
  shadowResultsSchema,
  storedModelSchema,
  type ModelRun,
  type ReplacementOutcome,
  type ShadowPeriodStats,
  type ShadowResults,
  type StoredModel,
} from '../learning/types.js';
import { parsePeriod } from './command-parser.js';
import type { TelegramDeps, TelegramSide } from './deps.js';
import { drainAndContinue } from './dispatch.js';
import { escapeHtml, fmtDuration, fmtTimeUtc, fmtUsd, html, MAX_CAPTION_CHARS, MAX_MESSAGE_CHARS, truncateHtml } from './html.js';
import { enqueue, type EnqueueItem } from './outbox.js';
import { encodeCallback } from './keyboards.js';
import type { InlineKeyboard } from '../ports/telegram.js';
import { approveFeatureChange, learningCursorSchema, loadCursor, loadModel } from '../learning/model-store.js';

/** Every strategy, in the catalog's order. */
export const STRATEGIES: readonly StrategyId[] = strategyIdSchema.options;

/** /shadow without an argument. */
export const DEFAULT_SHADOW_PERIOD = '7d';

/** The <pre> table of /shadow fits a phone held upright: at most this many characters a line. */
export const SHADOW_TABLE_WIDTH = 40;

// ---------- validated reads ----------

export type DocRead<T> = { status: 'ok'; doc: T } | { status: 'absent' } | { status: 'invalid'; reason: string };

/** The first problem of a failed parse, as `where: why`. */
function issueText(e: z.ZodError): string {
  const i = e.issues[0];
  if (!i) return 'invalid document';
  return `${i.path.length ? i.path.join('.') : '(document)'}: ${i.message}`;
}

/** One stored document, validated: ok, absent, or invalid with its reason (never throws on bad data). */
export async function readDoc<T>(state: Pick<StateStore, 'get'>, path: string, schema: z.ZodType<T>): Promise<DocRead<T>> {
  const raw = await state.get<unknown>(path);
  if (raw === undefined || raw === null) return { status: 'absent' };
  const r = schema.safeParse(raw);
  return r.success ? { status: 'ok', doc: r.data } : { status: 'invalid', reason: issueText(r.error) };
}

/**
 * What /models shows of the retraining cursor (`learning/{strategy}`, the retraining run's, validated
 * with its schema in shared/learning/model-store.ts): the completed trades its last run saw
 * (`tradesSeen`) and a candidate waiting for the owner's approval of a feature change (`pending`).
 * Absent or unreadable: neither is shown (never guessed).
 */
function cursorOf(doc: unknown): { labelledTrades: number | null; pending: { version: string; reason: string } | null } {
  const c = doc === undefined ? null : learningCursorSchema.safeParse(doc);
  if (!c?.success) return { labelledTrades: null, pending: null };
  return { labelledTrades: c.data.tradesSeen, pending: c.data.pending };
}

export interface ModelEntry {
  strategy: StrategyId;
  model: DocRead<StoredModel>;
  labelledTrades: number | null;
  /** A trained candidate kept out until the owner approves its feature change. */
  pending: { version: string; reason: string } | null;
}

/** The model in force of every strategy (validated), with the retraining cursor's trade count. */
export async function readModels(state: Pick<StateStore, 'get'>): Promise<ModelEntry[]> {
  return Promise.all(
    STRATEGIES.map(async (strategy) => {
      const [model, cursor] = await Promise.all([readDoc(state, modelPath(strategy), storedModelSchema), state.get<unknown>(learningStatePath(strategy))]);
      return { strategy, model, ...cursorOf(cursor) };
    }),
  );
}

export function readShadow(state: Pick<StateStore, 'get'>): Promise<DocRead<ShadowResults>> {
  return readDoc(state, SHADOW_LATEST_PATH, shadowResultsSchema);
}

// ---------- /models ----------

const f2 = (v: number) => v.toFixed(2);
const f3 = (v: number) => v.toFixed(3);
const day = (t: number) => new Date(t).toISOString().slice(0, 10);

/** `ML advisory (min confidence 0.6)`, or the filter wording. */
export function mlModeText(ml: Pick<MlConfig, 'mode' | 'minConfidence'>): string {
  return ml.mode === 'filter' ? `ML filter: signals with P(win) &lt; ${ml.minConfidence} are refused` : `ML advisory (shown, nothing filtered; filter min ${ml.minConfidence})`;
}

function modelBlock(e: ModelEntry, minNewTrades: number, now: number): string[] {
  const lines = modelLines(e, minNewTrades, now);
  if (e.pending) lines.push(html`   ⏳ ${e.pending.version} waits for the owner's approval${e.pending.reason ? `: ${e.pending.reason}` : ''}`);
  return lines;
}

function modelLines(e: ModelEntry, minNewTrades: number, now: number): string[] {
  const head = html`<b>${e.strategy}</b>`;
  if (e.model.status === 'absent') {
    const n = e.labelledTrades === null ? '' : `${e.labelledTrades} labelled trades, `;
    return [`${head} · no model yet (${n}needs ${minNewTrades} new)`];
  }
  if (e.model.status === 'invalid') return [`${head}${html` · ⚠️ stored model unreadable (${e.model.reason}); the next retraining replaces it`}`];
  const m = e.model.doc;
  const w = m.window;
  const top = m.importances
    .slice()
    .sort((a, b) => b.importance - a.importance)
    .slice(0, 3)
    .map((i) => html`${i.feature} ${f2(i.importance)}`);
  return [
    `${head}${html` · <code>${m.version}</code> · score <b>${f3(m.metrics.score)}</b>`}`,
    html`   acc ${f2(m.metrics.accuracy)} · prec ${f2(m.metrics.precision)} · rec ${f2(m.metrics.recall)} (${m.metrics.rows} scored, ${m.metrics.wins} won)`,
    html`   trained ${fmtTimeUtc(m.trainedAt)} (${fmtDuration(now - m.trainedAt)} ago)`,
    html`   window ${day(w.trainFrom)} → ${day(w.scoreTo)} · ${w.trainRows} train + ${w.scoreRows} scored rows`,
    `   top: ${top.length ? top.join(' · ') : 'no importances'}`,
  ];
}

/** The /models reply. */
export function modelsText(entries: readonly ModelEntry[], ml: Pick<MlConfig, 'mode' | 'minConfidence' | 'retrain'>, now: number): string {
  const lines = [`🧠 <b>Models</b> · ${mlModeText(ml)}`];
  for (const e of entries) lines.push(...modelBlock(e, ml.retrain.minNewTrades, now));
  return truncateHtml(lines.join('\n'), MAX_MESSAGE_CHARS);
}

export async function modelsReply(d: Pick<TelegramDeps, 'state' | 'config'>, now: number): Promise<string> {
  const [entries, st] = await Promise.all([readModels(d.state), d.config.strategies()]);
  return modelsText(entries, st.ml, now);
}

/** The models line of /status: ML mode, then per strategy its version and score. */
export function statusModelsLine(entries: readonly ModelEntry[], ml: Pick<MlConfig, 'mode' | 'minConfidence'>): string {
  const per = entries.map((e) =>
    e.model.status === 'ok'
      ? html`${e.strategy} @${e.model.doc.n} ${f2(e.model.doc.metrics.score)}`
      : e.model.status === 'absent'
        ? html`${e.strategy} none`
        : html`${e.strategy} ⚠️ unreadable`,
  );
  return `<b>Models</b>: ML ${escapeHtml(ml.mode)} (min confidence ${ml.minConfidence}) · ${per.join(' · ')}`;
}

// ---------- /shadow ----------

/** 24 -> `24h`, 72 -> `3d`, 168 -> `7d`, 720 -> `30d`. */
export function periodLabel(hours: number): string {
  return hours >= 48 && hours % 24 === 0 ? `${hours / 24}d` : `${hours}h`;
}

/** The hours of a /shadow argument when the run has that period; null otherwise. `1w` = `7d`. */
export function shadowPeriodHours(arg: string | undefined, available: readonly number[]): number | null {
  const p = parsePeriod(arg, DEFAULT_SHADOW_PERIOD);
  if (!p) return null;
  const hours = p.ms / 3_600_000;
  return Number.isInteger(hours) && available.includes(hours) ? hours : null;
}

export interface ShadowRow {
  name: string;
  champion: boolean;
  stats: ShadowPeriodStats;
}

/** Variations with figures for the period, by P&L (best first); and those that could not run. */
export function shadowRows(r: ShadowResults, hours: number): { rows: ShadowRow[]; failed: Array<{ name: string; error: string }> } {
  const rows: ShadowRow[] = [];
  const failed: Array<{ name: string; error: string }> = [];
  for (const v of r.variations) {
    if (v.error !== undefined) {
      failed.push({ name: v.name, error: v.error });
      continue;
    }
    const stats = v.periods[String(hours)];
    if (stats) rows.push({ name: v.name, champion: v.name === 'CHAMPION', stats });
  }
  rows.sort((a, b) => b.stats.pnl - a.stats.pnl || Number(b.champion) - Number(a.champion) || a.name.localeCompare(b.name));
  return { rows, failed };
}

/**
 * A variation name in at most `w` characters: the longest word (split on `_`) shortened first, numbers kept
 * (CONFIDENCE_55 -> CONFIDE_55, VOLATILITY_SIZED -> VOLAT_SIZE); one long word is cut with a dot.
 */
export function abbreviate(name: string, w: number): string {
  if (name.length <= w) return name;
  const parts = name.split('_').filter(Boolean);
  if (parts.length > 1) {
    // shorten the longest word (the last of equals) one letter at a time
    while (parts.join('_').length > w) {
      let at = -1;
      for (const [i, p] of parts.entries()) if (!/^\d+$/.test(p) && p.length > 1 && (at < 0 || p.length >= parts[at]!.length)) at = i;
      if (at < 0) break;
      parts[at] = parts[at]!.slice(0, -1);
    }
    const s = parts.join('_');
    if (s.length <= w) return s;
  }
  return `${name.slice(0, w - 1)}.`;
}

const lpad = (s: string, n: number) => (s.length >= n ? s : ' '.repeat(n - s.length) + s);
const rpad = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));

function cellTrades(n: number): string {
  return n >= 10_000 ? `${Math.round(n / 1000)}k` : String(n);
}
function cellPf(pf: number | null, trades: number, wins: number): string {
  if (pf === null) return trades > 0 && wins > 0 ? 'inf' : '-';
  return pf >= 100 ? '>99' : pf >= 10 ? pf.toFixed(1) : pf.toFixed(2);
}
/** Signed USD in at most 7 characters (+12.3, -1234, +123k). */
export function cellPnl(v: number): string {
  const a = Math.abs(v);
  const sign = v < 0 ? '-' : v > 0 ? '+' : '';
  const body = a >= 100_000 ? `${Math.round(a / 1000)}k` : a >= 100 ? a.toFixed(0) : a.toFixed(1);
  return body === '0.0' ? '0.0' : `${sign}${body}`;
}
function cellP(p: number | null): string {
  if (p === null) return '-';
  return p < 0.001 ? '<.001' : p.toFixed(3);
}

/** The plain-text table (escape before putting it in HTML): header + one line per row, each <= SHADOW_TABLE_WIDTH. */
export function shadowTableLines(rows: readonly ShadowRow[], significanceP: number): string[] {
  const head = `${rpad('variation', 10)} ${lpad('n', 4)} ${lpad('win', 3)} ${lpad('PF', 4)} ${lpad('P&L $', 7)} ${lpad('p', 5)}`;
  const out = [head];
  for (const r of rows) {
    const s = r.stats;
    const name = r.champion ? '>CHAMPION' : abbreviate(r.name, 10);
    const win = s.winRate === null ? '-' : String(Math.round(s.winRate * 100));
    const mark = !r.champion && s.pValue !== null && s.pValue < significanceP ? '*' : '';
    out.push(`${rpad(name, 10)} ${lpad(cellTrades(s.trades), 4)} ${lpad(win, 3)} ${lpad(cellPf(s.profitFactor, s.trades, s.wins), 4)} ${lpad(cellPnl(s.pnl), 7)} ${lpad(r.champion ? 'base' : cellP(s.pValue), 5)}${mark}`);
  }
  return out;
}

/** The shadow section: table, legend, the best challenger against the champion, failed variations. */
function shadowSection(r: ShadowResults, hours: number): string[] {
  const { rows, failed } = shadowRows(r, hours);
  const lines: string[] = [];
  if (rows.length) {
    lines.push(`<pre>${escapeHtml(shadowTableLines(rows, r.significanceP).join('\n'))}</pre>`);
    lines.push(html`<i>win %, profit factor, P&amp;L after costs; p: Welch t-test vs the champion, * below ${r.significanceP}</i>`);
    const champ = rows.find((x) => x.champion);
    const best = rows.find((x) => !x.champion);
    if (champ && best) {
      const sig = best.stats.pValue !== null && best.stats.pValue < r.significanceP;
      const verdict = best.stats.pnl > champ.stats.pnl ? (sig ? 'beats the champion, significant' : 'ahead, not significant') : 'none beats the champion';
      lines.push(html`Best challenger: <b>${best.name}</b> ${fmtUsd(best.stats.pnl)} vs champion ${fmtUsd(champ.stats.pnl)} (${verdict})`);
    }
  } else {
    lines.push(html`No variation has figures for ${periodLabel(hours)}.`);
  }
  for (const f of failed) lines.push(html`⚠️ ${f.name} could not run: ${f.error}`);
  return lines;
}

/** The /shadow reply for one period of a (valid) run. */
export function shadowText(r: ShadowResults, hours: number, now: number): string {
  const challengers = r.variations.filter((v) => v.name !== 'CHAMPION').length;
  const lines = [
    html`🧪 <b>Shadow test</b> · ${periodLabel(hours)} · champion vs ${challengers} challengers`,
    html`<i>run ${fmtTimeUtc(r.ts)} (${fmtDuration(now - r.ts)} ago) · ${r.symbols.length} symbols · ${r.scans} scans</i>`,
    ...shadowSection(r, hours),
  ];
  return truncateHtml(lines.join('\n'), MAX_MESSAGE_CHARS);
}

/** The answer when there is no readable run. */
export function shadowMissingText(read: Exclude<DocRead<ShadowResults>, { status: 'ok' }>): string {
  return read.status === 'absent'
    ? '🧪 No shadow run yet: the shadow test has not written results (it runs after the daily retraining).'
    : html`🧪 ⚠️ The stored shadow results are unreadable (${read.reason}); the next shadow run replaces them.`;
}

export function shadowUsage(available: readonly number[]): string {
  return html`Usage: <code>/shadow 7d</code> (periods of the last run: ${available.map(periodLabel).join(', ')})`;
}

/** The P&L bar chart of one period (null when no variation has figures for it). */
export function shadowChartInput(r: ShadowResults, hours: number, size: 'alert' | 'large' = 'alert'): BarChartInput | null {
  const { rows } = shadowRows(r, hours);
  if (!rows.length) return null;
  return {
    title: `Shadow test · P&L ${periodLabel(hours)}`,
    subtitle: `champion vs challengers · after costs · run ${fmtTimeUtc(r.ts)}`,
    bars: rows.map((x) => ({ label: x.name, value: x.stats.pnl, valueText: fmtUsd(x.stats.pnl), highlight: x.champion })),
    size,
  };
}

export function shadowCaption(hours: number): string {
  return truncateHtml(html`🧪 <b>Shadow P&amp;L</b> · ${periodLabel(hours)} · champion in blue`, MAX_CAPTION_CHARS);
}

/** The chart of `/shadow` (a telegram job: rendered by the notifier). */
export async function shadowChartItem(d: Pick<TelegramDeps, 'state' | 'charts'>, hours: number, key: string, target: Pick<EnqueueItem, 'chatId' | 'threadId'>): Promise<EnqueueItem | null> {
  const read = await readShadow(d.state);
  if (read.status !== 'ok') return null;
  const input = shadowChartInput(read.doc, hours, 'large');
  if (!input) return null;
  const png = await d.charts.renderBarChart(input);
  return { key, ...target, op: { type: 'photo', fileId: '', caption: shadowCaption(hours) }, photo: { source: png.png, filename: `shadow-${periodLabel(hours)}.png`, contentType: 'image/png' } };
}

// ---------- the ML line of a trade alert ----------

/**
 * `🤖 ML P(win) 0.63 · v52_divergence@4`; `🤖 ML: no prediction (why) · version` when the model could
 * not predict; with `⛔ filtered (filter mode)` when the core refused the signal for it. Null without a
 * prediction (the strategy has no model).
 */
export function mlAlertLine(ml: MlPrediction | undefined | null, rejectionReason?: string | null): string | null {
  if (!ml) return null;
  const filtered = rejectionReason === 'ml_filter' || rejectionReason === 'ml_unavailable' ? ' · ⛔ filtered (filter mode)' : '';
  const head = ml.probability === null ? html`🤖 ML: no prediction (${ml.error ?? 'no reason given'})` : html`🤖 ML P(win) <b>${ml.probability.toFixed(2)}</b>`;
  return `${head}${html` · ${ml.modelVersion}`}${filtered}`;
}

// ---------- the daily research summary ----------

export interface ResearchSuggestion {
  id: string;
  strategy?: string;
  parameter: string;
  before: number | string;
  after: number | string;
  /** HIGH / MEDIUM / LOW (the graduated confidence). */
  confidence: string;
  /** The evidence, in words (trades, outperformance, p-value). */
  evidence: string;
}

export interface ResearchSummaryInput {
  runs: ModelRun[];
  shadow: ShadowResults | null;
  suggestions: ResearchSuggestion[];
}

const OUTCOME_TEXT: Record<ReplacementOutcome, { icon: string; text: string }> = {
  first_model: { icon: '✅', text: 'first model' },
  replaced: { icon: '✅', text: 'replaced' },
  owner_approved: { icon: '✅', text: 'replaced (owner-approved feature change)' },
  lower_score: { icon: '➖', text: 'kept out: lower score' },
  protected: { icon: '🛡', text: 'kept out: the model in force is protected' },
  features_changed: { icon: '⚠️', text: 'kept out: features changed (needs the owner’s approval)' },
  not_enough_trades: { icon: '⏸', text: 'not trained: too few new trades' },
  untrainable: { icon: '⏸', text: 'not trained: too few rows or one class only' },
};

function runLine(r: ModelRun): string {
  const o = OUTCOME_TEXT[r.outcome];
  const score = r.metrics ? html` · score ${f3(r.metrics.score)}` : '';
  const prev = r.previous ? html` (in force ${r.previous.version} ${f3(r.previous.score)})` : '';
  const trained = r.metrics ? html` · ${(r.trainMs / 1000).toFixed(1)} s` : '';
  return `${o.icon} ${html`<b>${r.strategy}</b> ${r.modelVersion}: ${o.text}`}${score}${prev}${html` · ${r.newTrades} new trades`}${trained}`;
}

/** The shadow period the summary shows: 7d when the run has it, else its longest. */
function summaryPeriod(r: ShadowResults): number | null {
  if (r.periodsHours.includes(168)) return 168;
  return r.periodsHours.length ? Math.max(...r.periodsHours) : null;
}

/**
 * The daily research summary (after the 02:00 retraining): the retraining runs, the shadow table,
 * the pending suggestions. Returns the HTML message and the shadow chart's input (null without a run).
 */
export function researchSummary(input: ResearchSummaryInput): { text: string; chart: BarChartInput | null; caption: string | null } {
  const stamps = [...input.runs.map((r) => r.ts), ...(input.shadow ? [input.shadow.ts] : [])];
  const lines = [`🔬 <b>Research summary</b>${stamps.length ? html` · ${day(Math.max(...stamps))}` : ''}`, '', '<b>Retraining</b>'];
  if (input.runs.length) for (const r of [...input.runs].sort((a, b) => a.strategy.localeCompare(b.strategy))) lines.push(runLine(r));
  else lines.push('No retraining run.');
  lines.push('');
  const hours = input.shadow ? summaryPeriod(input.shadow) : null;
  if (input.shadow && hours !== null) {
    lines.push(html`<b>Shadow test</b> · ${periodLabel(hours)}`);
    lines.push(...shadowSection(input.shadow, hours));
  } else {
    lines.push('<b>Shadow test</b>: no shadow run yet.');
  }
  lines.push('');
  if (input.suggestions.length) {
    lines.push(html`<b>Suggestions</b> (${input.suggestions.length}, applied only on your approval)`);
    for (const s of input.suggestions) {
      lines.push(html`• ${s.strategy ? `${s.strategy} · ` : ''}<code>${s.parameter}</code> ${String(s.before)} → <b>${String(s.after)}</b> · ${s.confidence}`);
      if (s.evidence) lines.push(html`   <i>${s.evidence}</i>`);
    }
    lines.push('Approve or reject: /suggestions');
  } else {
    lines.push('<b>Suggestions</b>: none today.');
  }
  const chart = input.shadow && hours !== null ? shadowChartInput(input.shadow, hours, 'alert') : null;
  return { text: truncateHtml(lines.join('\n'), MAX_MESSAGE_CHARS), chart, caption: chart && hours !== null ? shadowCaption(hours) : null };
}

/** `2025-06-22`: the America/Los_Angeles day of the summary (one summary per day). */
export function researchSlot(now: number, timeZone = 'America/Los_Angeles'): string {
  return new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date(now));
}

/**
 * Queues the research summary for the owner (text, then the shadow chart when there is a run). The
 * outbox keys derive from `slot` (researchSlot): a retried retraining run queues nothing new that day.
 * Goes to the owner's chat (`npm start`'s local console chat when no owner is configured); none:
 * nothing queued (`reason` says so).
 */
export async function queueResearchSummary(
  d: Pick<TelegramDeps, 'state' | 'charts' | 'access' | 'clock'>,
  input: ResearchSummaryInput,
  slot: string,
): Promise<{ queued: number; reason?: string }> {
  const owner = d.access.ownerChat;
  if (owner === undefined) return { queued: 0, reason: 'no owner chat (no telegram owner id configured, no local chat)' };
  const s = researchSummary(input);
  const items: EnqueueItem[] = [{ key: `research:${slot}:${owner}:text`, chatId: owner, op: { type: 'text', text: s.text } }];
  if (s.chart) {
    const png = await d.charts.renderBarChart(s.chart);
    items.push({ key: `research:${slot}:${owner}:png`, chatId: owner, op: { type: 'photo', fileId: '', caption: s.caption ?? '' }, photo: { source: png.png, filename: 'shadow.png', contentType: 'image/png' } });
  }
  return { queued: (await enqueue(d.state, items, d.clock.now())).length };
}

/**
 * What the retraining run (02:00 America/Los_Angeles) calls after it wrote its runs: queues the summary
 * for the owner (once per Los Angeles day of `now`) and drains the outbox, as the reports function does.
 */
export async function sendResearchSummary(
  side: TelegramSide,
  input: ResearchSummaryInput,
  now: number,
): Promise<{ slot: string; queued: number; sent: number; remaining: number; reason?: string }> {
  const slot = researchSlot(now);
  const q = await queueResearchSummary(side.deps, input, slot);
  const drained = await drainAndContinue(side.deps, side.sender);
  return { slot, queued: q.queued, sent: drained.sent, remaining: drained.remaining, ...(q.reason ? { reason: q.reason } : {}) };
}

// ---------- the owner's approval of a feature change ----------

/**
 * /models' owner buttons: one "approve" per strategy whose candidate waits only for the owner's
 * approval of its feature change (learning cursor `pending`); empty (no keyboard) when none waits.
 */
export async function modelApprovalKeyboard(state: Pick<StateStore, 'get'>): Promise<InlineKeyboard | undefined> {
  const rows: InlineKeyboard = [];
  for (const strategy of STRATEGIES) {
    const c = await loadCursor(state, strategy);
    if (!c.ok || !c.value.pending) continue;
    const version = c.value.pending.version;
    // the owner sees what the tap replaces: the candidate's score against the model in force's
    // (approving waives the feature rule, and with it the score comparison)
    const cand = await state.get<{ metrics?: { score?: unknown } }>(modelVersionPath(strategy, Number(version.slice(version.lastIndexOf('@') + 1))));
    const inForce = await loadModel(state, strategy);
    const score = typeof cand?.metrics?.score === 'number' ? cand.metrics.score.toFixed(2) : '?';
    const vs = inForce.ok && inForce.value ? ` vs ${inForce.value.metrics.score.toFixed(2)} in force` : '';
    rows.push([{ text: `✅ Approve ${version} (new features, score ${score}${vs})`, callback_data: encodeCallback({ kind: 'model_approve', version }) }]);
  }
  return rows.length ? rows : undefined;
}

/** The owner's tap on such a button: the pending candidate becomes the model in force (one transaction). */
export async function approveModelFeatureChange(state: StateStore, version: string, now: number): Promise<{ ok: true; applied: boolean; detail: string } | { ok: false; error: string }> {
  const strategy = strategyIdSchema.safeParse(version.slice(0, version.lastIndexOf('@')));
  if (!strategy.success) return { ok: false, error: `${version} is not a model version of a known strategy` };
  return approveFeatureChange(state, strategy.data, version, now);
}
