/**
 * config-check (Cloud Scheduler, every minute): re-reads and validates every config document, so an
 * edit is applied or rejected (and alerted once) within a minute even when nothing else reads config.
 */
import type { Ports } from '../ports/ports.js';
import { ConfigService } from '../config/service.js';

export const FUNCTION_NAME = 'config-check';

export type Deps = Pick<Ports, 'state' | 'bus' | 'clock' | 'log' | 'config'>;

export async function handle(deps: Deps, _body?: unknown): Promise<Record<string, unknown>> {
  // Reuse the instance's ConfigService (its cache is refreshed too); otherwise check with a fresh one.
  const svc = deps.config instanceof ConfigService ? deps.config : new ConfigService({ state: deps.state, bus: deps.bus, clock: deps.clock, log: deps.log });
  const results = await svc.check();
  const by = (o: string) => results.filter((r) => r.outcome === o).map((r) => r.name);
  return {
    checked: results.length,
    applied: by('applied'),
    rejected: by('rejected'),
    stillRejected: by('still_rejected'),
    initial: by('initial'),
    seeded: results.filter((r) => r.seeded).map((r) => r.name),
  };
}
