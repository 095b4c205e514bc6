/**
 * Shadow-test cost (SPEC 8, issue 11 goal: under 1 ms per scan for 8 variations) on the kit's month of
 * REAL Bybit 1m candles (BTC, ETH, SOL, ../shared/data/bybit_linear), the live configuration:
 * - shadow_champion: the champion alone (a shadow run with no challenger: one backtest), wall time
 *   per champion scan (non-null scan decisions, scalp and swing);
 * - shadow_8: the champion and the 8 default challengers (config/ml shadow.variations), wall time per
 *   champion scan, and the ratio to the champion alone measured in the same run (the goal: the
 *   shadow's own cost, the ML-filter challengers without models);
 * - shadow_8_ml: the same with walk-forward models for the 3 ML-filter challengers (`npm run backtest --
 *   shadow` default: shared/backtest/learning.ts, two passes + the daily retrainings each), for the
 *   record (the training itself is learn's `bench learning`).
 * Each measurement starts cold on its own series objects (no indicator cache, no level timeline, no
 * MACRO timeline shared with the other). The MACRO engine runs by default (the kit's 5m / 15m, 1h / 4h
 * resampled, as the month replay feeds it; most challengers change swing settings); `--no-macro`
 * (`macro: false`) measures the scalps only.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DEFAULT_STRATEGY_CONFIGS } from '../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../shared/config/system.js';
import { createMarket } from '../shared/backtest/market.js';
import type { MacroSeries } from '../shared/backtest/macro.js';
import type { Interval } from '../shared/model/market.js';
import { runShadow } from '../shared/shadow/runner.js';
import { runWithLearning } from '../shared/backtest/learning.js';
import { seriesFromCandles, seriesFromCsv, type CandleSeries } from '../shared/strategies/series.js';
import { DATA_DIR } from './backtest.js';

const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];
export const SHADOW_GOAL_MS_PER_SCAN = 1;
/** The month the README's MACRO runs use (the 4h trend computes from the first candle). */
const FROM = Date.parse('2025-06-01T18:05Z');
const TO = Date.parse('2025-06-29T16:00Z');

const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

function load(): CandleSeries[] {
  return SYMBOLS.map((s) => seriesFromCsv(readFileSync(join(DATA_DIR, 'bybit_linear', `${s}_1m.csv`), 'utf8'), { symbol: s, interval: '1m', venue: 'bybit' }));
}

async function loadMacro(): Promise<MacroSeries> {
  const { krakenCandles } = await import('../infra/replay/kit-data.js');
  const out: Record<string, Partial<Record<Interval, CandleSeries>>> = {};
  for (const s of SYMBOLS) {
    const byIv: Partial<Record<Interval, CandleSeries>> = {};
    for (const [iv, list] of krakenCandles(DATA_DIR, s, DEFAULT_SYSTEM_CONFIG.kraken.intervals)) if (list.length > 0) byIv[iv] = seriesFromCandles(list);
    out[s] = byIv;
  }
  return out;
}

export interface ShadowBenchOptions {
  print?: boolean;
  macro?: boolean;
}

export async function runShadowBench(opts: ShadowBenchOptions = {}): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  const emit = (x: Record<string, unknown>) => {
    out.push(x);
    if (opts.print) process.stdout.write(JSON.stringify(x) + '\n');
  };
  const macro = opts.macro ?? true;
  const base = DEFAULT_STRATEGY_CONFIGS;
  const measure = async (variations: boolean, learning = false) => {
    const market = createMarket({ series: load(), from: FROM, to: TO });
    const macroSeries = macro ? await loadMacro() : undefined;
    const ml = variations ? base.ml : { ...base.ml, shadow: { ...base.ml.shadow, variations: [] } };
    return runShadow({ market, system: DEFAULT_SYSTEM_CONFIG, base, ml, ...(macroSeries ? { macroSeries } : {}) }, learning ? { learning: (m, c, o) => runWithLearning(m, c, o).run } : {}).results;
  };
  const champion = await measure(false);
  const shadow = await measure(true);
  const perScan = (r: { wallMs: number; scans: number }) => r.wallMs / r.scans;
  const trades = (r: typeof shadow, name: string) => r.variations.find((v) => v.name === name)?.periods['720']?.trades ?? null;
  emit({ bench: 'shadow_champion', macro, scans: champion.scans, wall_s: round(champion.wallMs / 1000), ms_per_scan: round(perScan(champion), 4), trades: trades(champion, 'CHAMPION') });
  const ran = shadow.variations.filter((v) => v.error === undefined).length;
  emit({
    bench: 'shadow_8',
    macro,
    variations: ran,
    scans: shadow.scans,
    wall_s: round(shadow.wallMs / 1000),
    ms_per_scan: round(perScan(shadow), 4),
    ratio_vs_champion: round(perScan(shadow) / perScan(champion)),
    goal_ms_per_scan: SHADOW_GOAL_MS_PER_SCAN,
    meets_goal: perScan(shadow) < SHADOW_GOAL_MS_PER_SCAN,
    errors: shadow.variations.filter((v) => v.error !== undefined).map((v) => v.name),
  });
  const withMl = await measure(true, true);
  emit({ bench: 'shadow_8_ml', macro, variations: ran, scans: withMl.scans, wall_s: round(withMl.wallMs / 1000), ms_per_scan: round(perScan(withMl), 4), ratio_vs_champion: round(perScan(withMl) / perScan(champion)) });
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await runShadowBench({ print: true, macro: !process.argv.includes('--no-macro') });
}
