/**
 * Strategy config documents (SPEC 3-6, 8, 12), validated with zod. Every number is a SPEC default (or,
 * where the SPEC leaves it open, a default decided here and marked "chosen"); engines read these
 * documents through `ConfigService.strategies()` and never hard-code a threshold.
 *
 * Conventions, so a console edit means what the owner thinks it means:
 * - `...Pct` fields are PERCENT numbers (2.5 means 2.5 %), never fractions.
 * - `...Ms` fields are milliseconds.
 * - Objects are strict: an unknown (e.g. misspelt) key is rejected instead of silently ignored.
 * - Every number has a lower and an upper bound, chosen so no value switches a safety filter off
 *   (a stop of 100 %, a PANIC threshold no market reaches, a loss halt at 100 %, zero costs).
 *
 * One Firestore document per area (see shared/config/documents.ts): `config/macro`,
 * `config/scalp_levels_exhaustion`, `config/scalp_v52_divergence`, `config/filters`, `config/risk`,
 * `config/protections`, `config/paper`, `config/ml`. A bad edit to one area never blocks another.
 */
import { z } from 'zod';
import { INTERVALS, type Tier } from '../model/market.js';

const HOUR_MS = 60 * 60_000;
const DAY_MS = 24 * HOUR_MS;

// ---------- shared building blocks ----------

const pct = z.number().min(0).max(100);
const positivePct = z.number().positive().max(100);
/** A hold / exit / window duration: one minute to 30 days. */
const duration = z.number().int().min(60_000).max(30 * DAY_MS);
/** A volume multiple of its average. */
const volumeRatio = z.number().min(0.1).max(10);
const period = z.number().int().min(1).max(1_000);
const weight = z.number().min(0).max(1);
const interval = z.enum(INTERVALS);

/** A value per market-cap tier (every tier must be present). */
function perTier<T extends z.ZodType>(value: T) {
  return z.strictObject({ large_cap: value, mid_cap: value, small_cap: value, memecoin: value });
}
export type PerTier<T> = Record<Tier, T>;

export const REGIMES = ['PANIC', 'CAUTION', 'EUPHORIA', 'NORMAL'] as const;
export type Regime = (typeof REGIMES)[number];

const SWING_SETUPS = ['DCA', 'SWING', 'CHANNEL'] as const;
export type SwingSetup = (typeof SWING_SETUPS)[number];

export const SCALP_STRATEGIES = ['levels_exhaustion', 'v52_divergence'] as const;
export type ScalpStrategyId = (typeof SCALP_STRATEGIES)[number];

// ---------- MACRO (SPEC 3) ----------

const exitTierSchema = z.strictObject({
  takeProfitPct: z.number().min(0.1).max(100),
  /** A stop at 100 % is no stop: at most 25 %. */
  stopLossPct: z.number().min(0.1).max(25),
  trailingPct: z.number().min(0.05).max(25),
});

export const macroConfigSchema = z
  .strictObject({
    enabled: z.boolean(),
    /** An expired bias means "no bias" (SPEC 3). */
    biasTtlMs: z.number().int().min(15 * 60_000).max(DAY_MS),
    bias: z.strictObject({
      /** Weighted, explainable components; weights must sum to 1. */
      components: z.strictObject({
        trend4h: z.strictObject({
          weight,
          interval,
          emaFast: period,
          emaSlow: period,
          /** Candles over which the slow EMA slope is measured. */
          slopeLookback: period,
        }),
        momentum4h: z.strictObject({
          weight,
          interval,
          rsiPeriod: period,
          rsiBullAbove: pct,
          rsiBearBelow: pct,
          macdFast: period,
          macdSlow: period,
          macdSignal: period,
        }),
        structure5m: z.strictObject({
          weight,
          interval,
          emaPeriod: period,
          rsiPeriod: period,
          rsiBullAbove: pct,
          rsiBearBelow: pct,
        }),
        volume: z.strictObject({
          weight,
          interval,
          avgPeriod: period,
          /** Volume confirms the direction when >= this multiple of its average. */
          confirmRatio: volumeRatio,
        }),
      }),
      /** Below this confidence (0-100) the bias is NEUTRAL (chosen). */
      minDirectionalConfidence: pct,
    }),
    setups: z.strictObject({
      DCA: z.strictObject({
        enabled: z.boolean(),
        /** Drop from the recent high that arms the setup. */
        dropFromHighPct: z.number().min(0.5).max(50),
        /** Window in which the recent high is taken (a 4h window). */
        highWindowMs: duration,
        /** Volume must be above this multiple of its average. */
        minVolumeRatio: volumeRatio,
        volumeAvgPeriod: period,
        /** BTC regimes in which DCA must not open (always PANIC). */
        blockedRegimes: z.array(z.enum(REGIMES)).max(REGIMES.length).refine((r) => r.includes('PANIC'), 'must include PANIC'),
        gridOrders: z.number().int().min(1).max(50),
        gridSpacingPct: z.number().min(0.1).max(20),
        timeExitMs: duration,
      }),
      SWING: z.strictObject({
        enabled: z.boolean(),
        /** close > resistance x (1 + breakoutPct / 100). */
        breakoutPct: z.number().min(0.1).max(20),
        minVolumeRatio: volumeRatio,
        volumeAvgPeriod: period,
        rsiPeriod: period,
        rsiMin: pct,
        require4hUptrend: z.boolean(),
        /** Candles in which the resistance is found (chosen). */
        resistanceLookback: period,
        timeExitMs: duration,
      }),
      CHANNEL: z.strictObject({
        enabled: z.boolean(),
        /** Entry when price is in the bottom this-% of the channel. */
        entryZonePct: z.number().min(1).max(50),
        /** Channel strength in [0, 1]. */
        minStrength: weight,
        /** Candles over which the channel is detected (chosen). */
        lookbackCandles: period,
        interval,
        timeExitMs: duration,
      }),
    }),
    /** Exit defaults by market-cap tier (memecoin: chosen = small-cap numbers). */
    exits: perTier(exitTierSchema),
    costs: z.strictObject({
      /**
       * Swing slippage per taker fill (every fill under the `conservative` cost profile), by tier. The
       * swing FEES are config/paper `costs.kraken` (the venue's tier) and `costs.conservative`.
       * Costs are part of the risk budget: never zero.
       */
      slippagePct: perTier(z.number().min(0.01).max(10)),
    }),
    /** SPEC 12: two swing setups on one coin. */
    conflicts: z.strictObject({
      sameDirection: z.literal('higher_confidence'),
      opposing: z.literal('cancel_both'),
    }),
  })
  .superRefine((c, ctx) => {
    const w = Object.values(c.bias.components).reduce((s, x) => s + x.weight, 0);
    if (Math.abs(w - 1) > 1e-6) {
      ctx.addIssue({ code: 'custom', path: ['bias', 'components'], message: `weights must sum to 1 (they sum to ${round(w)})` });
    }
    const t = c.bias.components.trend4h;
    if (t.emaFast >= t.emaSlow) ctx.addIssue({ code: 'custom', path: ['bias', 'components', 'trend4h', 'emaFast'], message: 'emaFast must be < emaSlow' });
    const m = c.bias.components.momentum4h;
    if (m.macdFast >= m.macdSlow) ctx.addIssue({ code: 'custom', path: ['bias', 'components', 'momentum4h', 'macdFast'], message: 'macdFast must be < macdSlow' });
  });
