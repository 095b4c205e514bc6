/**
 * The MACRO bias on real candles: Kraken XBTUSD (2023-03) and Bybit ETH/SOL linear (2025-06).
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_MACRO_CONFIG, macroConfigSchema, type MacroConfig } from '../../shared/config/strategy.js';
import {
  computeBias,
  effectiveBias,
  isBiasActive,
  MIN_AVAILABLE_WEIGHT,
  prepareBias,
  evaluateBiasAt,
  type BiasResult,
} from '../../shared/strategies/macro/bias.js';
import { fromRows, type SeriesByInterval } from '../../shared/strategies/macro/columns.js';
import { FILES, HOUR, MIN, cols, loadRows, refEma, ts } from './helpers.js';

const cfg = DEFAULT_MACRO_CONFIG;
const btc = (): SeriesByInterval => ({ '4h': cols(FILES.btc4h, '4h'), '5m': cols(FILES.btc5mMarch, '5m') });
const eth = (): SeriesByInterval => ({ '4h': cols(FILES.eth4h, '4h'), '5m': cols(FILES.eth5m, '5m') });
const sol = (): SeriesByInterval => ({ '4h': cols(FILES.sol4h, '4h'), '5m': cols(FILES.sol5m, '5m') });

function component(b: BiasResult, name: string) {
  const c = b.components.find((x) => x.name === name);
  if (!c) throw new Error(`no component ${name}`);
  return c;
}

/** confidence = round(100 x |sum of weight x score|), recomputed from the components. */
function expectConsistent(b: BiasResult) {
  const sum = b.components.reduce((s, c) => s + c.weight * c.score, 0);
  expect(b.confidence).toBe(Math.round(100 * Math.abs(sum)));
  expect(b.components.map((c) => c.weight)).toEqual([0.35, 0.25, 0.25, 0.15]);
  expect(b.expiresAt - b.ts).toBe(4 * HOUR);
}

describe('bias on a strong uptrend (Kraken XBTUSD, 2023-03-17 rally to 27k)', () => {
  const asOf = ts('2023-03-17T22:40:00Z');
  const b = computeBias(cfg, 'BTCUSDT', btc(), asOf);

  it('is LONG with high confidence and every component agrees', () => {
    expect(b.bias).toBe('LONG');
    expect(b.confidence).toBeGreaterThanOrEqual(90);
    for (const c of b.components) {
      expect(c.available).toBe(true);
      expect(c.score).toBeGreaterThan(0);
    }
    expect(b.ts).toBe(asOf);
    expect(b.reasons[0]).toContain(`LONG with confidence ${b.confidence}`);
    expectConsistent(b);
  });

  it('the trend component is explained by EMA50 above a rising EMA200 (checked independently)', () => {
    const rows = loadRows(FILES.btc4h).filter((r) => r.openTime + 4 * HOUR <= asOf);
    const closes = rows.map((r) => r.close);
    const ema50 = refEma(closes, 50);
    const ema200 = refEma(closes, 200);
    const ema200Before = refEma(closes.slice(0, -10), 200);
    const t = component(b, 'trend4h');
    expect(t.inputs.emaFast).toBeCloseTo(ema50, 3);
    expect(t.inputs.emaSlow).toBeCloseTo(ema200, 3);
    expect(t.inputs.candleOpenTime).toBe(rows[rows.length - 1]!.openTime);
    expect(ema50).toBeGreaterThan(ema200);
    expect(ema200).toBeGreaterThan(ema200Before);
    expect(t.inputs.slope).toBeCloseTo((ema200 - ema200Before) / ema200Before, 6);
    expect(t.detail).toMatch(/^4h EMA50 \d+\.\d is \+\d+\.\d\d % vs EMA200 \d+\.\d \(\+\d\.\d\d\); EMA200 slope \+\d\.\d\d % over 10 candles/);
  });

  it('the 5m structure component reads the last closed 5m candle vs its EMA20', () => {
    const rows = loadRows(FILES.btc5mMarch).filter((r) => r.openTime + 5 * MIN <= asOf);
    const last = rows[rows.length - 1]!;
    const s = component(b, 'structure5m');
    expect(s.inputs.candleOpenTime).toBe(asOf - 5 * MIN);
    expect(s.inputs.close).toBe(last.close);
    expect(s.inputs.ema).toBeCloseTo(refEma(rows.map((r) => r.close), 20), 4);
    expect(last.close).toBeGreaterThan(s.inputs.ema as number);
    expect(s.detail).toContain('EMA20');
  });

  it('reads nothing after as-of: the same bias from data cut at as-of', () => {
    const cut = (file: string, ms: number) => fromRows(loadRows(file).filter((r) => r.openTime + ms <= asOf), ms === 4 * HOUR ? '4h' : '5m');
    const truncated = computeBias(cfg, 'BTCUSDT', { '4h': cut(FILES.btc4h, 4 * HOUR), '5m': cut(FILES.btc5mMarch, 5 * MIN) }, asOf);
    expect(truncated).toEqual(b);
  });
});

