import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/ports/clock.js';
import { ConfigService, configChanges, seedDefaults, type ConfigStateDoc } from '../../shared/config/service.js';
import { configStatePath } from '../../shared/state-paths.js';
import { CONFIG_DOC_NAMES, CONFIG_DOCUMENTS } from '../../shared/config/documents.js';
import { DEFAULT_SYSTEM_CONFIG, type SystemConfig } from '../../shared/config/system.js';
import { DEFAULT_STRATEGY_CONFIGS } from '../../shared/config/strategy.js';
import { DEFAULT_TELEGRAM_CONFIG } from '../../shared/config/telegram.js';
import type { DocData } from '../../shared/ports/state.js';
import { alertBus, captureLog, memoryStore, type AlertBus } from './support.js';
import type { SqliteStateStore } from '../../infra/state/sqlite.js';

const T0 = Date.parse('2025-06-01T00:00:00Z');
const RELOAD = DEFAULT_SYSTEM_CONFIG.configReloadMs;

let store: SqliteStateStore;
let ab: AlertBus;

afterEach(async () => {
  await ab?.settle();
  await ab?.bus.close();
  await store?.close();
});

function setup() {
  const clock = new ManualClock(T0);
  store = memoryStore(clock);
  ab = alertBus();
  const cap = captureLog();
  const svc = new ConfigService({ state: store, bus: ab.bus, clock, log: cap.log });
  return { clock, svc, cap };
}

/** What the owner does in the console: edit one field of the stored document. */
async function ownerEdits(path: string, edit: (doc: Record<string, any>) => void): Promise<void> {
  const doc = structuredClone((await store.get(path)) as Record<string, any>);
  edit(doc);
  await store.set(path, doc as DocData);
}