export type MacroConfig = z.infer<typeof macroConfigSchema>;

export const DEFAULT_MACRO_CONFIG: MacroConfig = {
  enabled: true,
  biasTtlMs: 4 * HOUR_MS,
  bias: {
    components: {
      trend4h: { weight: 0.35, interval: '4h', emaFast: 50, emaSlow: 200, slopeLookback: 10 },
      momentum4h: { weight: 0.25, interval: '4h', rsiPeriod: 14, rsiBullAbove: 55, rsiBearBelow: 45, macdFast: 12, macdSlow: 26, macdSignal: 9 },
      structure5m: { weight: 0.25, interval: '5m', emaPeriod: 20, rsiPeriod: 14, rsiBullAbove: 55, rsiBearBelow: 45 },
      volume: { weight: 0.15, interval: '5m', avgPeriod: 20, confirmRatio: 1.0 },
    },
    minDirectionalConfidence: 20,
  },
  setups: {
    DCA: {
      enabled: true,
      dropFromHighPct: 2.5,
      highWindowMs: 4 * HOUR_MS,
      minVolumeRatio: 1.0,
      volumeAvgPeriod: 20,
      blockedRegimes: ['PANIC'],
      gridOrders: 5,
      gridSpacingPct: 1.0,
      timeExitMs: 72 * HOUR_MS,
    },
    SWING: {
      enabled: true,
      breakoutPct: 1.0,
      minVolumeRatio: 1.3,
      volumeAvgPeriod: 20,
      rsiPeriod: 14,
      rsiMin: 60,
      require4hUptrend: true,
      resistanceLookback: 50,
      timeExitMs: 48 * HOUR_MS,
    },
    CHANNEL: {
      enabled: true,
      entryZonePct: 10,
      minStrength: 0.75,
      lookbackCandles: 100,
      interval: '1h',
      timeExitMs: 72 * HOUR_MS,
    },
  },
  exits: {
    large_cap: { takeProfitPct: 2.0, stopLossPct: 2.0, trailingPct: 0.5 },
    mid_cap: { takeProfitPct: 2.5, stopLossPct: 2.5, trailingPct: 0.7 },
    small_cap: { takeProfitPct: 3.0, stopLossPct: 3.0, trailingPct: 1.0 },
    memecoin: { takeProfitPct: 3.0, stopLossPct: 3.0, trailingPct: 1.0 },
  },
  costs: {
    slippagePct: { large_cap: 0.15, mid_cap: 0.25, small_cap: 0.5, memecoin: 0.5 },
  },
  conflicts: { sameDirection: 'higher_confidence', opposing: 'cancel_both' },
};

// ---------- MICRO-SCALP strategies (SPEC 4) ----------

const scalpExitsSchema = z.strictObject({
  /** Which exit model is used; both are kept so the backtester can compare them. */
  mode: z.enum(['fixed', 'atr']),
  fixed: z.strictObject({ takeProfitPct: z.number().min(0.05).max(20), stopLossPct: z.number().min(0.05).max(10) }),
  atr: z.strictObject({ period, takeProfitMultiple: z.number().min(0.1).max(20), stopLossMultiple: z.number().min(0.1).max(10) }),
});

const scalpCommon = {
  enabled: z.boolean(),
  /** true: may emit signals on `trade-signals-micro`; false: decisions are only logged (scan history). */
  emitSignals: z.boolean(),
  /** Evaluate on the 15 s snapshot (forming candle) and/or on every closed 1m candle. */
  evaluateOn: z.strictObject({ snapshots: z.boolean(), closes: z.boolean() }),
  /** Closed 1m candles the engine loads per evaluation. */
  candleWindow: z.number().int().min(20).max(1_000),
  exits: scalpExitsSchema,
};