describe('bias on a downtrend', () => {
  it('Kraken XBTUSD 2023-03-10 (SVB sell-off) is SHORT with high confidence', () => {
    const b = computeBias(cfg, 'BTCUSDT', btc(), ts('2023-03-10T10:50:00Z'));
    expect(b.bias).toBe('SHORT');
    expect(b.confidence).toBeGreaterThanOrEqual(90);
    for (const c of b.components) expect(c.score).toBeLessThan(0);
    const m = component(b, 'momentum4h');
    expect(m.inputs.rsi).toBeLessThan(cfg.bias.components.momentum4h.rsiBearBelow);
    expect(m.inputs.macdHistogram).toBeLessThan(0);
    expectConsistent(b);
  });

  it('Bybit SOLUSDT 2025-06-22 is SHORT, ETHUSDT 2025-06-10 rally is LONG', () => {
    const s = computeBias(cfg, 'SOLUSDT', sol(), ts('2025-06-22T20:15:00Z'));
    expect(s.bias).toBe('SHORT');
    expect(s.confidence).toBeGreaterThanOrEqual(90);
    expect(component(s, 'trend4h').inputs.spread).toBeLessThan(0);
    expectConsistent(s);
    const e = computeBias(cfg, 'ETHUSDT', eth(), ts('2025-06-10T22:30:00Z'));
    expect(e.bias).toBe('LONG');
    expect(e.confidence).toBeGreaterThanOrEqual(90);
    expectConsistent(e);
  });
});

describe('neutral band, weights from config', () => {
  const asOf = ts('2023-03-17T22:40:00Z');

  it('a confidence below minDirectionalConfidence is NEUTRAL with the reason', () => {
    const b = computeBias(cfg, 'BTCUSDT', btc(), asOf);
    const strict: MacroConfig = { ...cfg, bias: { ...cfg.bias, minDirectionalConfidence: b.confidence + 1 } };
    const n = computeBias(strict, 'BTCUSDT', btc(), asOf);
    expect(n.bias).toBe('NEUTRAL');
    expect(n.confidence).toBe(b.confidence);
    expect(n.reasons[0]).toContain('neutral band');
    const edge: MacroConfig = { ...cfg, bias: { ...cfg.bias, minDirectionalConfidence: b.confidence } };
    expect(computeBias(edge, 'BTCUSDT', btc(), asOf).bias).toBe('LONG');
  });

  it('the weights come from config (all weight on 5m structure: confidence = |structure score|)', () => {
    const c = cfg.bias.components;
    const onlyStructure = macroConfigSchema.parse({
      ...cfg,
      bias: {
        ...cfg.bias,
        components: { trend4h: { ...c.trend4h, weight: 0 }, momentum4h: { ...c.momentum4h, weight: 0 }, structure5m: { ...c.structure5m, weight: 1 }, volume: { ...c.volume, weight: 0 } },
      },
    });
    const b = computeBias(onlyStructure, 'BTCUSDT', btc(), ts('2023-03-10T10:50:00Z'));
    const s = component(b, 'structure5m');
    expect(b.confidence).toBe(Math.round(100 * Math.abs(s.score)));
    expect(b.bias).toBe(s.score > 0 ? 'LONG' : 'SHORT');
  });
});

