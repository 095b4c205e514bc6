/**
 * The learning loop's feature sets (SPEC 8): per strategy an explicit, versioned, ordered list of
 * STATIONARY numbers derived from a scan decision's logged `features` (the strategies' own
 * `decisionFeatures` / swing `features`), its direction and its decision time. Never a raw price or a
 * timestamp: a forest split on "BTC above 104,000" or "after June 10" learns the month, not the setup.
 * Prices become distances in % of the decision price; times become the hour of day (sin / cos, UTC);
 * booleans become 0 / 1; the direction becomes +1 (LONG) / -1 (SHORT).
 *
 * A model records the set's `version` and `names` it was trained on (StoredModel.featureVersion /
 * features). Changing a list below MUST bump its version: the retraining run then refuses the new
 * model until the owner approves the feature change (training.ts decideReplacement).
 *
 * A missing or non-finite input is an error naming the feature (never a silent 0): the prediction
 * then records probability null and the ML filter fails closed (`ml_unavailable`).
 */
import type { Direction, ScanDecision, StrategyId } from '../model/trading.js';

export interface FeatureSet {
  version: string;
  names: readonly string[];
}

/** What a feature vector is computed from (a scan decision, or a labelled trade's copy of it). */
export type FeatureInput = Pick<ScanDecision, 'strategy' | 'direction' | 'price' | 'ts' | 'features'>;

const HOUR_MS = 3_600_000;
const DAY_HOURS = 24;

/**
 * Shared by every set:
 * - `dir`: +1 LONG, -1 SHORT (the decision's direction; for a non-TAKE scan the setup's direction:
 *   levels_exhaustion `setupDirection`, v52 `divergence` bearish/bullish, swing setups LONG).
 * - `hourSin`, `hourCos`: hour of day of the decision time (UTC, fractional) on the unit circle, so
 *   23:59 and 00:00 are neighbours.
 */
const COMMON = ['dir', 'hourSin', 'hourCos'] as const;

export const FEATURE_SETS: Record<StrategyId, FeatureSet> = {
  v52_divergence: {
    version: 'v52_divergence/1',
    names: [
      ...COMMON,
      /** snapshot: 1 = evaluated on the forming candle (15 s snapshot), 0 = on a closed candle. */
      'snapshot',
      /** rsi: RSI at the evaluated candle (0-100). */
      'rsi',
      /** pivotRsiDelta: RSI now minus RSI at the divergence pivot (the divergence's size). */
      'pivotRsiDelta',
      /** pivotAgeCandles: candles since the pivot. */
      'pivotAgeCandles',
      /** pivotDistPct: (price - pivot price) / price x 100. */
      'pivotDistPct',
      /** volumeRatio: volume / EMA(volume) of the preceding candles. */
      'volumeRatio',
      /** volumeSpike: 0 / 1. */
      'volumeSpike',
      /** atrPct: ATR / price x 100. */
      'atrPct',
      /** stopDistPct, tpDistPct: |stop - entry| and |take profit - entry| in % of entry (TAKEs only log them). */
      'stopDistPct',
      'tpDistPct',
    ],
  },
  levels_exhaustion: {
    version: 'levels_exhaustion/1',
    names: [
      ...COMMON,
      'snapshot',
      /** levelDistancePct: (price - level) / level x 100 (signed). */
      'levelDistancePct',
      /** levelIsTrendline: 1 = a trend line, 0 = a horizontal level. */
      'levelIsTrendline',
      /** levelTouches: touches of a horizontal level, swings of a trend line. */
      'levelTouches',
      /** checksHit: exhaustion checks hit (0-4). */
      'checksHit',
      /** checkRsi, checkLowVolume, checkDoubleWick: each exhaustion check 0 / 1. */
      'checkRsi',
      'rsi',
      'checkLowVolume',
      'volumeRatio',
      'checkDoubleWick',
      /** bookFlipAvailable: 1 when order-book data judged the flip check (never in a backtest); checkBookFlip 0 / 1 (0 when unavailable). */
      'bookFlipAvailable',
      'checkBookFlip',
      'atrPct',
      'stopDistPct',
      'tpDistPct',
    ],
  },
  dca: {
    version: 'dca/1',
    names: [
      ...COMMON,
      /** dropPct: % below the recent high. */
      'dropPct',
      /** volumeRatio: volume / SMA(volume) of the candles before. */
      'volumeRatio',
      /** highAgeHours: hours from the recent high's candle open to the decision. */
      'highAgeHours',
      /** regimeCaution, regimeEuphoria, regimePanic: the BTC regime one-hot (all 0 = NORMAL; unknown is missing). */
      'regimeCaution',
      'regimeEuphoria',
      'regimePanic',
    ],
  },
  swing_breakout: {
    version: 'swing_breakout/1',
    names: [
      ...COMMON,
      /** breakoutPct: % of the close above the resistance. */
      'breakoutPct',
      'volumeRatio',
      'rsi',
      /** uptrend4h: 0 / 1 (the last closed 4h candle's EMA fast > slow). */
      'uptrend4h',
    ],
  },
  channel: {
    version: 'channel/1',
    names: [
      ...COMMON,
      /** channelStrength: share of the window's closes inside the channel. */
      'channelStrength',
      /** channelPosition: (close - lower) / (upper - lower). */
      'channelPosition',
      /** channelSlopePct: slope per candle in % of the close. */
      'channelSlopePct',
      /** channelWidthPct: (upper - lower) in % of the close. */
      'channelWidthPct',
    ],
  },
};