const DEFAULT_SCALP_EXITS = {
  mode: 'fixed' as const,
  fixed: { takeProfitPct: 0.5, stopLossPct: 0.3 },
  atr: { period: 14, takeProfitMultiple: 1.5, stopLossMultiple: 1.0 },
};

export const levelsExhaustionConfigSchema = z
  .strictObject({
    strategy: z.literal('levels_exhaustion'),
    ...scalpCommon,
    levels: z.strictObject({
      horizontal: z.strictObject({
        interval,
        lookbackCandles: period,
        /** A level is valid when price touched it at least this often... */
        minTouches: z.number().int().min(1).max(50),
        /** ...within this band around the level. */
        clusterPct: z.number().positive().max(5),
        /** A touch = a candle high/low within this distance of the level. */
        touchPct: z.number().positive().max(5),
      }),
      trendLines: z.strictObject({
        interval,
        /** Regression over at most this many recent swing highs/lows. */
        maxSwings: z.number().int().min(2).max(1_000),
        /** Bars on each side that make a swing high/low (chosen). */
        swingStrength: z.number().int().min(1).max(20),
        /** Valid only when R^2 exceeds this. */
        minRSquared: z.number().min(0).max(1),
      }),
      /** Price is "at" a level when within this distance of it (chosen). */
      proximityPct: z.number().positive().max(5),
    }),
    exhaustion: z.strictObject({
      /** Entry needs at least this many of the checks below. */
      minChecks: z.number().int().min(1).max(4),
      rsi: z.strictObject({ period, overbought: pct, oversold: pct }),
      /** Low volume = below this fraction of its EMA (above 1 it is not low). */
      lowVolume: z.strictObject({ emaPeriod: period, maxRatio: z.number().positive().max(1) }),
      doubleWick: z.strictObject({
        /** Wick longer than this % of the candle range. */
        minWickPct: positivePct,
        /** The two highs (or lows) within this distance of each other. */
        maxApartPct: z.number().positive().max(5),
        /** The two candles are among the last this-many closed candles (chosen). */
        lookbackCandles: z.number().int().min(2).max(50),
      }),
      /**
       * Order-book flip (chosen numbers): the top-`levels` depth imbalance (bid - ask) / (bid + ask)
       * changes sign, with |imbalance| >= `minAbsImbalance` on BOTH sides of the change, within
       * `windowMs` (snapshots arrive every 15 s, so 60 s spans 4-5 of them). A mere best bid/ask
       * change does not move a 10-level imbalance that far.
       */
      orderBookFlip: z.strictObject({
        levels: z.number().int().min(1).max(50),
        minAbsImbalance: z.number().positive().max(1),
        windowMs: z.number().int().min(5_000).max(10 * 60_000),
      }),
    }),
  })
  .superRefine((c, ctx) => {
    if (c.exhaustion.rsi.oversold >= c.exhaustion.rsi.overbought) {
      ctx.addIssue({ code: 'custom', path: ['exhaustion', 'rsi', 'oversold'], message: 'oversold must be < overbought' });
    }
    if (c.levels.horizontal.touchPct > c.levels.horizontal.clusterPct) {
      ctx.addIssue({ code: 'custom', path: ['levels', 'horizontal', 'touchPct'], message: 'touchPct must be <= clusterPct' });
    }
  });
export type LevelsExhaustionConfig = z.infer<typeof levelsExhaustionConfigSchema>;

export const DEFAULT_LEVELS_EXHAUSTION_CONFIG: LevelsExhaustionConfig = {
  strategy: 'levels_exhaustion',
  enabled: true,
  emitSignals: false,
  evaluateOn: { snapshots: true, closes: true },
  candleWindow: 200,
  exits: DEFAULT_SCALP_EXITS,
  levels: {
    horizontal: { interval: '15m', lookbackCandles: 120, minTouches: 3, clusterPct: 0.25, touchPct: 0.1 },
    trendLines: { interval: '1h', maxSwings: 200, swingStrength: 2, minRSquared: 0.7 },
    proximityPct: 0.1,
  },
  exhaustion: {
    minChecks: 2,
    rsi: { period: 7, overbought: 80, oversold: 20 },
    lowVolume: { emaPeriod: 20, maxRatio: 0.75 },
    doubleWick: { minWickPct: 60, maxApartPct: 0.1, lookbackCandles: 10 },
    orderBookFlip: { levels: 10, minAbsImbalance: 0.3, windowMs: 60_000 },
  },
};

export const v52DivergenceConfigSchema = z
  .strictObject({
    strategy: z.literal('v52_divergence'),
    ...scalpCommon,
    divergence: z.strictObject({
      rsiPeriod: period,
      /** Bars on each side that make a price pivot (chosen). */
      pivotStrength: z.number().int().min(1).max(20),
      /** The two pivots compared lie within the last this-many candles (chosen). */
      lookbackCandles: period,
      /** Minimum RSI difference between the two pivots (chosen). */
      minRsiDelta: z.number().min(0).max(100),
      /** Bearish divergence only counts with RSI above this, bullish below `oversold` (chosen). */
      overbought: pct,
      oversold: pct,
    }),
    volumeSpike: z.strictObject({
      emaPeriod: period,
      /** Volume >= this multiple of EMA(volume) is a spike (chosen; below 1 it is no spike). */
      minRatio: z.number().min(1).max(20),
    }),
  })
  .superRefine((c, ctx) => {
    if (c.divergence.oversold >= c.divergence.overbought) {
      ctx.addIssue({ code: 'custom', path: ['divergence', 'oversold'], message: 'oversold must be < overbought' });
    }
  });
