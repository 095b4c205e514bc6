/**
 * Warm-up history (SPEC 7): the history each component needs is derived from the config (change a
 * period, the requirement changes), a run says which component could not compute and from when
 * (measured from what the run produced), trades stay inside [from, to], and the MACRO series load
 * from any folder name (the old kit forms still work).
 *
 * Real data only: the repository's kit slice (test/fixtures/kit, 1m / 5m 2025-06-06 22:00 -> 06-12
 * 12:00) and test/fixtures/warmup/btc_htf (BTCUSDT 15m from 2025-05-05 00:00: 38 days, enough for the
 * 4h trend's 210 closed 4h candles by 2025-06-12; see its README). The kit month test skips without the kit.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_STRATEGY_CONFIGS, type StrategyConfigs } from '../../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { applyOverrides } from '../../shared/backtest/config.js';
import { warmupPlan } from '../../shared/backtest/warmup.js';
import { macroSeriesOf, seriesFromSource, trimSeries } from '../../shared/backtest/data.js';
import { createMarket } from '../../shared/backtest/market.js';
import { runBacktest } from '../../shared/backtest/run.js';
import { macroTimeline, type MacroSeries } from '../../shared/backtest/macro.js';
import { krakenCandles } from '../../infra/replay/kit-data.js';
import { seriesFromCandles, type CandleSeries } from '../../shared/strategies/series.js';
import { candlesNeeded } from '../../shared/pipeline/macro-analysis.js';
import { fixture, KIT_DIR, withKit } from '../kit.js';
import { neededWarmup } from '../../scripts/backtest/load.js';
import { expandGrid, valueDimension } from '../../shared/backtest/grid.js';
import { parseParam, spaceCorners } from '../../shared/backtest/hyperopt/space.js';
import { HOUR, KIT_SLICE_DIR, kitSeries, MIN } from './helpers.js';

const ROOT = join(import.meta.dirname, '..', '..');
const HTF_DIR = fixture('warmup', 'btc_htf');
const DAY = 24 * HOUR;
const tmp = mkdtempSync(join(tmpdir(), 'cst-warmup-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function cli(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'backtest.ts'), ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
}

const plan = (strategies: StrategyConfigs, macro = true, hotWindowCandles = DEFAULT_SYSTEM_CONFIG.hotWindowCandles) => warmupPlan({ strategies, system: { hotWindowCandles } }, { macro });
const comp = (p: ReturnType<typeof plan>, id: string) => {
  const c = p.components.find((x) => x.id === id);
  if (!c) throw new Error(`no component ${id}`);
  return c;
};

describe('warmupPlan: the history each component needs, from the config', () => {
  it('defaults: the 4h trend needs EMA200 + slope 10 = 210 closed 4h candles (live reads 500); the 1m series 73 h (trend lines)', () => {
    const p = plan(DEFAULT_STRATEGY_CONFIGS);
    expect(comp(p, 'macro.trend4h')).toMatchObject({ series: 'macro', interval: '4h', candles: 210, ms: 210 * 4 * HOUR, window: 500 });
    expect(comp(p, 'macro.momentum4h')).toMatchObject({ interval: '4h', candles: 35 });
    expect(comp(p, 'macro.structure5m')).toMatchObject({ interval: '5m', candles: 20 });
    expect(comp(p, 'macro.volume')).toMatchObject({ interval: '5m', candles: 26 });
    expect(comp(p, 'macro.SWING.uptrend4h')).toMatchObject({ interval: '4h', candles: 200 });
    expect(comp(p, 'macro.CHANNEL')).toMatchObject({ interval: '1h', candles: 100 });
    expect(comp(p, 'scalp.levels_exhaustion.levels.trendLines')).toMatchObject({ interval: '1h', candles: 73 });
    expect(comp(p, 'scalp.levels_exhaustion.levels.horizontal')).toMatchObject({ interval: '15m', candles: 121 });
    expect(comp(p, 'scalp.v52_divergence.indicators')).toMatchObject({ interval: '1m', candles: 33, window: 200 });
    expect(p.scalpMs).toBe(73 * HOUR);
    // The MACRO read per interval is the job's hot-window read (one rule).
    const read = candlesNeeded(DEFAULT_STRATEGY_CONFIGS.macro, DEFAULT_SYSTEM_CONFIG.hotWindowCandles);
    for (const [iv, n] of Object.entries(read)) expect(p.macroMs[iv as keyof typeof p.macroMs]).toBe(n * { '5m': 5 * MIN, '15m': 15 * MIN, '1h': HOUR, '4h': 4 * HOUR }[iv as '5m']!);
    expect(p.macroMs['4h']).toBe(500 * 4 * HOUR);
    expect(p.macroMs['15m']).toBe(193 * 15 * MIN); // the BTC regime's 48 h
  });

  it('changing periods changes the requirement', () => {
    const p = plan(applyOverrides(DEFAULT_STRATEGY_CONFIGS, { 'macro.bias.components.trend4h.emaSlow': 100, 'macro.bias.components.trend4h.slopeLookback': 20 }));
    expect(comp(p, 'macro.trend4h')).toMatchObject({ candles: 120, window: 360 });
    expect(p.macroMs['4h']).toBe(360 * 4 * HOUR); // 3 x 120, under the 500-candle hot window

    const q = plan(applyOverrides(DEFAULT_STRATEGY_CONFIGS, { 'macro.bias.components.trend4h.interval': '1h' }));
    expect(comp(q, 'macro.trend4h')).toMatchObject({ interval: '1h', candles: 210 });

    const r = plan(applyOverrides(DEFAULT_STRATEGY_CONFIGS, { 'scalp.levels_exhaustion.levels.trendLines.interval': '4h', 'scalp.v52_divergence.divergence.rsiPeriod': 50, 'scalp.v52_divergence.exits.mode': 'atr', 'scalp.v52_divergence.exits.atr.period': 60 }));
    expect(comp(r, 'scalp.levels_exhaustion.levels.trendLines')).toMatchObject({ interval: '4h', candles: 73, ms: 73 * 4 * HOUR });
    expect(r.scalpMs).toBe(73 * 4 * HOUR);
    expect(comp(r, 'scalp.v52_divergence.indicators').candles).toBe(61);

    const s = plan(applyOverrides(DEFAULT_STRATEGY_CONFIGS, { 'macro.setups.CHANNEL.lookbackCandles': 300, 'scalp.levels_exhaustion.enabled': false }));
    expect(comp(s, 'macro.CHANNEL')).toMatchObject({ candles: 300, window: 500 });
    expect(s.components.some((c) => c.id.startsWith('scalp.levels_exhaustion'))).toBe(false);
    expect(s.scalpMs).toBe(48 * HOUR + MIN); // then the regime's 48 h change is the longest

    // A grid loads what its hungriest option needs.
    expect(neededWarmup(DEFAULT_STRATEGY_CONFIGS, [{ 'scalp.levels_exhaustion.levels.trendLines.interval': '4h' }, { 'no.such.key': 1 }], false).scalpMs).toBe(73 * 4 * HOUR);
    // Keys combine: a grid's or a search space's interval x look-back. Each option alone needs 121 h
    // (120 x 1h + 1, or 200 x 15m + 1 bucket) but the run with both needs 201 h of 1m history.
    const H = 'scalp.levels_exhaustion.levels.horizontal';
    const dims = [valueDimension('iv', [`${H}.interval`], ['15m', '1h']), valueDimension('lb', [`${H}.lookbackCandles`], [120, 200])];
    const alone = neededWarmup(DEFAULT_STRATEGY_CONFIGS, dims.flatMap((d) => d.options.map((o) => o.set)), false).scalpMs;
    expect(alone).toBeLessThan(201 * HOUR);
    expect(neededWarmup(DEFAULT_STRATEGY_CONFIGS, expandGrid(dims).map((c) => c.overrides), false).scalpMs).toBe(201 * HOUR);
    const space = [parseParam(`${H}.interval`, 'choice:15m,1h'), parseParam(`${H}.lookbackCandles`, 'int:60:200')];
    expect(spaceCorners(space)).toHaveLength(4);
    expect(neededWarmup(DEFAULT_STRATEGY_CONFIGS, spaceCorners(space), false).scalpMs).toBe(201 * HOUR);
    expect(plan(DEFAULT_STRATEGY_CONFIGS, true, 250).macroMs['4h']).toBe(250 * 4 * HOUR);
    expect(plan(DEFAULT_STRATEGY_CONFIGS, false).macroMs).toEqual({});
    expect(plan(applyOverrides(DEFAULT_STRATEGY_CONFIGS, { 'macro.enabled': false })).macroMs).toEqual({});
  });
});

/** The fixture's MACRO series (any folder name), loaded as the CLI does, optionally starting later. */
function htfSeries(startAt?: number): MacroSeries {
  const sources = ['BTCUSDT_5m.csv', 'BTCUSDT_15m.csv'].map((f) => seriesFromSource({ name: join(HTF_DIR, f), text: readFileSync(join(HTF_DIR, f), 'utf8') }, DEFAULT_SYSTEM_CONFIG));
  const byIv = macroSeriesOf(sources, DEFAULT_SYSTEM_CONFIG.kraken.intervals);
  if (startAt !== undefined) for (const iv of Object.keys(byIv) as Array<keyof typeof byIv>) byIv[iv] = trimSeries(byIv[iv] as CandleSeries, startAt, undefined);
  return { BTCUSDT: byIv };
}