type Features = ScanDecision['features'];
type Result = { ok: true; value: number } | { ok: false; error: string };

function num(f: Features, key: string): Result {
  const v = f[key];
  if (typeof v === 'number' && Number.isFinite(v)) return { ok: true, value: v };
  if (v === undefined || v === null) return { ok: false, error: `feature ${key} is missing` };
  return { ok: false, error: `feature ${key} is not a finite number (${String(v)})` };
}

function flag(f: Features, key: string): Result {
  const v = f[key];
  if (typeof v === 'boolean') return { ok: true, value: v ? 1 : 0 };
  if (v === undefined || v === null) return { ok: false, error: `feature ${key} is missing` };
  return { ok: false, error: `feature ${key} is not a boolean (${String(v)})` };
}

function setupDirection(input: FeatureInput): Direction | null {
  if (input.direction) return input.direction;
  const f = input.features;
  switch (input.strategy) {
    case 'levels_exhaustion':
      return f.setupDirection === 'LONG' || f.setupDirection === 'SHORT' ? f.setupDirection : null;
    case 'v52_divergence':
      return f.divergence === 'bearish' ? 'SHORT' : f.divergence === 'bullish' ? 'LONG' : null;
    default:
      return 'LONG';
  }
}

/** |a - b| / ref x 100, from two logged prices. */
function distPct(f: Features, a: string, b: string, ref: number, name: string): Result {
  const x = num(f, a);
  if (!x.ok) return { ok: false, error: `${name}: ${x.error}` };
  const y = num(f, b);
  if (!y.ok) return { ok: false, error: `${name}: ${y.error}` };
  return { ok: true, value: (Math.abs(x.value - y.value) / ref) * 100 };
}

function ratio(f: Features, key: string, ref: number, name: string): Result {
  const x = num(f, key);
  return x.ok ? { ok: true, value: (x.value / ref) * 100 } : { ok: false, error: `${name}: ${x.error}` };
}