export type V52DivergenceConfig = z.infer<typeof v52DivergenceConfigSchema>;

export const DEFAULT_V52_DIVERGENCE_CONFIG: V52DivergenceConfig = {
  strategy: 'v52_divergence',
  enabled: true,
  emitSignals: true,
  evaluateOn: { snapshots: true, closes: true },
  candleWindow: 200,
  exits: DEFAULT_SCALP_EXITS,
  divergence: { rsiPeriod: 14, pivotStrength: 2, lookbackCandles: 30, minRsiDelta: 2, overbought: 60, oversold: 40 },
  volumeSpike: { emaPeriod: 20, minRatio: 2.0 },
};

export type ScalpStrategyConfig = LevelsExhaustionConfig | V52DivergenceConfig;

// ---------- filters (SPEC 4) ----------

export const filtersConfigSchema = z
  .strictObject({
    macroBias: z.strictObject({
      enabled: z.boolean(),
      /** Bias LONG/SHORT with confidence >= this restricts scalps to that direction (100 would never engage)... */
      engageConfidence: z.number().min(50).max(95),
      /** ...until confidence drops below this (or the bias expires). */
      releaseConfidence: pct,
    }),
    /** A SWING position open on the same pair scales the scalp size by this factor. */
    swingConflictSizeFactor: z.number().min(0).max(1),
  })
  .superRefine((c, ctx) => {
    if (c.macroBias.releaseConfidence > c.macroBias.engageConfidence) {
      ctx.addIssue({ code: 'custom', path: ['macroBias', 'releaseConfidence'], message: 'releaseConfidence must be <= engageConfidence' });
    }
  });
export type FiltersConfig = z.infer<typeof filtersConfigSchema>;

export const DEFAULT_FILTERS_CONFIG: FiltersConfig = {
  macroBias: { enabled: true, engageConfidence: 80, releaseConfidence: 70 },
  swingConflictSizeFactor: 0.5,
};

// ---------- risk and sizing (SPEC 4, 5, 12) ----------

export const riskConfigSchema = z
  .strictObject({
    startingEquityUsd: z.number().min(10).max(1e9),
    scalp: z.strictObject({
      /** Risk budget of one scalp, % of equity. */
      perTradeRiskPct: z.number().min(0.01).max(5),
      /** Cap on total risk (|entry - stop| x qty) over ALL open scalps, % of equity. */
      totalRiskPct: z.number().min(0.01).max(20),
    }),
    positions: z.strictObject({
      maxPerStrategy: z.number().int().min(1).max(50),
      maxTotal: z.number().int().min(1).max(100),
      maxPerCoinPerStrategy: z.number().int().min(1).max(10),
    }),
    /** Swing book allocation of the allocatable capital (after the reserve); must sum to 100. */
    swingAllocationPct: z.strictObject({ DCA: pct, SWING: pct, CHANNEL: pct }),
    /** % of swing capital kept unallocated. */
    swingReservePct: pct,
    /** Notional cap of ONE position (scalp or swing, paper or live), x equity (SPEC 4 "Notional caps"). */
    maxLeverage: z.number().min(0.1).max(10).default(2),
    /** Notional cap of ALL open positions together (pending entries included), x equity. */
    maxTotalLeverage: z.number().min(0.1).max(20).default(3),
    /** A signal the caps shrink below this notional, % of equity, is rejected (`notional_cap`) instead of traded small. */
    minCappedNotionalPct: z.number().min(0).max(100).default(1),
  })
  .superRefine((c, ctx) => {
    if (c.scalp.perTradeRiskPct > c.scalp.totalRiskPct) {
      ctx.addIssue({ code: 'custom', path: ['scalp', 'perTradeRiskPct'], message: 'perTradeRiskPct must be <= totalRiskPct' });
    }
    if (c.positions.maxPerStrategy > c.positions.maxTotal) {
      ctx.addIssue({ code: 'custom', path: ['positions', 'maxPerStrategy'], message: 'maxPerStrategy must be <= maxTotal' });
    }
    if (c.maxLeverage > c.maxTotalLeverage) {
      ctx.addIssue({ code: 'custom', path: ['maxLeverage'], message: 'maxLeverage must be <= maxTotalLeverage' });
    }
    if (c.minCappedNotionalPct / 100 >= c.maxLeverage) {
      ctx.addIssue({ code: 'custom', path: ['minCappedNotionalPct'], message: 'minCappedNotionalPct must be below maxLeverage x 100 (else every capped signal is rejected)' });
    }
    const sum = c.swingAllocationPct.DCA + c.swingAllocationPct.SWING + c.swingAllocationPct.CHANNEL;
    if (Math.abs(sum - 100) > 1e-6) {
      ctx.addIssue({ code: 'custom', path: ['swingAllocationPct'], message: `must sum to 100 (sums to ${round(sum)})` });
    }
  });
export type RiskConfig = z.infer<typeof riskConfigSchema>;

export const DEFAULT_RISK_CONFIG: RiskConfig = {
  startingEquityUsd: 10_000,
  scalp: { perTradeRiskPct: 0.5, totalRiskPct: 2 },
  positions: { maxPerStrategy: 5, maxTotal: 15, maxPerCoinPerStrategy: 1 },
  swingAllocationPct: { DCA: 40, SWING: 30, CHANNEL: 30 },
  swingReservePct: 20,
  maxLeverage: 2,
  maxTotalLeverage: 3,
  minCappedNotionalPct: 1,
};

// ---------- market protection (SPEC 6) ----------

