/**
 * Lookahead check (Freqtrade's lookahead-analysis, done the direct way): change the FUTURE, compare the
 * PAST. A run is repeated on data whose candles after a cut time t are altered; every decision taken
 * by t, every signal given to the core by t and every trade closed by t must be identical to the
 * unaltered run's, field for field. A strategy (or indicator, or level, or fill rule) that reads a
 * candle closing after t shows up as a difference before t. Pure: the caller runs the backtest.
 *
 * Alterations of the candles closing after t (close time = open time + 1m > t):
 * - `drop`: they are removed (the run ends at t);
 * - `replace`: they are replaced by a different REAL segment of the same series (the candles from the
 *   start of the series on, at the original times), scaled so that its first open is the last close
 *   before t (a continuous, real-shaped but different future);
 * - `distort`: prices x 1.07 on odd minutes and x 0.95 on even ones (highs / lows around open /
 *   close), volumes x 3 (test/backtest/lookahead.test.ts's alteration).
 * Each check also says whether the alteration changed anything after t: a check whose future did not
 * matter, or with nothing to compare before t, proves nothing and is reported as such.
 */
import type { ClosedTrade } from '../model/trading.js';
import { INTERVAL_MS } from '../model/market.js';
import { allocSeries, type CandleSeries } from '../strategies/series.js';

export const ALTERATIONS = ['drop', 'replace', 'distort'] as const;
export type Alteration = (typeof ALTERATIONS)[number];

/** What a check compares: the run's scan decisions, its signals and its closed trades. */
export interface LookaheadRun {
  decisions: ReadonlyArray<{ signalId: string; strategy: string; ts: number }>;
  signals: ReadonlyArray<{ signalId: string; strategy: string; now: number }>;
  trades: readonly ClosedTrade[];
}

/** A copy of `s` whose candles closing after `cut` are altered as `how` says. */
export function alterAfter(s: CandleSeries, cut: number, how: Alteration): CandleSeries {
  const iv = INTERVAL_MS[s.interval];
  let keep = 0;
  while (keep < s.length && (s.openTime[keep] as number) + iv <= cut) keep++;
  const n = how === 'drop' ? keep : s.length;
  const out = allocSeries(s.symbol, s.interval, s.venue, n);
  const lastClose = keep > 0 ? (s.close[keep - 1] as number) : (s.open[0] as number);
  const scale = lastClose / (s.open[0] as number);
  for (let i = 0; i < n; i++) {
    out.openTime[i] = s.openTime[i] as number;
    if (i < keep) {
      out.open[i] = s.open[i] as number;
      out.high[i] = s.high[i] as number;
      out.low[i] = s.low[i] as number;
      out.close[i] = s.close[i] as number;
      out.volume[i] = s.volume[i] as number;
    } else if (how === 'replace') {
      const j = (i - keep) % Math.max(1, keep);
      out.open[i] = (s.open[j] as number) * scale;
      out.high[i] = (s.high[j] as number) * scale;
      out.low[i] = (s.low[j] as number) * scale;
      out.close[i] = (s.close[j] as number) * scale;
      out.volume[i] = s.volume[j] as number;
    } else {
      const k = ((s.openTime[i] as number) / iv) % 2 === 1 ? 1.07 : 0.95;
      const o = (s.open[i] as number) * k;
      const c = (s.close[i] as number) * k;
      out.open[i] = o;
      out.close[i] = c;
      out.high[i] = Math.max(o, c) * 1.004;
      out.low[i] = Math.min(o, c) * 0.996;
      out.volume[i] = (s.volume[i] as number) * 3;
    }
  }
  return out;
}

/** Default cuts: `count` close times spread evenly inside [from, to] (minute marks, 7 min past a quarter hour: mid-bucket for 15m / 1h). */
export function defaultCuts(from: number, to: number, count: number): number[] {
  const MIN = INTERVAL_MS['1m'];
  const out: number[] = [];
  for (let k = 1; k <= count; k++) {
    const t = from + ((to - from) * k) / (count + 1);
    out.push(Math.floor(t / (15 * MIN)) * 15 * MIN + 7 * MIN);
  }
  return [...new Set(out)].filter((t) => t > from && t < to);
}

export interface Difference {
  kind: 'decision' | 'signal' | 'trade';
  strategy: string;
  /** Time of the item (decision ts, signal now, trade exit). */
  ts: number;
  /** The item in the unaltered run and in the altered one (null: missing there). */
  original: unknown;
  altered: unknown;
}

interface StrategyCheck {
  decisions: number;
  signals: number;
  trades: number;
  first: Difference | null;
}

export interface CutCheck {
  cut: number;
  alteration: Alteration;
  /** Per strategy: what was compared up to the cut and the first difference. */
  strategies: Record<string, StrategyCheck>;
  /** The alteration changed a decision, signal or trade after the cut (the check could fail). */
  changedAfter: boolean;
}

const plain = (x: unknown) => JSON.stringify(x, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? String(v) : v));

/** The items of one kind up to the cut, per strategy, compared in order; the first difference. */
function firstDiff<T extends { strategy: string }>(kind: Difference['kind'], a: readonly T[], b: readonly T[], timeOf: (x: T) => number, cut: number, out: Record<string, StrategyCheck>, count: 'decisions' | 'signals' | 'trades'): void {
  const by = (xs: readonly T[]) => {
    const m = new Map<string, T[]>();
    for (const x of xs) {
      if (timeOf(x) > cut) continue;
      let l = m.get(x.strategy);
      if (!l) m.set(x.strategy, (l = []));
      l.push(x);
    }
    return m;
  };
  const ma = by(a);
  const mb = by(b);
  for (const s of new Set([...ma.keys(), ...mb.keys()])) {
    const c = (out[s] ??= { decisions: 0, signals: 0, trades: 0, first: null });
    const la = ma.get(s) ?? [];
    const lb = mb.get(s) ?? [];
    c[count] = la.length;
    if (c.first) continue;
    for (let k = 0; k < Math.max(la.length, lb.length); k++) {
      const x = la[k];
      const y = lb[k];
      if (x !== undefined && y !== undefined && plain(x) === plain(y)) continue;
      c.first = { kind, strategy: s, ts: Math.min(x ? timeOf(x) : Infinity, y ? timeOf(y) : Infinity), original: x ?? null, altered: y ?? null };
      break;
    }
  }
}