function value(input: FeatureInput, name: string): Result {
  const f = input.features;
  const price = input.price;
  const hour = (((input.ts % (DAY_HOURS * HOUR_MS)) + DAY_HOURS * HOUR_MS) % (DAY_HOURS * HOUR_MS)) / HOUR_MS;
  switch (name) {
    case 'dir': {
      const d = setupDirection(input);
      return d ? { ok: true, value: d === 'LONG' ? 1 : -1 } : { ok: false, error: 'feature dir: no direction (neither the decision nor its setup has one)' };
    }
    case 'hourSin':
      return { ok: true, value: Math.sin((2 * Math.PI * hour) / DAY_HOURS) };
    case 'hourCos':
      return { ok: true, value: Math.cos((2 * Math.PI * hour) / DAY_HOURS) };
    case 'snapshot':
    case 'volumeSpike':
    case 'checkRsi':
    case 'checkLowVolume':
    case 'checkDoubleWick':
    case 'uptrend4h':
      return flag(f, name);
    case 'pivotRsiDelta': {
      const r = num(f, 'rsi');
      const p = num(f, 'pivotRsi');
      if (!r.ok) return { ok: false, error: `${name}: ${r.error}` };
      if (!p.ok) return { ok: false, error: `${name}: ${p.error}` };
      return { ok: true, value: r.value - p.value };
    }
    case 'pivotDistPct': {
      const p = num(f, 'pivotPrice');
      return p.ok ? { ok: true, value: ((price - p.value) / price) * 100 } : { ok: false, error: `${name}: ${p.error}` };
    }
    case 'atrPct':
      return ratio(f, 'atr', price, name);
    case 'stopDistPct':
      return distPct(f, 'stopLoss', 'entry', entryOf(input), name);
    case 'tpDistPct':
      return distPct(f, 'takeProfit', 'entry', entryOf(input), name);
    case 'levelIsTrendline': {
      const s = f.levelSource;
      return typeof s === 'string' ? { ok: true, value: s.startsWith('trendline') ? 1 : 0 } : { ok: false, error: 'feature levelSource is missing' };
    }
    case 'bookFlipAvailable':
    case 'checkBookFlip': {
      const v = f.checkBookFlip;
      if (v === 'unavailable') return { ok: true, value: 0 };
      if (typeof v === 'boolean') return { ok: true, value: name === 'bookFlipAvailable' ? 1 : v ? 1 : 0 };
      return { ok: false, error: `feature checkBookFlip is missing or not a boolean / 'unavailable' (${String(v)})` };
    }
    case 'highAgeHours': {
      const t = num(f, 'recentHighTime');
      return t.ok ? { ok: true, value: (input.ts - t.value) / HOUR_MS } : { ok: false, error: `${name}: ${t.error}` };
    }
    case 'regimeCaution':
    case 'regimeEuphoria':
    case 'regimePanic': {
      const r = f.regime;
      if (typeof r !== 'string') return { ok: false, error: 'feature regime is missing (BTC regime unknown)' };
      return { ok: true, value: r === name.slice('regime'.length).toUpperCase() ? 1 : 0 };
    }
    case 'channelSlopePct':
      return ratio(f, 'channelSlope', price, name);
    case 'channelWidthPct': {
      const u = num(f, 'channelUpper');
      const l = num(f, 'channelLower');
      if (!u.ok) return { ok: false, error: `${name}: ${u.error}` };
      if (!l.ok) return { ok: false, error: `${name}: ${l.error}` };
      return { ok: true, value: ((u.value - l.value) / price) * 100 };
    }
    default:
      return num(f, name);
  }
}

/** The entry a scalp's stop / take-profit distances refer to: its logged `entry`, else the decision price. */
function entryOf(input: FeatureInput): number {
  const e = input.features.entry;
  return typeof e === 'number' && Number.isFinite(e) && e > 0 ? e : input.price;
}

/** The feature vector of a decision in the set's order (default: the strategy's current set). */
export function featureVector(input: FeatureInput, set: FeatureSet = FEATURE_SETS[input.strategy]): { ok: true; values: number[] } | { ok: false; error: string } {
  if (!(Number.isFinite(input.price) && input.price > 0)) return { ok: false, error: `decision price ${input.price} is not a positive number` };
  if (!Number.isFinite(input.ts)) return { ok: false, error: `decision time ${input.ts} is not finite` };
  const values: number[] = [];
  for (const name of set.names) {
    const r = value(input, name);
    if (!r.ok) return { ok: false, error: `${set.version}: ${r.error}` };
    if (!Number.isFinite(r.value)) return { ok: false, error: `${set.version}: feature ${name} is not finite (${r.value})` };
    values.push(r.value);
  }
  return { ok: true, values };
}

/** Whether two feature sets are the same (version and exact ordered names). */
export function sameFeatureSet(a: FeatureSet, b: FeatureSet): boolean {
  return a.version === b.version && a.names.length === b.names.length && a.names.every((n, i) => n === b.names[i]);
}