/** A regime's stop-width multiplier. */
const stopMultiplier = z.number().min(0.5).max(5);

export const protectionsConfigSchema = z
  .strictObject({
    regime: z.strictObject({
      /** Regimes are computed from this symbol. */
      referenceSymbol: z.string().min(1).max(30),
      /** PANIC thresholds a market does reach (a 1h drop of 30 % or more would never trip it). */
      panic: z.strictObject({ drop1hPct: z.number().min(1).max(30), drop4hPct: z.number().min(1).max(50), sizeMultiplier: z.literal(0) }),
      caution: z.strictObject({
        /** A 1h drop of at least this (and up to the PANIC threshold). */
        drop1hPct: z.number().min(0.5).max(30),
        bleed24hPct: z.number().min(0.5).max(50),
        bleed48hPct: z.number().min(0.5).max(50),
        sizeMultiplier: z.number().min(0).max(1),
      }),
      euphoria: z.strictObject({ rise1hPct: z.number().min(1).max(50), sizeMultiplier: z.number().min(0).max(1) }),
      /**
       * Hold (no minute-to-minute flicker): a more severe regime applies at once; a calmer one only
       * once the current regime has held >= minHoldMs AND every classification of the last
       * calmConfirmMs was calmer (shared/protection/regime.ts stepRegime).
       */
      minHoldMs: z.number().int().min(60_000).max(24 * HOUR_MS),
      calmConfirmMs: z.number().int().min(60_000).max(24 * HOUR_MS),
      /** No reference candle for longer than this: new entries stop (fail closed), one alert. */
      referenceMaxAgeMs: z.number().int().min(2 * 60_000).max(6 * HOUR_MS),
    }),
    /** Strategy disable by 24h volatility with hysteresis, per swing setup. */
    volatilityDisable: z.partialRecord(
      z.enum(SWING_SETUPS),
      z.strictObject({ disableAbovePct: z.number().min(1).max(50), enableBelowPct: z.number().min(0.5).max(50), windowMs: z.number().int().min(HOUR_MS).max(7 * DAY_MS) }),
    ),
    tradeLimiter: z.strictObject({
      consecutiveStops: z.number().int().min(1).max(20),
      cooldownMs: perTier(z.number().int().min(60_000).max(7 * DAY_MS)),
      resetOn: z.strictObject({
        /** A take-profit hit of at least this % of the TP distance resets the counter. */
        takeProfitReachedPct: z.number().min(1).max(100),
        profitableTimeout: z.boolean(),
        trailingActivation: z.boolean(),
      }),
    }),
    adaptiveStops: z.strictObject({
      /** stop = base x (1 + volatilityFactor x normalised volatility) x regime multiplier. */
      volatilityFactor: z.number().min(0).max(5),
      regimeMultiplier: z.strictObject({ PANIC: stopMultiplier, CAUTION: stopMultiplier, EUPHORIA: stopMultiplier, NORMAL: stopMultiplier }),
      /** The widest adaptive stop (100 % would be no stop). */
      capPct: perTier(z.number().min(0.5).max(50)),
    }),
    accountGuards: z.strictObject({
      /** Stop new trades at this daily loss (a halt at 100 % would never halt). */
      dailyLossHaltPct: z.number().min(0.5).max(50),
      /** Alert at this daily drawdown. */
      dailyDrawdownAlertPct: z.number().min(0.1).max(50),
      /** Pause after this many consecutive losses. */
      maxConsecutiveLosses: z.number().int().min(1).max(50),
    }),
  })
  .superRefine((c, ctx) => {
    if (c.regime.caution.drop1hPct >= c.regime.panic.drop1hPct) {
      ctx.addIssue({ code: 'custom', path: ['regime', 'caution', 'drop1hPct'], message: 'CAUTION drop must be below the PANIC drop' });
    }
    for (const [setup, v] of Object.entries(c.volatilityDisable)) {
      if (v && v.enableBelowPct >= v.disableAbovePct) {
        ctx.addIssue({ code: 'custom', path: ['volatilityDisable', setup, 'enableBelowPct'], message: 'enableBelowPct must be < disableAbovePct (hysteresis)' });
      }
    }
    if (c.accountGuards.dailyDrawdownAlertPct > c.accountGuards.dailyLossHaltPct) {
      ctx.addIssue({ code: 'custom', path: ['accountGuards', 'dailyDrawdownAlertPct'], message: 'the alert level must be <= the halt level' });
    }
  });
export type ProtectionsConfig = z.infer<typeof protectionsConfigSchema>;

export const DEFAULT_PROTECTIONS_CONFIG: ProtectionsConfig = {
  regime: {
    referenceSymbol: 'BTCUSDT',
    panic: { drop1hPct: 5, drop4hPct: 10, sizeMultiplier: 0 },
    caution: { drop1hPct: 3, bleed24hPct: 3, bleed48hPct: 5, sizeMultiplier: 0.5 },
    euphoria: { rise1hPct: 5, sizeMultiplier: 0.7 },
    minHoldMs: 30 * 60_000,
    calmConfirmMs: 10 * 60_000,
    referenceMaxAgeMs: 5 * 60_000,
  },
  volatilityDisable: { CHANNEL: { disableAbovePct: 8, enableBelowPct: 6, windowMs: 24 * HOUR_MS } },
  tradeLimiter: {
    consecutiveStops: 3,
    cooldownMs: { large_cap: 4 * HOUR_MS, mid_cap: 6 * HOUR_MS, small_cap: 12 * HOUR_MS, memecoin: 24 * HOUR_MS },
    resetOn: { takeProfitReachedPct: 50, profitableTimeout: true, trailingActivation: true },
  },
  adaptiveStops: {
    volatilityFactor: 0.3,
    regimeMultiplier: { PANIC: 1.5, CAUTION: 1.3, EUPHORIA: 1.2, NORMAL: 1.0 },
    capPct: { large_cap: 10, mid_cap: 12, small_cap: 15, memecoin: 15 },
  },
  accountGuards: { dailyLossHaltPct: 10, dailyDrawdownAlertPct: 3, maxConsecutiveLosses: 5 },
};