describe('a run with enough history vs one with short history (real BTC data)', () => {
  const FROM = Date.UTC(2025, 5, 12, 0, 0);
  const TO = Date.UTC(2025, 5, 12, 5, 59);
  let btc: CandleSeries;
  beforeAll(() => {
    btc = kitSeries('BTCUSDT');
  });

  it('with 38 days of 15m history the 4h trend and every MACRO component compute from the first MACRO run; trades stay inside the range', () => {
    const m = createMarket({ series: [trimSeries(btc, FROM - 73 * HOUR, TO)], from: FROM, to: TO });
    const r = runBacktest(m, { system: DEFAULT_SYSTEM_CONFIG, strategies: DEFAULT_STRATEGY_CONFIGS }, { macroSeries: htfSeries(), record: { events: true } });
    const firstSlot = FROM + 5 * MIN;
    expect(r.warmup.short).toEqual([]);
    // The first bias of the range has the 4h trend computed.
    const tl = macroTimeline({ symbols: ['BTCUSDT'], from: FROM, to: TO, series: htfSeries(), strategies: DEFAULT_STRATEGY_CONFIGS, system: DEFAULT_SYSTEM_CONFIG });
    expect(tl.slots[0]!.now).toBe(firstSlot);
    const trend = tl.slots[0]!.biasResult.components.find((c) => c.name === 'trend4h')!;
    expect(trend.available).toBe(true);
    expect(trend.detail).toMatch(/EMA50 .* vs EMA200/);
    // 228 closed 4h candles (less than the 500 live reads): said, not hidden.
    expect(r.warmup.partial).toEqual([{ symbol: 'BTCUSDT', interval: '4h', candles: 228, window: 500 }]);
    expect(r.notes.some((n) => n.startsWith('warm-up: MACRO 4h history of BTCUSDT: 228 candles before the range, live reads 500'))).toBe(true);
    // Trades only inside [from, to]: no fill, exit or order event before from or after to + 1m.
    expect(r.trades.length).toBeGreaterThan(0);
    for (const t of r.trades) {
      expect(t.entryTime).toBeGreaterThanOrEqual(FROM);
      expect(t.exitTime).toBeLessThanOrEqual(TO + MIN);
    }
    expect(r.events.length).toBeGreaterThan(0);
    for (const e of r.events) {
      expect(e.ts).toBeGreaterThanOrEqual(FROM);
      expect(e.ts).toBeLessThanOrEqual(TO + MIN);
    }
  });

  it('short history: the report names the 4h trend and when it first computed (measured), and the cold 1m components', () => {
    // 15m history from 2025-05-08 04:00: 209 closed 4h candles at the first run, the 210th closes at 04:00.
    const m = createMarket({ series: [trimSeries(btc, FROM - 73 * HOUR, TO)], from: FROM, to: TO });
    const r = runBacktest(m, { system: DEFAULT_SYSTEM_CONFIG, strategies: DEFAULT_STRATEGY_CONFIGS }, { macroSeries: htfSeries(Date.UTC(2025, 4, 8, 4)) });
    const trend = r.warmup.short.find((s) => s.id === 'macro.trend4h');
    expect(trend).toMatchObject({ symbol: 'BTCUSDT', readyAt: Date.UTC(2025, 5, 12, 4), lateMs: 4 * HOUR, basis: 'observed', candles: 210 });
    expect(r.notes).toContain(
      'warm-up: macro 4h trend (EMA50/EMA200 + slope over 10 on 4h), needs 210 4h candles, on BTCUSDT: no value until 2025-06-12T04:00Z (4 h into the range): the history before --from is short',
    );
    // Only the trend is short (the uptrend check needs 200, momentum 35).
    expect(r.warmup.short.map((s) => s.id)).toEqual(['macro.trend4h']);

    // Cold 1m data: the run starts at the first candle of the slice.
    const cold = runBacktest(createMarket({ series: [btc], from: btc.openTime[0], to: (btc.openTime[0] as number) + DAY + 2 * HOUR }), { system: DEFAULT_SYSTEM_CONFIG, strategies: { ...DEFAULT_STRATEGY_CONFIGS, macro: { ...DEFAULT_STRATEGY_CONFIGS.macro, enabled: false } } });
    const start = btc.openTime[0] as number; // 2025-06-06 22:00
    const by = (id: string) => cold.warmup.short.find((s) => s.id === id);
    expect(by('protections.volatility24h')).toMatchObject({ readyAt: start + DAY - MIN, basis: 'observed' });
    expect(by('scalp.v52_divergence.indicators')).toMatchObject({ readyAt: start + 32 * MIN, basis: 'history' });
    expect(by('protections.regime')).toMatchObject({ readyAt: null });
    expect(by('scalp.levels_exhaustion.levels.trendLines')).toMatchObject({ readyAt: null, computesShort: true });
    expect(cold.notes.some((n) => n.startsWith('warm-up: 24h volatility (protections, adaptive stops), needs 1440 1m candles, on BTCUSDT: no value until 2025-06-07T21:59Z (24 h into the range)'))).toBe(true);
  });
});