/** Compares an unaltered run with a run on data altered after `cut`. */
export function compareUpTo(original: LookaheadRun, altered: LookaheadRun, cut: number, alteration: Alteration, strategies: readonly string[] = []): CutCheck {
  const out: Record<string, StrategyCheck> = {};
  for (const s of strategies) out[s] = { decisions: 0, signals: 0, trades: 0, first: null };
  firstDiff('decision', original.decisions, altered.decisions, (d) => d.ts, cut, out, 'decisions');
  firstDiff('signal', original.signals, altered.signals, (s) => s.now, cut, out, 'signals');
  firstDiff('trade', original.trades, altered.trades, (t) => t.exitTime, cut, out, 'trades');
  const after = (r: LookaheadRun) =>
    plain([r.decisions.filter((d) => d.ts > cut), r.signals.filter((s) => s.now > cut), r.trades.filter((t) => t.exitTime > cut)]);
  return { cut, alteration, strategies: out, changedAfter: after(original) !== after(altered) };
}

export type Verdict = 'no lookahead' | 'LOOKAHEAD' | 'untested';

export interface LookaheadReport {
  checks: CutCheck[];
  /** Per strategy: LOOKAHEAD when any check differs before its cut; untested when no check compared a decision of it. */
  verdicts: Record<string, { verdict: Verdict; decisions: number; trades: number; first: (Difference & { cut: number; alteration: Alteration }) | null }>;
  lookahead: boolean;
}

export interface LookaheadInput {
  series: readonly CandleSeries[];
  cuts: readonly number[];
  alterations?: readonly Alteration[];
  /** Strategies to give a verdict on even when they decided nothing. */
  strategies?: readonly string[];
  /** The run under test (the same config every time) on a set of series. */
  run: (series: CandleSeries[]) => LookaheadRun;
  onProgress?: (done: number, total: number) => void;
}

/** The unaltered run, then one run per cut and alteration, compared up to the cut. */
export function checkLookahead(x: LookaheadInput): LookaheadReport {
  const alterations = x.alterations ?? ['replace', 'drop'];
  const total = 1 + x.cuts.length * alterations.length;
  const base = x.run([...x.series]);
  let done = 1;
  x.onProgress?.(done, total);
  const checks: CutCheck[] = [];
  for (const cut of x.cuts) {
    for (const how of alterations) {
      const altered = x.run(x.series.map((s) => alterAfter(s, cut, how)));
      checks.push(compareUpTo(base, altered, cut, how, x.strategies));
      x.onProgress?.(++done, total);
    }
  }
  const verdicts: LookaheadReport['verdicts'] = {};
  for (const c of checks) {
    for (const [s, r] of Object.entries(c.strategies)) {
      const v = (verdicts[s] ??= { verdict: 'untested', decisions: 0, trades: 0, first: null });
      v.decisions += r.decisions;
      v.trades += r.trades;
      if (r.first && !v.first) v.first = { ...r.first, cut: c.cut, alteration: c.alteration };
    }
  }
  for (const v of Object.values(verdicts)) v.verdict = v.first ? 'LOOKAHEAD' : v.decisions + v.trades > 0 ? 'no lookahead' : 'untested';
  return { checks, verdicts, lookahead: Object.values(verdicts).some((v) => v.verdict === 'LOOKAHEAD') };
}

const iso = (t: number) => new Date(t).toISOString().slice(0, 16).replace('T', ' ');

/** The report as text: per cut and alteration what was compared, per strategy the verdict and the first difference. */
export function formatLookahead(r: LookaheadReport): string {
  const out: string[] = [];
  for (const c of r.checks) {
    const parts = Object.entries(c.strategies).map(([s, x]) => `${s} ${x.decisions} decisions / ${x.signals} signals / ${x.trades} trades${x.first ? ' DIFFER' : ''}`);
    out.push(`cut ${iso(c.cut)} UTC, future ${c.alteration === 'drop' ? 'dropped' : c.alteration === 'replace' ? 'replaced by another real segment' : 'distorted'}: compared up to the cut ${parts.join('; ') || 'nothing'}; the future ${c.changedAfter ? 'changed later results' : 'changed nothing after the cut (this check proves little)'}`);
  }
  out.push('');
  for (const [s, v] of Object.entries(r.verdicts)) {
    out.push(`${s}: ${v.verdict}${v.verdict === 'untested' ? ' (no decision or trade before a cut: give more data or other cuts)' : ` (${v.decisions} decisions and ${v.trades} trades compared)`}`);
    if (v.first) {
      out.push(`  first difference: a ${v.first.kind} at ${iso(v.first.ts)} UTC, before the cut ${iso(v.first.cut)} (future ${v.first.alteration}):`);
      out.push(`    original: ${plain(v.first.original)}`);
      out.push(`    altered:  ${plain(v.first.altered)}`);
    }
  }
  out.push('');
  out.push(r.lookahead ? 'verdict: LOOKAHEAD: results before a cut depend on candles after it' : 'verdict: no lookahead found');
  return out.join('\n');
}