describe('TTL', () => {
  it('an expired bias means no bias', () => {
    const b = computeBias(cfg, 'BTCUSDT', btc(), ts('2023-03-17T22:40:00Z'));
    expect(isBiasActive(b, b.ts)).toBe(true);
    expect(isBiasActive(b, b.expiresAt - 1)).toBe(true);
    expect(isBiasActive(b, b.expiresAt)).toBe(false);
    expect(effectiveBias(b, b.ts + HOUR)).toBe('LONG');
    expect(effectiveBias(b, b.ts + 4 * HOUR)).toBe('NEUTRAL');
    expect(isBiasActive(undefined, b.ts)).toBe(false);
    expect(effectiveBias(null, b.ts)).toBe('NEUTRAL');
  });

  it('the TTL is the config value', () => {
    const b = computeBias({ ...cfg, biasTtlMs: HOUR }, 'BTCUSDT', btc(), ts('2023-03-17T22:40:00Z'));
    expect(b.expiresAt).toBe(b.ts + HOUR);
  });
});

describe('missing or insufficient data: NEUTRAL with a reason, never a crash', () => {
  it('no candles at all', () => {
    const b = computeBias(cfg, 'XRPUSDT', {}, ts('2023-03-17T22:40:00Z'));
    expect(b.bias).toBe('NEUTRAL');
    expect(b.confidence).toBe(0);
    expect(b.availableWeight).toBe(0);
    expect(b.reasons[0]).toMatch(/^insufficient data/);
    expect(b.components.every((c) => !c.available && c.score === 0 && c.detail === 'no candles')).toBe(true);
  });

  it('5m only (no 4h history): the 4h components say why and the bias is NEUTRAL', () => {
    const b = computeBias(cfg, 'BTCUSDT', { '5m': cols(FILES.btc5mMarch, '5m') }, ts('2023-03-10T10:50:00Z'));
    expect(b.bias).toBe('NEUTRAL');
    expect(b.availableWeight).toBeCloseTo(0.4, 9);
    expect(b.availableWeight).toBeLessThan(MIN_AVAILABLE_WEIGHT);
    expect(b.reasons[0]).toContain('trend4h (no candles)');
  });

  it('too short a 4h history (Kraken file starts 2023-01-01: < 210 candles in January)', () => {
    const asOf = ts('2023-01-20T00:00:00Z');
    const b = computeBias(cfg, 'BTCUSDT', { '4h': cols(FILES.btc4h, '4h'), '5m': cols(FILES.btc5mMarch, '5m') }, asOf);
    expect(component(b, 'trend4h').detail).toBe('insufficient data: 114 closed 4h candles, need 210');
    expect(b.bias).toBe('NEUTRAL');
  });

  it('stale data: the 5m slice ends 2023-03-18, so a bias asked for on 2023-03-20 has no 5m structure', () => {
    const b = computeBias(cfg, 'BTCUSDT', btc(), ts('2023-03-20T00:00:00Z'));
    expect(component(b, 'structure5m').available).toBe(false);
    expect(component(b, 'structure5m').detail).toMatch(/^stale data: last 5m candle closed 2880 min before as-of/);
    expect(component(b, 'trend4h').available).toBe(true);
  });

  it('prepare once, evaluate many (backtester shape) equals one-shot computation', () => {
    const p = prepareBias(cfg, btc());
    for (const iso of ['2023-03-10T10:50:00Z', '2023-03-14T00:00:00Z', '2023-03-17T22:40:00Z']) {
      expect(evaluateBiasAt(p, 'BTCUSDT', ts(iso))).toEqual(computeBias(cfg, 'BTCUSDT', btc(), ts(iso)));
    }
  });
});
