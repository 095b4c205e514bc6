/**
 * What the MACRO engine publishes, as zod schemas for subscribers to validate at their edge:
 * - `macro-bias-updates` (TOPICS.macroBias): `MacroBiasMessage`, one per (symbol, 5-minute slot).
 *   Attribute `dedupeId` = `macro-bias:{symbol}:{slotStart}`; a retried run republishes the SAME
 *   content with the same `dedupeId`, so subscribers de-duplicate on it.
 * - `trade-signals-swing` (TOPICS.swingSignals): `SwingSignalMessage` (a `SwingSignal`), attribute
 *   `dedupeId` = the signal id.
 */
import { z } from 'zod';
import { TIERS } from '../../model/market.js';

const finite = z.number().finite();

export const biasComponentSchema = z.object({
  name: z.string().min(1),
  weight: finite.min(0).max(1),
  score: finite.min(-1).max(1),
  detail: z.string(),
  available: z.boolean(),
  inputs: z.record(z.string(), finite.nullable()),
});

export const macroBiasMessageSchema = z.object({
  symbol: z.string().min(1),
  bias: z.enum(['LONG', 'SHORT', 'NEUTRAL']),
  confidence: z.number().int().min(0).max(100),
  components: z.array(biasComponentSchema),
  ts: z.number().int(),
  expiresAt: z.number().int(),
  score: finite.min(-1).max(1),
  availableWeight: finite.min(0).max(1),
  reasons: z.array(z.string()),
  /** Start of the 5-minute slot the bias belongs to (= ts). */
  slotStart: z.number().int(),
  dedupeId: z.string().min(1),
});
export type MacroBiasMessage = z.infer<typeof macroBiasMessageSchema>;

const featureValue = z.union([finite, z.boolean(), z.string(), z.null()]);

export const swingSignalMessageSchema = z.object({
  signalId: z.string().min(1),
  strategy: z.enum(['dca', 'swing_breakout', 'channel']),
  engine: z.literal('SWING'),
  symbol: z.string().min(1),
  ts: z.number().int(),
  candleTime: z.number().int(),
  decision: z.literal('TAKE'),
  direction: z.enum(['LONG', 'SHORT']),
  price: finite.positive(),
  reasons: z.array(z.string()),
  features: z.record(z.string(), featureValue),
  tier: z.enum(TIERS),
  entries: z.array(finite.positive()).min(1),
  entryWeights: z.array(finite.positive().max(1)).min(1),
  stopLoss: finite.positive(),
  takeProfit: finite.positive(),
  trailingFraction: finite.positive().max(1).nullable(),
  maxHoldMs: z.number().int().positive(),
  confidence: z.number().int().min(0).max(100),
  emit: z.boolean(),
});
export type SwingSignalMessage = z.infer<typeof swingSignalMessageSchema>;
