/**
 * health-check (Cloud Scheduler, every minute): data freshness per enabled symbol; one `data_stale`
 * alert per transition, one `data_fresh` on recovery (shared/health/freshness.ts).
 */
import type { Ports } from '../ports/ports.js';
import { checkFreshness } from '../health/freshness.js';

export const FUNCTION_NAME = 'health-check';

export type Deps = Pick<Ports, 'state' | 'bus' | 'clock' | 'log' | 'config'>;

export async function handle(deps: Deps, _body?: unknown): Promise<Record<string, unknown>> {
  const cfg = await deps.config.system();
  const r = await checkFreshness({ state: deps.state, bus: deps.bus, log: deps.log }, cfg, deps.clock.now());
  return { checked: r.checked, stale: r.stale, transitions: r.transitions.map((t) => `${t.symbol}->${t.to}`) };
}
