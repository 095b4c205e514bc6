/**
 * The learning loop's stored shapes (SPEC 8), defined once: the model in force per strategy, each
 * retraining run, and the shadow test's results. Every reader validates with these schemas (a stored
 * document edited or written by an older version is refused with its reason, never half-read).
 * Writers: shared/learning (retraining), shared/shadow (shadow runs). Readers: the scan engines
 * (predictions), Telegram (/models, /shadow, the 02:00 summary), the dashboard.
 */
import { z } from 'zod';
import { strategyIdSchema, type StrategyId } from '../model/trading.js';

const finite = z.number().finite();
const unit = z.number().min(0).max(1);

/** Classification metrics on the scoring slice (the most recent rows; WIN is the positive class). */
export const modelMetricsSchema = z.strictObject({
  accuracy: unit,
  precision: unit,
  recall: unit,
  /** 0.3 x accuracy + 0.5 x precision + 0.2 x recall (config/ml retrain.scoreWeights). */
  score: unit,
  /** Rows of the scoring slice and how many of them were WIN. */
  rows: z.number().int().min(0),
  wins: z.number().int().min(0),
});
export type ModelMetrics = z.infer<typeof modelMetricsSchema>;

/** The time window a model was trained (and scored) on, epoch ms of the trades' decision times. */
export const trainingWindowSchema = z.strictObject({
  trainFrom: z.number().int(),
  trainTo: z.number().int(),
  scoreFrom: z.number().int(),
  scoreTo: z.number().int(),
  trainRows: z.number().int().min(0),
  scoreRows: z.number().int().min(0),
});
export type TrainingWindow = z.infer<typeof trainingWindowSchema>;

/** A trained model (in force at `models/{strategy}`, or one of `models/{strategy}/versions/*`). */
export const storedModelSchema = z.strictObject({
  strategy: strategyIdSchema,
  /** `${strategy}@${n}`; n counts the strategy's trainings from 1. */
  version: z.string().min(1).max(80),
  n: z.number().int().min(1),
  /** The feature-set version and the exact ordered feature list the forest reads (shared/learning/features.ts). */
  featureVersion: z.string().min(1).max(80),
  features: z.array(z.string().min(1).max(80)).min(1).max(200),
  trainedAt: z.number().int(),
  window: trainingWindowSchema,
  metrics: modelMetricsSchema,
  /** Normalised feature importances (sum 1), by feature name, descending. */
  importances: z.array(z.strictObject({ feature: z.string(), importance: unit })),
  /** Library and hyperparameters (config/ml model) the forest was trained with. */
  algorithm: z.strictObject({ library: z.string(), libraryVersion: z.string(), params: z.record(z.string(), z.union([finite, z.string(), z.boolean()])) }),
  /** The serialized forest (the library's JSON), absent on a version record kept as metadata only. */
  forest: z.string().optional(),
});
export type StoredModel = z.infer<typeof storedModelSchema>;

/** Why a retraining run kept or replaced the model in force (shared/learning/training.ts decideReplacement). */
export const REPLACEMENT_OUTCOMES = [
  /** No model yet: the first one is kept when it trained. */
  'first_model',
  /** The new score is not lower: replaced. */
  'replaced',
  /** The new score is lower: kept out. */
  'lower_score',
  /** The model in force scores >= protectScore and the new one is lower: kept out. */
  'protected',
  /** The features differ from the model in force: kept out until the owner approves the change. */
  'features_changed',
  /** The owner approved a pending feature change: replaced. */
  'owner_approved',
  /** Too few new completed trades since the last run: not trained. */
  'not_enough_trades',
  /** Trained rows too few, or one class only: not trained. */
  'untrainable',
] as const;
export type ReplacementOutcome = (typeof REPLACEMENT_OUTCOMES)[number];

/** One retraining run of one strategy: a `model_runs` warehouse row and its summary in the research report. */
export const modelRunSchema = z.strictObject({
  runId: z.string().min(1),
  ts: z.number().int(),
  strategy: strategyIdSchema,
  /** The candidate's version (`{strategy}@{n}`), or the model in force when nothing trained. */
  modelVersion: z.string(),
  outcome: z.enum(REPLACEMENT_OUTCOMES),
  replaced: z.boolean(),
  /** The candidate's metrics (absent when nothing trained). */
  metrics: modelMetricsSchema.optional(),
  /** The model in force before the run, and its score. */
  previous: z.strictObject({ version: z.string(), score: unit }).nullable(),
  newTrades: z.number().int().min(0),
  trainMs: z.number().min(0),
  detail: z.string(),
});
export type ModelRun = z.infer<typeof modelRunSchema>;

/** The outcome label of a completed trade (linked to its scan): WIN / LOSS by P&L after costs, TIMEOUT for a time exit. */
export type OutcomeLabel = 'WIN' | 'LOSS' | 'TIMEOUT';

// ---------- shadow testing ----------

/** One variation's figures over one period (closed trades whose exit falls in the period). */
export const shadowPeriodStatsSchema = z.strictObject({
  trades: z.number().int().min(0),
  wins: z.number().int().min(0),
  winRate: unit.nullable(),
  /** Gross profit / gross loss; null without a losing trade. */
  profitFactor: finite.nullable(),
  /** P&L after fees and slippage, USD. */
  pnl: finite,
  /** Mean P&L per trade in % of entry notional. */
  meanPnlPct: finite.nullable(),
  /** Two-sided p-value of the difference to the champion's per-trade P&L % (Welch's t-test); null for the champion or too few trades. */
  pValue: unit.nullable(),
});
export type ShadowPeriodStats = z.infer<typeof shadowPeriodStatsSchema>;

export const shadowVariationResultSchema = z.strictObject({
  /** CHAMPION, or the challenger's name (config/ml shadow.variations). */
  name: z.string().min(1),
  description: z.string(),
  overrides: z.record(z.string(), z.union([finite, z.boolean(), z.string()])),
  /** Per period (hours as a string key: "24", "72", "168", "720"). */
  periods: z.record(z.string(), shadowPeriodStatsSchema),
  /** Set when the variation could not run (bad override): its reason; periods then empty. */
  error: z.string().optional(),
  /** How the variation ran when it matters to the reader, e.g. "no model: ..." for an ML-filter variation run without models. */
  note: z.string().optional(),
});
export type ShadowVariationResult = z.infer<typeof shadowVariationResultSchema>;

/** A shadow run's results (`shadow/latest`, `shadow_runs/{runId}`). */
export const shadowResultsSchema = z.strictObject({
  runId: z.string().min(1),
  ts: z.number().int(),
  /** The simulated window (the longest period), epoch ms. */
  from: z.number().int(),
  to: z.number().int(),
  symbols: z.array(z.string()),
  periodsHours: z.array(z.number().int().positive()),
  significanceP: unit,
  variations: z.array(shadowVariationResultSchema),
  /** Scans evaluated and the wall time of the run (the bench's per-scan cost). */
  scans: z.number().int().min(0),
  wallMs: z.number().min(0),
});
export type ShadowResults = z.infer<typeof shadowResultsSchema>;

export type { StrategyId };
