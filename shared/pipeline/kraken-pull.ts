/**
 * Kraken OHLC pull (SPEC 1/2): Cloud Scheduler POSTs every minute (the local scheduler on the same
 * cadence). Runs the domain pull with the Kraken client the deps hand out for the config in force: the
 * composition root keeps one client per client settings for its whole life, so the per-pair rate limit
 * and the confirmed pair keys survive between invocations of a warm instance.
 */
import type { ConfigSource } from '../config/source.js';
import type { SystemConfig } from '../config/system.js';
import { pullKraken, type KrakenPullDeps } from '../market/kraken/pull.js';
import type { KrakenMarketData } from '../ports/kraken.js';

export const FUNCTION_NAME = 'kraken-pull';

export interface Deps extends Omit<KrakenPullDeps, 'kraken' | 'config'> {
  config: ConfigSource;
  /** The Kraken client for these client settings (the same one while they stay the same). */
  kraken(cfg: SystemConfig['kraken']): KrakenMarketData;
}

export async function handle(deps: Deps, _body?: unknown): Promise<Record<string, unknown>> {
  const config = await deps.config.system();
  const { kraken, config: _source, ...ports } = deps;
  const result = await pullKraken({ ...ports, kraken: kraken(config.kraken), config });
  return { ...result };
}
