/** Argument helpers shared by the backtest subcommands: durations, JSON-or-string values, KEY=VALUE, progress bars, the run options. */
import cliProgress from 'cli-progress';
import { fail, parseTime } from '../cli.js';
import { INTERVAL_MS } from '../../shared/model/market.js';
import { applyOverrides, selectStrategies, type ConfigValue, type Overrides, type StrategySelection } from '../../shared/backtest/config.js';
import { COST_PROFILES, DEFAULT_STRATEGY_CONFIGS, SCALP_STRATEGIES, type StrategyConfigs } from '../../shared/config/strategy.js';
import { INDICATOR_MODES, type IndicatorMode } from '../../shared/backtest/run.js';
import { OBJECTIVES, type Objective } from '../../shared/backtest/metrics.js';
import { DEFAULT_SYMBOLS } from './load.js';

export const HOUR = INTERVAL_MS['1h'];

/** `7d`, `72h`, `90m` -> ms. */
export function parseDuration(s: string, name: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(m|h|d)$/i.exec(s.trim());
  if (!m) fail(`${name}: '${s}' is not a duration like 90m, 72h or 7d`);
  const unit = { m: 60_000, h: HOUR, d: 24 * HOUR }[(m[2] as string).toLowerCase() as 'm' | 'h' | 'd'];
  return Math.round(Number(m[1]) * unit);
}

export function parseValue(raw: string): ConfigValue {
  try {
    return JSON.parse(raw) as ConfigValue;
  } catch {
    return raw;
  }
}

export function parseAssignment(s: string, flag: string): [string, string] {
  const k = s.indexOf('=');
  if (k <= 0) fail(`${flag} needs KEY=VALUE (got '${s}')`);
  return [s.slice(0, k).trim(), s.slice(k + 1).trim()];
}

export function progressBar(label: string, unit: string): { update: (done: number, total: number) => void; stop: () => void } {
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | eta {eta_formatted}`, stream: process.stderr, hideCursor: true, noTTYOutput: true, notTTYSchedule: 10_000 },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total) {
      if (!started) {
        bar.start(total, 0);
        started = true;
      }
      bar.update(done);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

/**
 * The options of every command that runs the strategies over candles (run, hyperopt, lookahead,
 * launch): the data (scripts/backtest/load.ts reads them) and the configuration. `runSelection` checks them.
 */
export const RUN_OPTIONS = {
  data: { type: 'string' },
  warehouse: { type: 'string' },
  venue: { type: 'string' },
  symbols: { type: 'string', default: DEFAULT_SYMBOLS.join(',') },
  from: { type: 'string' },
  to: { type: 'string' },
  'warmup-hours': { type: 'string' },
  strategy: { type: 'string', default: 'all' },
  set: { type: 'string', multiple: true },
  costs: { type: 'string' },
  indicators: { type: 'string', default: 'full' },
  'skip-bad-rows': { type: 'boolean', default: false },
  'allow-missing-reference': { type: 'boolean', default: false },
} as const;

/** What RUN_OPTIONS select, checked: symbols, range, strategy selection, overrides (--set, --costs) and the base config. */
export interface RunSelection {
  symbols: string[];
  from: number | undefined;
  to: number | undefined;
  sel: StrategySelection;
  sets: Overrides;
  base: StrategyConfigs;
  indicators: IndicatorMode;
}

/** Checks RUN_OPTIONS' values (a bad one is a usage error naming the option). */
export function runSelection(v: { symbols: string; from?: string | undefined; to?: string | undefined; strategy: string; set?: string[] | undefined; costs?: string | undefined; indicators: string }): RunSelection {
  const symbols = v.symbols.split(',').map((s) => s.trim().toUpperCase()).filter(Boolean);
  if (symbols.length === 0) fail('--symbols is empty');
  const from = parseTime(v.from, '--from');
  const to = parseTime(v.to, '--to');
  const sel = v.strategy as StrategySelection;
  if (sel !== 'all' && !SCALP_STRATEGIES.includes(sel)) fail(`--strategy must be ${SCALP_STRATEGIES.join(', ')} or all (got '${v.strategy}')`);
  if (!INDICATOR_MODES.includes(v.indicators as IndicatorMode)) fail(`--indicators must be ${INDICATOR_MODES.join(' or ')}`);
  const sets: Overrides = {};
  for (const s of v.set ?? []) {
    const [k, raw] = parseAssignment(s, '--set');
    sets[k] = parseValue(raw);
  }
  if (v.costs !== undefined) {
    if (!(COST_PROFILES as readonly string[]).includes(v.costs)) fail(`--costs must be ${COST_PROFILES.join(' or ')} (got '${v.costs}')`);
    sets['paper.costs.profile'] = v.costs;
  }
  let base: StrategyConfigs;
  try {
    base = applyOverrides(selectStrategies(DEFAULT_STRATEGY_CONFIGS, sel), sets);
  } catch (e) {
    fail((e as Error).message);
  }
  return { symbols, from, to, sel, sets, base, indicators: v.indicators as IndicatorMode };
}

/** --objective, checked. */
export function objectiveOf(raw: string): Objective {
  if (!OBJECTIVES.includes(raw as Objective)) fail(`--objective must be one of ${OBJECTIVES.join(', ')}`);
  return raw as Objective;
}