describe('--htf-data from any folder name, and the old kit forms', () => {
  it('a copied folder with another name gives the same run as the original; the warm-up is in the JSON', () => {
    const copy = join(tmp, 'my candles');
    cpSync(HTF_DIR, copy, { recursive: true });
    const args = ['--data', join(KIT_SLICE_DIR, 'bybit_linear'), '--symbols', 'BTCUSDT', '--from', '2025-06-12T00:00Z', '--to', '2025-06-12T02:59Z', '--json'];
    const a = cli([...args, '--htf-data', HTF_DIR]);
    const b = cli([...args, '--htf-data', copy]);
    expect(a.stderr).not.toMatch(/Error|failed/);
    expect(a.status).toBe(0);
    expect(b.status).toBe(0);
    const da = JSON.parse(a.stdout) as { run: { macro: { runs: number }; metrics: unknown; warmup: { short: unknown[]; neededHours: { scalp: number; macro: Record<string, number> } } } };
    const db = JSON.parse(b.stdout) as typeof da;
    expect(da.run.macro.runs).toBe(36);
    expect(db.run.metrics).toEqual(da.run.metrics);
    expect(da.run.warmup.short).toEqual([]);
    expect(da.run.warmup.neededHours).toMatchObject({ scalp: 73, macro: { '4h': 2000 } });
    const bad = cli([...args, '--htf-data', join(KIT_SLICE_DIR, 'kraken_ohlcvt')]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--htf-data: no 5m candles of BTCUSDT');
  }, 120_000);

  it('a short-history CLI run names the missing component and for how long', () => {
    const r = cli(['--data', join(KIT_SLICE_DIR, 'bybit_linear'), '--symbols', 'BTCUSDT', '--htf-data', HTF_DIR, '--from', '2025-06-08T00:00Z', '--to', '2025-06-09T02:00Z']);
    expect(r.status).toBe(0);
    // 15m history from 2025-05-05 00:00: the 210th 4h candle closes 2025-06-09 00:00.
    expect(r.stdout).toContain('note: warm-up: macro 4h trend (EMA50/EMA200 + slope over 10 on 4h), needs 210 4h candles, on BTCUSDT: no value until 2025-06-09T00:00Z (24 h into the range)');
    // 1m history from 2025-06-06 22:00 (26 h before --from): the trend lines' 73 h are short all along (the range is 26 h).
    expect(r.stdout).toMatch(/note: warm-up: levels_exhaustion trend lines \(72 closed 1h buckets\), needs 73 1h candles, on BTCUSDT: computed on less history than it needs in the whole range \(26 h\)/);
  }, 120_000);

  const kit = withKit('the kit: its folder, the folder above it, and the replay\'s series (1h / 4h resampled from 15m) agree', 'bybit_linear/BTCUSDT_5m.csv', 'bybit_linear/BTCUSDT_15m.csv', 'bybit_linear/BTCUSDT_240m.csv');
  it.skipIf(kit.skip)(kit.title, () => {
    const dir = join(KIT_DIR, 'bybit_linear');
    const files = ['BTCUSDT_5m.csv', 'BTCUSDT_15m.csv', 'BTCUSDT_60m.csv', 'BTCUSDT_240m.csv'];
    const ours = macroSeriesOf(files.map((f) => seriesFromSource({ name: join(dir, f), text: readFileSync(join(dir, f), 'utf8') }, DEFAULT_SYSTEM_CONFIG)), DEFAULT_SYSTEM_CONFIG.kraken.intervals);
    for (const [iv, list] of krakenCandles(KIT_DIR, 'BTCUSDT', DEFAULT_SYSTEM_CONFIG.kraken.intervals)) {
      const want = seriesFromCandles(list);
      const got = ours[iv]!;
      expect(got.venue).toBe('kraken');
      expect(Array.from(got.openTime)).toEqual(Array.from(want.openTime));
      expect(Array.from(got.close)).toEqual(Array.from(want.close));
      expect(Array.from(got.volume)).toEqual(Array.from(want.volume));
    }
  });
});

const kraken = withKit('--htf-data on Kraken\'s own OHLCVT files (PAIR_5 / 15 / 60.csv, with real gaps): 4h resampled from 60m, every component warm', 'kraken_ohlcvt/XBTUSDC_1.csv', 'kraken_ohlcvt/XBTUSD_5.csv', 'kraken_ohlcvt/XBTUSD_15.csv', 'kraken_ohlcvt/XBTUSD_60.csv');
describe.skipIf(kraken.skip)(kraken.title, () => {
  it('two days of 2023-03 with the kit\'s Kraken folder as the MACRO source', () => {
    const r = cli(['--data', `BTCUSDT=${join(KIT_DIR, 'kraken_ohlcvt', 'XBTUSDC_1.csv')}`, '--symbols', 'BTCUSDT', '--htf-data', join(KIT_DIR, 'kraken_ohlcvt'), '--from', '2023-03-01T00:00Z', '--to', '2023-03-03T00:00Z', '--json']);
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout) as { run: { macro: { runs: number }; warmup: { short: unknown[]; partial: unknown[]; loadedHours: Record<string, { macro: Record<string, number> }> } } };
    expect(doc.run.macro.runs).toBe(2 * 288);
    expect(doc.run.warmup.short).toEqual([]);
    // Two months of 60m history before March: 354 complete 4h buckets (live reads 500).
    expect(doc.run.warmup.partial).toEqual([{ symbol: 'BTCUSDT', interval: '4h', candles: 354, window: 500 }]);
  }, 120_000);
});

