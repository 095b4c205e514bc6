/** The state file of the backtest subcommands that store or read runs (--store, show, compare). */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fail } from '../cli.js';
import type { StateStore } from '../../shared/ports/state.js';
import { configChanges, proposeConfigChange } from '../../shared/backtest/store.js';
import type { Overrides } from '../../shared/backtest/config.js';
import type { BacktestMetrics, Objective } from '../../shared/backtest/metrics.js';
import type { StrategyConfigs } from '../../shared/config/strategy.js';

/** --state FILE, else the embedded runtime's store: $CST_DATA_DIR (default .data)/live/state.sqlite. */
export function stateFileOf(arg: string | undefined): string {
  return arg ? resolve(arg) : join(resolve(process.env.CST_DATA_DIR ?? '.data'), 'live', 'state.sqlite');
}

/** Opens the state file to write (creating its folder). */
export async function openStateForWrite(file: string): Promise<StateStore & { close(): Promise<void> }> {
  const { SqliteStateStore } = await import('../../infra/state/sqlite.js');
  mkdirSync(resolve(file, '..'), { recursive: true });
  return new SqliteStateStore({ file });
}

/** Opens an existing state file to read stored runs (a missing file is a usage error, not a new empty store). */
export async function openStateForRead(file: string): Promise<StateStore & { close(): Promise<void> }> {
  if (!existsSync(file)) fail(`no state file ${file}: store a run first (npm run backtest -- ... --store [--state FILE]) or give --state FILE`);
  const { SqliteStateStore } = await import('../../infra/state/sqlite.js');
  return new SqliteStateStore({ file });
}

/**
 * --propose: `overrides` on top of `base` as a PENDING config change to the owner (suggestions/{id};
 * never applied automatically), with a baseline run of the current config beside the proposed
 * metrics. Returns the line to print.
 */
export async function proposeOverrides(
  state: StateStore,
  x: { id: string; createdAt: number; objective: Objective; base: StrategyConfigs; overrides: Overrides; proposed: BacktestMetrics; baseline: () => BacktestMetrics; summary: (changes: string, baseline: BacktestMetrics) => string },
): Promise<string> {
  const changes = configChanges(x.base, x.overrides);
  if (changes.length === 0) return '--propose: the proposed parameters are the current ones: nothing to propose';
  const baseline = x.baseline();
  const list = changes.map((c) => `${c.key} ${JSON.stringify(c.before)} -> ${JSON.stringify(c.after)}`).join(', ');
  const p = await proposeConfigChange(state, { id: `${x.id}-proposal`, backtestId: x.id, createdAt: x.createdAt, objective: x.objective, changes, baseline, proposed: x.proposed, summary: x.summary(list, baseline) });
  return `proposed (pending, NOT applied): ${p.path}${p.botItems.length ? `; Telegram /suggestions items: ${p.botItems.join(', ')}` : ''}`;
}