describe('ConfigService', () => {
  it('reload interval is within the SPEC minute', () => {
    expect(RELOAD).toBeLessThanOrEqual(60_000);
  });

  it('seeds missing documents with the SPEC defaults and records the first version without alerting', async () => {
    const { svc } = setup();
    const sys = await svc.system();
    expect(sys).toEqual(DEFAULT_SYSTEM_CONFIG);
    expect(await store.get('config/system')).toEqual(JSON.parse(JSON.stringify(DEFAULT_SYSTEM_CONFIG)));
    const strategies = await svc.strategies();
    expect(strategies).toEqual(DEFAULT_STRATEGY_CONFIGS);
    expect(strategies.scalp.v52_divergence.emitSignals).toBe(true);
    expect(strategies.risk.scalp.totalRiskPct).toBe(2);
    expect(await svc.telegram()).toEqual(DEFAULT_TELEGRAM_CONFIG);
    for (const name of CONFIG_DOC_NAMES) expect(await store.get(CONFIG_DOCUMENTS[name].path)).toBeDefined();

    const log = await configChanges(store, 'system');
    expect(log).toHaveLength(1);
    expect(log[0]).toMatchObject({ outcome: 'initial', before: null, ts: T0 });
    await ab.settle();
    expect(ab.alerts).toEqual([]);
    // Returned configs are read-only.
    expect(() => {
      (sys as { configReloadMs: number }).configReloadMs = 1;
    }).toThrow();
  });

  it('seedDefaults creates each missing document once', async () => {
    setup();
    expect(await seedDefaults(store)).toEqual(CONFIG_DOC_NAMES);
    expect(await seedDefaults(store)).toEqual([]);
    expect(await store.get('config/risk')).toMatchObject({ startingEquityUsd: 10_000, positions: { maxPerStrategy: 5, maxTotal: 15 } });
  });

  it('applies a valid console edit after the reload interval, records before/after and alerts once', async () => {
    const { clock, svc } = setup();
    expect((await svc.system()).kraken.minRequestIntervalMs).toBe(1_000);

    await ownerEdits('config/system', (d) => (d.kraken.minRequestIntervalMs = 2_000));
    await clock.advance(RELOAD - 1);
    expect((await svc.system()).kraken.minRequestIntervalMs).toBe(1_000); // still cached
    await clock.advance(1);
    expect((await svc.system()).kraken.minRequestIntervalMs).toBe(2_000); // in force, no redeploy

    const [latest] = await configChanges(store, 'system');
    expect(latest).toMatchObject({ outcome: 'applied', ts: T0 + RELOAD, errors: [] });
    expect((latest!.before as unknown as SystemConfig).kraken.minRequestIntervalMs).toBe(1_000);
    expect((latest!.after as unknown as SystemConfig).kraken.minRequestIntervalMs).toBe(2_000);

    for (let i = 0; i < 5; i++) await svc.check(['system']);
    await ab.settle();
    expect(ab.alerts.map((a) => a.kind)).toEqual(['config_applied']);
    expect(ab.alerts[0]).toMatchObject({ subject: 'system', severity: 'info' });
  });

  it('rejects an invalid edit: the last valid config stays, the change log records it, one alert for 10 checks by 2 instances', async () => {
    const { clock, svc, cap } = setup();
    await svc.system();
    await ownerEdits('config/system', (d) => (d.kraken.minRequestIntervalMs = 1_500));
    await svc.check(['system']);
    expect((await svc.system()).kraken.minRequestIntervalMs).toBe(1_500);

    // The owner types the number as a string in the console.
    await ownerEdits('config/system', (d) => (d.kraken.minRequestIntervalMs = '2000'));
    await clock.advance(RELOAD);
    // Two instances see the bad edit for the first time at the same moment, then keep checking.
    const other = new ConfigService({ state: store, bus: ab.bus, clock, log: captureLog().log });
    for (let i = 0; i < 10; i++) {
      await Promise.all([svc.check(['system']), other.check(['system'])]);
    }
    expect((await svc.system()).kraken.minRequestIntervalMs).toBe(1_500); // last valid stays in force
    expect((await other.system()).kraken.minRequestIntervalMs).toBe(1_500);

    await ab.settle();
    const rejected = ab.alerts.filter((a) => a.kind === 'config_rejected');
    expect(rejected).toHaveLength(1);
    expect(rejected[0]!.subject).toBe('system');
    expect(rejected[0]!.message).toContain('kraken.minRequestIntervalMs: expected number, received string');
    expect(rejected[0]!.message).toContain('last valid config stays in force');

    const errors = cap.lines.filter((l) => l.severity === 'ERROR');
    expect(errors).toHaveLength(1);
    expect(String(errors[0]!.entry.message)).toContain('kraken.minRequestIntervalMs: expected number, received string');

    const log = await configChanges(store, 'system');
    expect(log.map((c) => c.outcome)).toEqual(['rejected', 'applied', 'initial']);
    const rec = log[0]!;
    expect(rec.errors).toEqual(['kraken.minRequestIntervalMs: expected number, received string']);
    expect((rec.before as unknown as SystemConfig).kraken.minRequestIntervalMs).toBe(1_500);
    expect((rec.after as any).kraken.minRequestIntervalMs).toBe('2000');
    expect(rec.ts).toBe(T0 + RELOAD);

    const st = (await store.get(configStatePath('system'))) as unknown as ConfigStateDoc;
    expect(st.rejectedHash).toBe(rec.hash);
    expect((st.lastValid as unknown as SystemConfig).kraken.minRequestIntervalMs).toBe(1_500);
  });

  it('a cold start after a rejected edit runs on the last valid config, not on defaults, and does not re-alert', async () => {
    const { clock, svc } = setup();
    await svc.system();
    await ownerEdits('config/system', (d) => (d.dataQuality.staleAfterMs = 300_000));
    await svc.check(['system']);
    await ownerEdits('config/system', (d) => {
      d.retentionDays['1m'] = -1;
      d.symbols[0].tier = 'huge';
    });
    await svc.check(['system']);

    const cold = new ConfigService({ state: store, bus: ab.bus, clock, log: captureLog().log });
    const sys = await cold.system();
    expect(sys.dataQuality.staleAfterMs).toBe(300_000);
    expect(sys.retentionDays['1m']).toBe(30);
    await ab.settle();
    expect(ab.alerts.map((a) => a.kind)).toEqual(['config_applied', 'config_rejected']);
    expect(ab.alerts[1]!.message).toMatch(/symbols\[0\]\.tier: .*large_cap/);
    expect(ab.alerts[1]!.message).toContain('retentionDays.1m: Too small');
  });

  it('a fixed document applies again and a repeated bad edit alerts again', async () => {
    const { svc } = setup();
    await svc.system();
    await ownerEdits('config/system', (d) => (d.configReloadMs = 120_000)); // > 60 s: invalid
    await svc.check(['system']);
    await ownerEdits('config/system', (d) => (d.configReloadMs = 20_000));
    await svc.check(['system']);
    expect((await svc.system()).configReloadMs).toBe(20_000);
    expect(svc.reloadMs()).toBe(20_000);
    await ownerEdits('config/system', (d) => (d.configReloadMs = 120_000));
    await svc.check(['system']);
    expect((await svc.system()).configReloadMs).toBe(20_000);
    await ab.settle();
    expect(ab.alerts.map((a) => a.kind)).toEqual(['config_rejected', 'config_applied', 'config_rejected']);
    expect((await configChanges(store, 'system')).map((c) => c.outcome)).toEqual(['rejected', 'applied', 'rejected', 'initial']);
  });

  it('strategy documents are validated independently; a misspelt key is rejected', async () => {
    const { svc } = setup();
    await svc.strategies();
    await ownerEdits('config/macro', (d) => {
      d.setups.DCA.dropFromHighPCT = 3; // typo
    });
    await ownerEdits('config/risk', (d) => (d.scalp.perTradeRiskPct = 0.25));
    const results = await svc.check();
    expect(results.find((r) => r.name === 'macro')).toMatchObject({ outcome: 'rejected' });
    expect(results.find((r) => r.name === 'risk')).toMatchObject({ outcome: 'applied' });
    const s = await svc.strategies();
    expect(s.macro.setups.DCA.dropFromHighPct).toBe(2.5);
    expect(s.risk.scalp.perTradeRiskPct).toBe(0.25);
    await ab.settle();
    const rej = ab.alerts.find((a) => a.kind === 'config_rejected')!;
    expect(rej.subject).toBe('macro');
    expect(rej.message).toContain('setups.DCA.dropFromHighPCT: unknown key');
  });

  it('cross-field rules reject inconsistent strategy edits', async () => {
    const { svc } = setup();
    await svc.strategies();
    await ownerEdits('config/filters', (d) => (d.macroBias.releaseConfidence = 85));
    await ownerEdits('config/risk', (d) => (d.swingAllocationPct.DCA = 50));
    await svc.check(['filters', 'risk']);
    await ab.settle();
    const msgs = ab.alerts.map((a) => a.message).join('\n');
    expect(msgs).toContain('macroBias.releaseConfidence: releaseConfidence must be <= engageConfidence');
    expect(msgs).toContain('swingAllocationPct: must sum to 100 (sums to 110)');
    expect((await svc.strategies()).filters.macroBias.releaseConfidence).toBe(70);
  });

  it('a deleted document is re-seeded with the last valid config', async () => {
    const { svc } = setup();
    await svc.system();
    await ownerEdits('config/system', (d) => (d.hotWindowCandles = 321));
    await svc.check(['system']);
    await store.delete('config/system');
    const [r] = await svc.check(['system']);
    expect(r).toMatchObject({ seeded: true, outcome: 'unchanged' });
    expect(((await store.get('config/system')) as unknown as SystemConfig).hotWindowCandles).toBe(321);
  });
});