// ---------- paper trading (SPEC 5) ----------

const EXIT_PRIORITY = ['stop_loss', 'take_profit', 'trailing', 'time_exit'] as const;

/** How fills are charged (SPEC 5); see shared/trading/costs.ts and the fill model in paper-fills.ts. */
export const COST_PROFILES = ['maker_taker', 'conservative'] as const;
export type CostProfile = (typeof COST_PROFILES)[number];

/** A venue's fee tier, % of the fill notional. Costs are part of the risk budget: the taker fee is never zero. */
const venueFeesSchema = z
  .strictObject({
    /** A resting limit filled when traded through (PostOnly entry, take profit). */
    makerPct: z.number().min(0).max(2),
    /** A stop, a time / owner / protection close, an entry that crosses the book on arrival. */
    takerPct: z.number().min(0.01).max(5),
  })
  .refine((f) => f.makerPct <= f.takerPct, { message: 'makerPct must not exceed takerPct', path: ['makerPct'] });

export const paperConfigSchema = z.strictObject({
  costs: z.strictObject({
    /**
     * maker_taker (SPEC 5, default): a resting limit traded through is a maker fill at its own price
     * with no slippage; a stop or any crossing fill is a taker fill with slippage at the worse price.
     * conservative: the plans' flat figures, every fill at `conservative` fees plus slippage (for
     * comparison with the numbers before the maker/taker split).
     */
    profile: z.enum(COST_PROFILES),
    /** Bybit linear perpetuals (the scalps' venue), base tier. */
    bybit: venueFeesSchema,
    /** Kraken spot (the swings' venue), base tier. */
    kraken: venueFeesSchema,
    /** Flat fee per side on every fill under the conservative profile. */
    conservative: z.strictObject({
      scalpPctPerSide: z.number().min(0.01).max(2),
      swingPctPerSide: z.number().min(0.01).max(5),
    }),
    /** Scalp slippage per taker fill (chosen; swing slippage is per tier in `macro.costs.slippagePct`). */
    scalpSlippagePct: z.number().min(0.001).max(2),
  }),
  /** An unfilled limit entry is cancelled after this long (chosen). */
  entryTimeoutMs: z.strictObject({ scalp: z.number().int().min(10_000).max(HOUR_MS), swing: z.number().int().min(60_000).max(7 * DAY_MS) }),
  /** Exit checks in this order when several trigger on the same candle (SPEC 5, fixed). */
  exitPriority: z.tuple([z.literal('stop_loss'), z.literal('take_profit'), z.literal('trailing'), z.literal('time_exit')]),
});
export type PaperConfig = z.infer<typeof paperConfigSchema>;

export const DEFAULT_PAPER_CONFIG: PaperConfig = {
  costs: {
    profile: 'maker_taker',
    bybit: { makerPct: 0.02, takerPct: 0.055 },
    kraken: { makerPct: 0.25, takerPct: 0.4 },
    conservative: { scalpPctPerSide: 0.06, swingPctPerSide: 0.3 },
    scalpSlippagePct: 0.02,
  },
  entryTimeoutMs: { scalp: 5 * 60_000, swing: 24 * HOUR_MS },
  exitPriority: [...EXIT_PRIORITY],
};

// ---------- learning loop (SPEC 8) ----------

const rangeSchema = z.tuple([z.number().min(0).max(100), z.number().min(0).max(100)]).refine(([lo, hi]) => lo <= hi, 'range must be [min, max] with min <= max');

/** A shadow variation's override value: a scalar at a config key path (hyperopt's override syntax). */
/** Bounded here only loosely: the target document's own schema bounds the value when the variation is built. */
const overrideValue = z.union([z.number().min(-1e9).max(1e9), z.boolean(), z.string().max(64)]);

/**
 * A shadow challenger (SPEC 8): the champion (the config in force) with these overrides, evaluated on
 * the same scans with the same strategy, risk, cost and fill code. Keys are config key paths as in
 * `npm run backtest -- hyperopt` (`macro.exits.large_cap.takeProfitPct`, `ml.mode`, ...); a path that
 * does not exist, or a value the document schema refuses, is reported by the shadow run (the
 * variation is skipped with its reason, never silently run as the champion).
 */
export const shadowVariationSchema = z.strictObject({
  /** Upper-case id shown in /shadow (CHAMPION is reserved for the config in force). */
  name: z
    .string()
    .regex(/^[A-Z][A-Z0-9_]{1,31}$/, 'name must be 2-32 characters of A-Z, 0-9 and _, starting with a letter')
    .refine((n) => n !== 'CHAMPION', 'CHAMPION is the config in force, not a challenger'),
  description: z.string().max(200),
  enabled: z.boolean(),
  overrides: z.record(z.string().regex(/^[a-zA-Z0-9_]+(\.[a-zA-Z0-9_]+)+$/, 'a config key path like macro.exits.large_cap.takeProfitPct'), overrideValue),
});
export type ShadowVariation = z.infer<typeof shadowVariationSchema>;

