/**
 * The dashboard's Strategies page (api.ts StrategiesView): per coin and strategy, how close it is to
 * triggering now (each condition, its value, its threshold), the bias with its components, cooldowns
 * and what is disabled.
 *
 * CONTRACT STUB (issue 12): the readiness helper replaces the body; the signature stays.
 */
import type { StrategiesView } from './api.js';
import type { TelegramDeps } from '../telegram/deps.js';

export async function strategiesView(d: Pick<TelegramDeps, 'state' | 'config'>, now: number): Promise<StrategiesView> {
  void d;
  return { asOf: now, readiness: [], biases: [], disabled: [] };
}