const month = withKit(
  'a month with --htf-data on the kit: the 4h trend computes from the first candle of the range',
  ...['BTCUSDT', 'ETHUSDT', 'SOLUSDT'].flatMap((s) => [`bybit_linear/${s}_1m.csv`, `bybit_linear/${s}_5m.csv`, `bybit_linear/${s}_15m.csv`]),
);
describe.skipIf(month.skip)(month.title, () => {
  it('2025-06-01 .. 06-29 (warm-up: 73 h of 1m before, 56 days of 15m): no component is short; the first bias of each symbol has trend4h', () => {
    const r = cli(['--data', join(KIT_DIR, 'bybit_linear'), '--htf-data', join(KIT_DIR, 'bybit_linear'), '--from', '2025-06-01T18:05Z', '--to', '2025-06-29T16:00Z', '--json']);
    expect(r.status).toBe(0);
    const doc = JSON.parse(r.stdout) as { run: { warmup: { short: unknown[]; partial: Array<{ interval: string }> }; notes: string[] } };
    expect(doc.run.warmup.short).toEqual([]);
    expect(doc.run.warmup.partial.map((p) => p.interval)).toEqual(['4h', '4h', '4h']);
  }, 600_000);
});

describe('the warehouse as a source: the same candles give the same run as the CSV folders', () => {
  it('--warehouse (1m, computed warm-up) + --htf-data FILE.duckdb (Kraken 5m / 15m) equals --data + --htf-data folders', async () => {
    const { DuckDbWarehouse } = await import('../../infra/warehouse/duckdb.js');
    const { candleToRow } = await import('../../shared/warehouse-schema.js');
    const { candleAt } = await import('../../shared/strategies/series.js');
    const file = join(tmp, 'wh.duckdb');
    const wh = new DuckDbWarehouse({ file });
    try {
      await wh.ensureSchema();
      const rows = [];
      const btc = kitSeries('BTCUSDT');
      for (let i = 0; i < btc.length; i++) rows.push(candleToRow(candleAt(btc, i), 0));
      for (const f of ['BTCUSDT_5m.csv', 'BTCUSDT_15m.csv']) {
        const s = seriesFromSource({ name: join(HTF_DIR, f), text: readFileSync(join(HTF_DIR, f), 'utf8') }, DEFAULT_SYSTEM_CONFIG);
        for (let i = 0; i < s.length; i++) rows.push(candleToRow({ ...candleAt(s, i), venue: 'kraken' }, 0));
      }
      await wh.insert('ohlcv', rows);
    } finally {
      await wh.close();
    }
    const range = ['--symbols', 'BTCUSDT', '--from', '2025-06-12T00:00Z', '--to', '2025-06-12T02:59Z', '--json'];
    const a = cli([...range, '--data', join(KIT_SLICE_DIR, 'bybit_linear'), '--htf-data', HTF_DIR]);
    const b = cli([...range, '--warehouse', file, '--htf-data', file]);
    expect(b.stderr).not.toMatch(/Error|failed/);
    expect(a.status).toBe(0);
    expect(b.status).toBe(0);
    const da = JSON.parse(a.stdout) as { run: { metrics: unknown; macro: unknown; warmup: unknown; trades: unknown[] } };
    const db = JSON.parse(b.stdout) as typeof da;
    expect(db.run.macro).toEqual(da.run.macro);
    expect(db.run.trades).toEqual(da.run.trades);
    expect(db.run.metrics).toEqual(da.run.metrics);
    expect(db.run.warmup).toEqual(da.run.warmup);
    // --warmup-hours overrides the 1m warm-up: 2 h of history -> the 24h volatility is late.
    const c = cli([...range, '--warehouse', file, '--warmup-hours', '2']);
    expect(c.status).toBe(0);
    const dc = JSON.parse(c.stdout) as { run: { warmup: { loadedHours: Record<string, { scalp: number }>; short: Array<{ id: string }> } } };
    expect(dc.run.warmup.loadedHours.BTCUSDT!.scalp).toBe(2);
    expect(dc.run.warmup.short.map((s) => s.id)).toContain('protections.volatility24h');
    expect(cli([...range, '--warehouse', file, '--warmup-hours', 'lots']).stderr).toContain('--warmup-hours must be a number of hours >= 0');
  }, 120_000);
});
