/**
 * Reading stored backtest runs (`backtests/{id}`, written by `npm run backtest -- --store`) back, for
 * `backtest show` and `backtest compare`. A stored document crossed a boundary: it is validated here
 * (only the parts these commands read; newer or older documents may carry more, or less). A run
 * stored before the analysis existed has no `analysis`: its breakdowns are recomputed from its stored
 * trades (every group; no entry-feature buckets, the stored trades carry no features), and a document
 * without trades shows its metrics only.
 */
import { z } from 'zod';
import type { ClosedTrade } from '../model/trading.js';
import type { StateStore } from '../ports/state.js';
import { backtestPath } from '../state-paths.js';
import { analyseRun, type RunAnalysis } from './analysis.js';
import type { BacktestMetrics } from './metrics.js';

const num = z.number().nullable();

/** The metrics a stored run must have (BacktestMetrics; non-finite numbers were stored as null). */
const metricsSchema = z
  .object({
    trades: z.number(),
    wins: z.number(),
    losses: z.number(),
    winRate: num,
    totalPnl: z.number(),
    totalPnlPct: z.number(),
    fees: z.number(),
    profitFactor: num,
    grossProfit: z.number(),
    grossLoss: z.number(),
    expectancy: num,
    maxDrawdownPct: z.number(),
    sharpe: num,
    sortino: num,
    avgDurationMin: num,
    marketChangePct: num,
  })
  .passthrough();

const storedTradeSchema = z
  .object({
    groupId: z.string(),
    symbol: z.string(),
    strategy: z.string(),
    direction: z.string(),
    pnl: z.number(),
    pnlPct: z.number(),
    entryTime: z.number(),
    exitTime: z.number(),
    exitReason: z.string(),
    avgEntry: z.number().optional(),
    exitPrice: z.number().optional(),
    qty: z.number().optional(),
    fees: z.number().optional(),
  })
  .passthrough();
export type StoredTrade = z.infer<typeof storedTradeSchema>;

const breakdownRowSchema = z.object({
  key: z.string(),
  trades: z.number(),
  wins: z.number(),
  winRate: num,
  pnl: z.number(),
  avgPnlPct: num,
  profitFactor: num,
  pfInfinite: z.boolean(),
  avgDurationMin: num,
});
const breakdownSchema = z.object({ name: z.string(), title: z.string(), rows: z.array(breakdownRowSchema) });
const analysisSchema = z.object({
  trades: z.number(),
  groups: z.array(breakdownSchema),
  features: z.array(breakdownSchema),
  featureSources: z.object({ decision: z.number(), tradeRow: z.number(), none: z.number() }),
});

export const storedRunSchema = z
  .object({
    id: z.string(),
    kind: z.string().optional(),
    createdAt: z.number().optional(),
    params: z
      .object({ symbols: z.array(z.string()).optional(), from: z.number().optional(), to: z.number().optional(), strategy: z.string().optional(), set: z.record(z.string(), z.unknown()).optional() })
      .passthrough()
      .optional(),
    run: z
      .object({
        from: z.number().optional(),
        to: z.number().optional(),
        symbols: z.array(z.string()).optional(),
        metrics: metricsSchema,
        notes: z.array(z.string()).optional(),
        trades: z.array(storedTradeSchema).optional(),
      })
      .passthrough(),
    analysis: analysisSchema.optional(),
  })
  .passthrough();
export type StoredRun = z.infer<typeof storedRunSchema>;

/** A stored document as a run, or a clear error naming what is wrong. */
export function parseStoredRun(id: string, doc: unknown): StoredRun {
  const r = storedRunSchema.safeParse(doc);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new Error(`stored run ${id} is not a backtest run document (${i?.path.join('.') || '(root)'}: ${i?.message ?? 'invalid'})`);
  }
  return r.data;
}

export interface StoredRunHeader {
  id: string;
  createdAt: number | null;
  symbols: string[];
  from: number | null;
  to: number | null;
  strategy: string | null;
  trades: number | null;
  totalPnl: number | null;
  profitFactor: number | null;
}

function header(id: string, d: Record<string, unknown>): StoredRunHeader {
  const p = (d.params ?? {}) as Record<string, unknown>;
  const m = ((d.run as Record<string, unknown> | undefined)?.metrics ?? {}) as Record<string, unknown>;
  const n = (x: unknown) => (typeof x === 'number' && Number.isFinite(x) ? x : null);
  return {
    id,
    createdAt: n(d.createdAt),
    symbols: Array.isArray(p.symbols) ? p.symbols.filter((s): s is string => typeof s === 'string') : [],
    from: n(p.from),
    to: n(p.to),
    strategy: typeof p.strategy === 'string' ? p.strategy : null,
    trades: n(m.trades),
    totalPnl: n(m.totalPnl),
    profitFactor: n(m.profitFactor),
  };
}

/** The most recent stored runs (newest first), their headline figures only. */
export async function listStoredRuns(state: StateStore, limit = 20): Promise<StoredRunHeader[]> {
  const docs = await state.query<Record<string, unknown>>('backtests', { orderBy: { field: 'createdAt', direction: 'desc' }, limit });
  return docs.map((d) => header(d.id, d.data));
}

export class UnknownRunError extends Error {
  constructor(
    readonly id: string,
    readonly recent: readonly StoredRunHeader[],
  ) {
    super(`no stored backtest run '${id}'${recent.length ? `; recent runs: ${recent.map((r) => r.id).join(', ')}` : '; none is stored in this state file (store one with npm run backtest -- --store)'}`);
  }
}

/** The stored run `id`, validated; an unknown id throws UnknownRunError listing recent ids. */
export async function readStoredRun(state: StateStore, id: string): Promise<StoredRun> {
  const doc = await state.get(backtestPath(id));
  if (doc === undefined) throw new UnknownRunError(id, await listStoredRuns(state, 10));
  return parseStoredRun(id, doc);
}

/**
 * A stored trade as the ClosedTrade the breakdowns read (symbol, strategy, direction, exit reason,
 * times, pnl, pnlPct, fees). It has no warehouse rows, so no features.
 */
function asClosedTrade(t: StoredTrade): ClosedTrade {
  return { ...t, signalId: t.groupId, fees: t.fees ?? 0, rows: [] } as unknown as ClosedTrade;
}

/** The run's breakdowns: stored ones, else recomputed from its stored trades, else null (no trades stored). */
export function storedAnalysis(r: StoredRun): { analysis: RunAnalysis; recomputed: boolean } | null {
  if (r.analysis) return { analysis: r.analysis, recomputed: false };
  if (!r.run.trades) return null;
  return { analysis: analyseRun(r.run.trades.map(asClosedTrade)), recomputed: true };
}

/** The stored metrics as BacktestMetrics (fields a stored document lacks read as missing). */
export function storedMetrics(r: StoredRun): BacktestMetrics {
  return r.run.metrics as unknown as BacktestMetrics;
}