/** Graduated confidence of a threshold suggestion (the 003 seed): evidence needed and the share of the step applied. */
const confidenceLevelSchema = z.strictObject({
  /** Challenger trades in the period at least. */
  minTrades: z.number().int().min(1).max(100_000),
  /** Challenger P&L over the champion's, % of the champion's |P&L| (or of the risk budget when it is ~0), at least. */
  minOutperformancePct: z.number().min(0).max(1_000),
  /** Share of the 30 % step applied at this confidence. */
  stepShare: z.number().min(0).max(1),
});

export const mlConfigSchema = z
  .strictObject({
    /** advisory: predictions are recorded and shown; filter: confidence >= minConfidence gates signals. */
    mode: z.enum(['advisory', 'filter']),
    minConfidence: weight,
    /** The tree ensemble (shared/learning): a random forest of CART trees (ml-random-forest). */
    model: z.strictObject({
      trees: z.number().int().min(1).max(500),
      maxDepth: z.number().int().min(1).max(32),
      /** A node with fewer rows is a leaf. */
      minLeafRows: z.number().int().min(1).max(1_000),
      /** Share of the features each tree sees. */
      featureFraction: z.number().min(0.05).max(1),
      /** Fixed seed: the same rows train the same model. */
      seed: z.number().int().min(0).max(2 ** 31 - 1),
    }),
    retrain: z.strictObject({
      /** Retrain a strategy only with at least this many new completed trades. */
      minNewTrades: z.number().int().min(1).max(100_000),
      /** Held-out fraction for scoring: the most recent rows by entry time (never shuffled across time). */
      holdoutFraction: z.number().min(0.05).max(0.5),
      scoreWeights: z.strictObject({ accuracy: weight, precision: weight, recall: weight }),
      /** Never replace a model scoring >= this with a lower-scoring one. */
      protectScore: weight,
      /**
       * A candidate scored on fewer rows than this is not trained (untrainable): a score from a handful
       * of trades is noise, and a lucky one would lock out every later model (the protect rule).
       */
      minScoreRows: z.number().int().min(1).max(100_000),
      /** Train on at most this many most recent labelled trades per strategy (5,000 train in well under a minute: bench learning). */
      maxTrainRows: z.number().int().min(20).max(1_000_000),
      /** Train only with at least this many training rows (after the holdout and the exit-time purge). */
      minTrainRows: z.number().int().min(2).max(100_000),
    }),
    suggestions: z.strictObject({
      /** Each step moves this fraction of the way toward the optimum. */
      stepFraction: weight,
      minTrades: z.number().int().min(1).max(100_000),
      bounds: z.strictObject({
        dcaDropPct: rangeSchema,
        swingBreakoutPct: rangeSchema,
        takeProfitPct: rangeSchema,
        stopLossPct: rangeSchema,
      }),
      /** At most this many suggestions APPLIED per day (America/Los_Angeles day). */
      maxAppliedPerDay: z.number().int().min(0).max(100),
      /** Graduated confidence (the 003 seed): HIGH full step, MEDIUM half, LOW a quarter. */
      confidence: z.strictObject({ high: confidenceLevelSchema, medium: confidenceLevelSchema, low: confidenceLevelSchema }),
      /** After an applied adjustment: a drop of the strategy's performance by this much over the window asks the owner to roll back. */
      rollback: z.strictObject({
        windowHours: z.number().int().min(1).max(24 * 30),
        dropPct: z.number().min(1).max(100),
      }),
    }),
    shadow: z.strictObject({
      enabled: z.boolean(),
      /** Comparison periods, hours (24h / 3d / 7d / 30d). */
      periodsHours: z.array(z.number().int().min(1).max(24 * 365)).min(1).max(8),
      /** A challenger beats the champion significantly when the test's p-value is below this. */
      significanceP: z.number().min(0.001).max(0.5),
      variations: z.array(shadowVariationSchema).max(16),
    }),
  })
  .superRefine((c, ctx) => {
    const w = c.retrain.scoreWeights;
    if (Math.abs(w.accuracy + w.precision + w.recall - 1) > 1e-6) {
      ctx.addIssue({ code: 'custom', path: ['retrain', 'scoreWeights'], message: 'score weights must sum to 1' });
    }
    const seen = new Set<string>();
    c.shadow.variations.forEach((v, i) => {
      if (seen.has(v.name)) ctx.addIssue({ code: 'custom', path: ['shadow', 'variations', i, 'name'], message: `duplicate variation name ${v.name}` });
      seen.add(v.name);
      // a typo in a key path is refused at the edit (SPEC 10), not found the next day by the shadow run;
      // the VALUE is checked by the target document's schema when the variation is built
      for (const key of Object.keys(v.overrides)) {
        if (!configKeyExists(key)) ctx.addIssue({ code: 'custom', path: ['shadow', 'variations', i, 'overrides', key], message: `${key} is not a config key (e.g. macro.exits.large_cap.takeProfitPct)` });
      }
    });
    const { high, medium, low } = c.suggestions.confidence;
    if (!(high.minTrades >= medium.minTrades && medium.minTrades >= low.minTrades)) {
      ctx.addIssue({ code: 'custom', path: ['suggestions', 'confidence'], message: 'minTrades must not decrease from low to medium to high' });
    }
  });
export type MlConfig = z.infer<typeof mlConfigSchema>;

/** Whether `path` names an existing leaf of the strategy configs (checked against the defaults, read at validation time). */
function configKeyExists(path: string): boolean {
  let cur: unknown = DEFAULT_STRATEGY_CONFIGS;
  for (const p of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || !Object.prototype.hasOwnProperty.call(cur, p)) return false;
    cur = (cur as Record<string, unknown>)[p];
  }
  return cur === null || typeof cur !== 'object';
}

