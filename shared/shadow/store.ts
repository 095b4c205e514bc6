/**
 * Persisting a shadow run (SPEC 8), over the StateStore and Warehouse ports:
 * - `shadow_runs/{runId}`: the run's ShadowResults (validated by shared/learning/types.ts), written
 *   once: the run id is derived from the window and the configs (runner.ts `shadowRunId`), so storing
 *   the same run again keeps the first document;
 * - `shadow/latest`: the results of the most recent window (a run over an older window never replaces
 *   a newer one), in the same transaction;
 * - warehouse `shadow_trades` (every closed trade of every variation, with its scan's signal id,
 *   features and outcome label, shared/learning/labels.ts `outcomeOf`) and `shadow_results` (one row per variation and period); both
 *   inserts are idempotent on the tables' keys, so a retried store writes nothing twice.
 */
import type { DocData, StateStore } from '../ports/state.js';
import type { Row, Warehouse } from '../ports/warehouse.js';
import { shadowResultsSchema, type ShadowResults } from '../learning/types.js';
import { outcomeOf } from '../learning/labels.js';
import { SHADOW_LATEST_PATH, shadowRunPath } from '../state-paths.js';
import type { ShadowRun, ShadowTrade } from './runner.js';

/** The `shadow_trades` rows of a run: one per (variation, trade group). */
export function shadowTradeRows(runId: string, trades: Readonly<Record<string, readonly ShadowTrade[]>>): Row[] {
  const out: Row[] = [];
  for (const [variation, list] of Object.entries(trades)) {
    for (const { trade: t, features, mlProbability } of list) {
      out.push({
        run_id: runId,
        variation,
        trade_group_id: t.groupId,
        signal_id: t.signalId,
        strategy: t.strategy,
        symbol: t.symbol,
        direction: t.direction,
        entry_time: t.entryTime,
        exit_time: t.exitTime,
        avg_entry: t.avgEntry,
        exit_price: t.exitPrice,
        qty: t.qty,
        fees: t.fees,
        slippage: t.slippage ?? null,
        pnl: t.pnl,
        pnl_pct: t.pnlPct,
        exit_reason: t.exitReason,
        outcome: outcomeOf(t),
        ml_probability: mlProbability,
        features: features === null ? null : JSON.stringify(features),
      });
    }
  }
  return out;
}

/** The `shadow_results` rows of a run: one per (variation, period); a variation with an error has none. */
export function shadowResultRows(r: ShadowResults): Row[] {
  const out: Row[] = [];
  for (const v of r.variations) {
    for (const h of r.periodsHours) {
      const p = v.periods[String(h)];
      if (!p) continue;
      out.push({
        run_id: r.runId,
        ts: r.ts,
        variation: v.name,
        period_hours: h,
        trades: p.trades,
        win_rate: p.winRate,
        profit_factor: p.profitFactor,
        pnl: p.pnl,
        mean_pnl_pct: p.meanPnlPct,
        p_value: p.pValue,
        overrides: JSON.stringify(v.overrides),
      });
    }
  }
  return out;
}

export interface StoredShadow {
  runPath: string;
  /** False when `shadow_runs/{runId}` already existed (kept as first written). */
  created: boolean;
  /** Whether `shadow/latest` now holds this run. */
  latest: boolean;
  tradeRows: number;
  resultRows: number;
}

/** Writes a shadow run to state and the warehouse (idempotent: the same run stored twice changes nothing). */
export async function storeShadow(state: StateStore, warehouse: Pick<Warehouse, 'insert'>, run: Pick<ShadowRun, 'results' | 'trades'>): Promise<StoredShadow> {
  const results = shadowResultsSchema.parse(run.results);
  const runPath = shadowRunPath(results.runId);
  const tradeRows = shadowTradeRows(results.runId, run.trades);
  const resultRows = shadowResultRows(results);
  // Warehouse first: a crash after it leaves rows the retry re-inserts as no-ops; state then points at complete evidence.
  if (tradeRows.length > 0) await warehouse.insert('shadow_trades', tradeRows);
  if (resultRows.length > 0) await warehouse.insert('shadow_results', resultRows);
  const { created, latest } = await state.runTransaction(async (tx) => {
    const stored = await tx.get(runPath);
    const current = await tx.get(SHADOW_LATEST_PATH);
    const prev = current === undefined ? null : shadowResultsSchema.safeParse(current);
    const doc = stored === undefined ? results : shadowResultsSchema.parse(stored);
    if (stored === undefined) tx.set(runPath, doc as unknown as DocData);
    // A stored latest that does not validate is replaced (it cannot be read anyway); an older window never replaces a newer one.
    const newer = prev === null || !prev.success || prev.data.runId === doc.runId || prev.data.to < doc.to || (prev.data.to === doc.to && prev.data.ts <= doc.ts);
    if (newer && !(prev?.success && prev.data.runId === doc.runId)) tx.set(SHADOW_LATEST_PATH, doc as unknown as DocData);
    return { created: stored === undefined, latest: newer };
  });
  return { runPath, created, latest, tradeRows: tradeRows.length, resultRows: resultRows.length };
}
