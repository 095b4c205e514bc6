import { DEFAULT_STRATEGY_CONFIGS } from '../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../shared/config/system.js';
import { createMarket } from '../shared/backtest/market.js';
import { macroTimeline } from '../shared/backtest/macro.js';
import { runBacktest } from '../shared/backtest/run.js';
import { shadowVariants } from '../shared/shadow/variations.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { seriesFromCsv, seriesFromCandles } from '../shared/strategies/series.js';
import { DATA_DIR } from './backtest.js';
import { krakenCandles } from '../infra/replay/kit-data.js';
const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];
const FROM = Date.parse('2025-06-01T18:05Z'); const TO = Date.parse('2025-06-29T16:00Z');
const series = SYMBOLS.map((s) => seriesFromCsv(readFileSync(join(DATA_DIR, 'bybit_linear', `${s}_1m.csv`), 'utf8'), { symbol: s, interval: '1m', venue: 'bybit' }));
const ms: Record<string, any> = {};
for (const s of SYMBOLS) { const b: any = {}; for (const [iv, l] of krakenCandles(DATA_DIR, s, DEFAULT_SYSTEM_CONFIG.kraken.intervals)) if (l.length) b[iv] = seriesFromCandles(l); ms[s] = b; }
const m = createMarket({ series, from: FROM, to: TO });
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
for (const v of shadowVariants(DEFAULT_STRATEGY_CONFIGS)) {
  let c = cpu();
  const tl = macroTimeline({ symbols: m.symbols, from: m.from, to: m.to, series: ms, strategies: v.config!, system: { symbols: DEFAULT_SYSTEM_CONFIG.symbols, hotWindowCandles: DEFAULT_SYSTEM_CONFIG.hotWindowCandles } });
  const tlMs = cpu() - c; c = cpu();
  const r = runBacktest(m, { system: DEFAULT_SYSTEM_CONFIG, strategies: v.config! }, { macroSeries: ms, record: { decisions: v.name === 'CHAMPION', signals: false } });
  console.log(v.name, 'timeline cpu ms', Math.round(tlMs), 'slots', tl.slots.length, 'run cpu ms', Math.round(cpu() - c), 'trades', r.trades.length);
}
