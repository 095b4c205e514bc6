import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/ports/clock.js';
import { ConfigService, configChanges } from '../../shared/config/service.js';
import { handle as configCheck, type Deps } from '../../shared/pipeline/config-check.js';
import type { DocData } from '../../shared/ports/state.js';
import { alertBus, captureLog, memoryStore, type AlertBus } from './support.js';
import type { SqliteStateStore } from '../../infra/state/sqlite.js';
import { staticConfig } from '../../shared/config/source.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';

let store: SqliteStateStore;
let ab: AlertBus;
afterEach(async () => {
  await ab.settle();
  await ab.bus.close();
  await store.close();
});

function ctxWith(config: Deps['config'], clock: ManualClock): Deps {
  return { state: store, bus: ab.bus, clock, log: captureLog().log, config };
}

describe('config-check job', () => {
  it('validates an edit within one run even when nothing else reads config (fresh service per run)', async () => {
    const clock = new ManualClock(Date.parse('2025-06-01T00:00:00Z'));
    store = memoryStore(clock);
    ab = alertBus();
    const ctx = ctxWith(staticConfig(DEFAULT_SYSTEM_CONFIG), clock);

    const first = await configCheck(ctx);
    expect(first).toMatchObject({ checked: 10, initial: expect.arrayContaining(['system', 'macro', 'ml', 'telegram']) });
    expect((first.seeded as string[]).length).toBe(10);

    const doc = structuredClone((await store.get('config/paper')) as Record<string, any>);
    doc.costs.bybit.takerPct = -1;
    await store.set('config/paper', doc as DocData);
    await clock.advance(60_000);
    const second = await configCheck(ctx);
    expect(second).toMatchObject({ rejected: ['paper'], applied: [] });
    const third = await configCheck(ctx);
    expect(third).toMatchObject({ rejected: [], stillRejected: ['paper'] });
    await ab.settle();
    expect(ab.alerts.map((a) => [a.kind, a.subject])).toEqual([['config_rejected', 'paper']]);
    expect(ab.alerts[0]!.message).toContain('costs.bybit.takerPct: Too small: expected number to be >=0.01');
    expect((await configChanges(store, 'paper'))[0]).toMatchObject({ outcome: 'rejected' });
  });

  it("uses the process's ConfigService when there is one, refreshing its cache", async () => {
    const clock = new ManualClock(Date.parse('2025-06-01T00:00:00Z'));
    store = memoryStore(clock);
    ab = alertBus();
    const svc = new ConfigService({ state: store, bus: ab.bus, clock, log: captureLog().log });
    expect((await svc.system()).hotWindowCandles).toBe(500);
    const doc = structuredClone((await store.get('config/system')) as Record<string, any>);
    doc.hotWindowCandles = 600;
    await store.set('config/system', doc as DocData);
    const r = await configCheck(ctxWith(svc, clock));
    expect(r.applied).toEqual(['system']);
    expect((await svc.system()).hotWindowCandles).toBe(600); // no clock advance needed
  });
});
