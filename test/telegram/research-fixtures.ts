/**
 * Stored learning-loop documents for the research tests, in the shapes of shared/learning/types.ts
 * (validated below, so a shape change there breaks these fixtures loudly). The figures are made up
 * but consistent: score = 0.3 x accuracy + 0.5 x precision + 0.2 x recall, win rate = wins / trades.
 */
import { DEFAULT_SHADOW_VARIATIONS } from '../../shared/config/strategy.js';
import { modelRunSchema, shadowResultsSchema, storedModelSchema, type ModelRun, type ShadowPeriodStats, type ShadowResults, type StoredModel } from '../../shared/learning/types.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export function storedModel(now: number): StoredModel {
  const m: StoredModel = {
    strategy: 'v52_divergence',
    version: 'v52_divergence@4',
    n: 4,
    featureVersion: 'scan-f1',
    features: ['rsi', 'volume_z', 'ema_gap', 'atr_pct'],
    trainedAt: now - 3 * HOUR,
    window: { trainFrom: now - 30 * DAY, trainTo: now - 6 * DAY, scoreFrom: now - 6 * DAY, scoreTo: now - 4 * HOUR, trainRows: 160, scoreRows: 40 },
    metrics: { accuracy: 0.7, precision: 0.75, recall: 0.6, score: 0.705, rows: 40, wins: 20 },
    // deliberately not in order: the reply sorts by importance
    importances: [
      { feature: 'atr_pct', importance: 0.1 },
      { feature: 'rsi', importance: 0.4 },
      { feature: 'volume_z', importance: 0.3 },
      { feature: 'ema_gap', importance: 0.2 },
    ],
    algorithm: { library: 'ml-random-forest', libraryVersion: '2.1.0', params: { trees: 60, maxDepth: 6 } },
    forest: '{}',
  };
  return storedModelSchema.parse(m);
}

function stats(trades: number, wins: number, pnl: number, pf: number | null, p: number | null): ShadowPeriodStats {
  return { trades, wins, winRate: trades ? wins / trades : null, profitFactor: pf, pnl, meanPnlPct: trades ? pnl / trades / 10 : null, pValue: p };
}

/** CHAMPION + the eight default challengers; BREAKOUT_2 failed on a bad override. */
export function shadowResults(now: number): ShadowResults {
  const figures: Record<string, ShadowPeriodStats> = {
    CHAMPION: stats(40, 22, 35.5, 1.31, null),
    AGGRESSIVE: stats(40, 21, 61.25, 1.28, 0.31),
    CONSERVATIVE: stats(31, 20, 48.9, 1.9, 0.04),
    ML_TRUST: stats(18, 12, 22.4, 2.05, 0.22),
    QUICK_EXITS: stats(44, 25, -12.75, 0.88, 0.12),
    DCA_DROP_4: stats(36, 19, 30.1, 1.2, 0.71),
    CONFIDENCE_55: stats(23, 9, -40.2, 0.62, 0.0004),
    VOLATILITY_SIZED: stats(40, 22, 28.0, 1.25, 0.6),
  };
  const r: ShadowResults = {
    runId: 'shadow-2025-06-22',
    ts: now - 2 * HOUR,
    from: now - 30 * DAY,
    to: now - 2 * HOUR,
    symbols: ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'],
    periodsHours: [24, 72, 168, 720],
    significanceP: 0.1,
    variations: [
      { name: 'CHAMPION', description: 'the live config', overrides: {}, periods: {} },
      ...DEFAULT_SHADOW_VARIATIONS.map((v) => ({ name: v.name, description: v.description, overrides: v.overrides, periods: {} })),
    ].map((v) => {
      if (v.name === 'BREAKOUT_2') return { ...v, error: 'unknown config path macro.setups.SWING.breakoutPct' };
      const s = figures[v.name]!;
      // 24 h: a tenth of the figures; 3d / 30d scaled; 7d as above
      const scaled = (k: number) => stats(Math.round(s.trades * k), Math.round(s.wins * k), Math.round(s.pnl * k * 100) / 100, s.profitFactor, s.pValue);
      return { ...v, periods: { '24': scaled(0.1), '72': scaled(0.4), '168': s, '720': scaled(4) } };
    }),
    scans: 43_200,
    wallMs: 5400,
  };
  return shadowResultsSchema.parse(r);
}

export function modelRuns(now: number): ModelRun[] {
  const runs: ModelRun[] = [
    { runId: 'r1', ts: now, strategy: 'v52_divergence', modelVersion: 'v52_divergence@5', outcome: 'replaced', replaced: true, metrics: { accuracy: 0.72, precision: 0.76, recall: 0.61, score: 0.718, rows: 45, wins: 22 }, previous: { version: 'v52_divergence@4', score: 0.705 }, newTrades: 34, trainMs: 1240, detail: 'score 0.718 >= 0.705' },
    { runId: 'r1', ts: now, strategy: 'dca', modelVersion: 'dca@2', outcome: 'protected', replaced: false, metrics: { accuracy: 0.8, precision: 0.8, recall: 0.7, score: 0.78, rows: 20, wins: 12 }, previous: { version: 'dca@1', score: 0.86 }, newTrades: 22, trainMs: 600, detail: 'in force scores 0.86 >= 0.85' },
    { runId: 'r1', ts: now, strategy: 'channel', modelVersion: 'none', outcome: 'not_enough_trades', replaced: false, previous: null, newTrades: 7, trainMs: 0, detail: '7 < 20 new trades' },
  ];
  return runs.map((r) => modelRunSchema.parse(r));
}