/**
 * The default challengers: the 003 seed's shadow variations, as config overrides of this project
 * (the seed's 55/65 % confidences are ML confidences here; its "volatility sized" is a stronger
 * adaptive-stop volatility factor, which shrinks the size of a trade as its stop widens).
 */
export const DEFAULT_SHADOW_VARIATIONS: ShadowVariation[] = [
  {
    name: 'AGGRESSIVE',
    description: 'more risk per scalp (0.75 %), wider swing stops and targets',
    enabled: true,
    overrides: {
      'risk.scalp.perTradeRiskPct': 0.75,
      'macro.exits.large_cap.stopLossPct': 3,
      'macro.exits.large_cap.takeProfitPct': 3,
      'macro.exits.mid_cap.stopLossPct': 3.5,
      'macro.exits.mid_cap.takeProfitPct': 3.5,
    },
  },
  {
    name: 'CONSERVATIVE',
    description: 'half the scalp risk (0.25 %), tighter swing stops, ML filter at 0.65',
    enabled: true,
    overrides: {
      'risk.scalp.perTradeRiskPct': 0.25,
      'macro.exits.large_cap.stopLossPct': 1.5,
      'macro.exits.mid_cap.stopLossPct': 2,
      'ml.mode': 'filter',
      'ml.minConfidence': 0.65,
    },
  },
  { name: 'ML_TRUST', description: 'follow the model: take only setups it calls more likely to win than not', enabled: true, overrides: { 'ml.mode': 'filter', 'ml.minConfidence': 0.5 } },
  {
    name: 'QUICK_EXITS',
    description: 'swing take profits at 0.8x, 24 h time exits',
    enabled: true,
    overrides: {
      'macro.exits.large_cap.takeProfitPct': 1.6,
      'macro.exits.mid_cap.takeProfitPct': 2,
      'macro.setups.DCA.timeExitMs': 24 * HOUR_MS,
      'macro.setups.SWING.timeExitMs': 24 * HOUR_MS,
      'macro.setups.CHANNEL.timeExitMs': 24 * HOUR_MS,
    },
  },
  { name: 'DCA_DROP_4', description: 'DCA arms on a 4 % drop from the recent high (champion 2.5 %)', enabled: true, overrides: { 'macro.setups.DCA.dropFromHighPct': 4 } },
  { name: 'CONFIDENCE_55', description: 'ML filter at 0.55', enabled: true, overrides: { 'ml.mode': 'filter', 'ml.minConfidence': 0.55 } },
  {
    name: 'VOLATILITY_SIZED',
    description: 'stops widen twice as fast with volatility (the budget then buys a smaller size)',
    enabled: true,
    overrides: { 'protections.adaptiveStops.volatilityFactor': 0.6 },
  },
  { name: 'BREAKOUT_2', description: "owner's pick: swing breakout at 2 % above resistance (champion 1 %)", enabled: true, overrides: { 'macro.setups.SWING.breakoutPct': 2 } },
];

export const DEFAULT_ML_CONFIG: MlConfig = {
  mode: 'advisory',
  minConfidence: 0.6,
  model: { trees: 60, maxDepth: 6, minLeafRows: 5, featureFraction: 0.6, seed: 20_251_203 },
  retrain: {
    minNewTrades: 20,
    holdoutFraction: 0.25,
    scoreWeights: { accuracy: 0.3, precision: 0.5, recall: 0.2 },
    protectScore: 0.85,
    maxTrainRows: 5_000,
    minScoreRows: 20,
    minTrainRows: 30,
  },
  suggestions: {
    stepFraction: 0.3,
    minTrades: 10,
    bounds: { dcaDropPct: [2, 10], swingBreakoutPct: [1, 5], takeProfitPct: [1, 20], stopLossPct: [2, 15] },
    maxAppliedPerDay: 3,
    confidence: {
      high: { minTrades: 100, minOutperformancePct: 10, stepShare: 1 },
      medium: { minTrades: 50, minOutperformancePct: 5, stepShare: 0.5 },
      low: { minTrades: 30, minOutperformancePct: 3, stepShare: 0.25 },
    },
    rollback: { windowHours: 24, dropPct: 15 },
  },
  shadow: { enabled: true, periodsHours: [24, 72, 168, 720], significanceP: 0.1, variations: DEFAULT_SHADOW_VARIATIONS },
};

// ---------- the whole set ----------

/** Every strategy document, as engines receive them from `ConfigService.strategies()`. */
export interface StrategyConfigs {
  macro: MacroConfig;
  scalp: { levels_exhaustion: LevelsExhaustionConfig; v52_divergence: V52DivergenceConfig };
  filters: FiltersConfig;
  risk: RiskConfig;
  protections: ProtectionsConfig;
  paper: PaperConfig;
  ml: MlConfig;
}

export const DEFAULT_STRATEGY_CONFIGS: StrategyConfigs = {
  macro: DEFAULT_MACRO_CONFIG,
  scalp: { levels_exhaustion: DEFAULT_LEVELS_EXHAUSTION_CONFIG, v52_divergence: DEFAULT_V52_DIVERGENCE_CONFIG },
  filters: DEFAULT_FILTERS_CONFIG,
  risk: DEFAULT_RISK_CONFIG,
  protections: DEFAULT_PROTECTIONS_CONFIG,
  paper: DEFAULT_PAPER_CONFIG,
  ml: DEFAULT_ML_CONFIG,
};

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
