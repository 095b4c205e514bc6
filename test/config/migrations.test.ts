/**
 * Config documents stored before keys were renamed (shared/config/migrations.ts) keep loading: the
 * deployed `config/paper` (flat fees, issue 10) and `config/macro` (the unused costs.takerFeePct).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../shared/ports/clock.js';
import { ConfigService, validateConfigDocument } from '../../shared/config/service.js';
import { configStatePath } from '../../shared/state-paths.js';
import { DEFAULT_MACRO_CONFIG, DEFAULT_PAPER_CONFIG } from '../../shared/config/strategy.js';
import { applyOverrides } from '../../shared/backtest/config.js';
import { DEFAULT_STRATEGY_CONFIGS } from '../../shared/config/strategy.js';
import type { DocData } from '../../shared/ports/state.js';
import type { SqliteStateStore } from '../../infra/state/sqlite.js';
import { alertBus, captureLog, memoryStore, type AlertBus } from './support.js';

/** `config/paper` as seeded by the version before the maker/taker split (the owner raised the scalp fee). */
const OLD_PAPER = {
  fees: { scalpPctPerSide: 0.075, swingPctPerSide: 0.3 },
  scalpSlippagePct: 0.03,
  entryTimeoutMs: { scalp: 300_000, swing: 86_400_000 },
  exitPriority: ['stop_loss', 'take_profit', 'trailing', 'time_exit'],
};
const OLD_MACRO = { ...structuredClone(DEFAULT_MACRO_CONFIG), costs: { takerFeePct: 0.3, slippagePct: { large_cap: 0.2, mid_cap: 0.25, small_cap: 0.5, memecoin: 0.5 } } };

let store: SqliteStateStore | undefined;
let ab: AlertBus | undefined;
afterEach(async () => {
  await ab?.settle();
  await ab?.bus.close();
  await store?.close();
  store = undefined;
  ab = undefined;
});

describe('renamed config keys', () => {
  it('an old config/paper document loads: its flat figures become the conservative profile, its slippage moves under costs', () => {
    const r = validateConfigDocument('paper', OLD_PAPER, null);
    expect(r.errors).toEqual([]);
    // the owner had TUNED the flat scalp fee (0.075, not 0.06): it stays in force (profile conservative)
    expect(r.success && r.data.costs).toEqual({ ...DEFAULT_PAPER_CONFIG.costs, profile: 'conservative', conservative: { scalpPctPerSide: 0.075, swingPctPerSide: 0.3 }, scalpSlippagePct: 0.03 });
    // a seeded document with the old default fees moves to the SPEC default (maker_taker)
    const seeded = validateConfigDocument('paper', { ...OLD_PAPER, fees: { scalpPctPerSide: 0.06, swingPctPerSide: 0.3 } }, null);
    expect(seeded.success && seeded.data.costs).toEqual({ ...DEFAULT_PAPER_CONFIG.costs, scalpSlippagePct: 0.03 });
    expect(seeded.success && seeded.data.costs.profile).toBe('maker_taker');
    // a document that names its profile keeps it
    const named = validateConfigDocument('paper', { ...OLD_PAPER, costs: { profile: 'maker_taker' } }, null);
    expect(named.success && named.data.costs.profile).toBe('maker_taker');
    // an old recorded last valid config under a new partial edit
    const edit = validateConfigDocument('paper', { costs: { profile: 'conservative' } }, OLD_PAPER);
    expect(edit.success && edit.data.costs).toMatchObject({ profile: 'conservative', conservative: { scalpPctPerSide: 0.075 }, scalpSlippagePct: 0.03 });
  });

  it('a document naming a key under its old and its new name with different values is rejected, naming both', () => {
    const r = validateConfigDocument('paper', { scalpSlippagePct: 0.03, costs: { scalpSlippagePct: 0.05 } }, null);
    expect(r.success).toBe(false);
    expect(r.errors).toEqual(['scalpSlippagePct: renamed to costs.scalpSlippagePct; the document sets both (0.03 and 0.05): remove scalpSlippagePct']);
    // the same value twice is no conflict
    expect(validateConfigDocument('paper', { scalpSlippagePct: 0.05, costs: { scalpSlippagePct: 0.05 } }, null).success).toBe(true);
  });

  it('an old config/macro document with the never-read costs.takerFeePct loads (the key is dropped, the slippage kept)', () => {
    const r = validateConfigDocument('macro', OLD_MACRO, null);
    expect(r.errors).toEqual([]);
    expect(r.success && r.data.costs).toEqual({ slippagePct: { large_cap: 0.2, mid_cap: 0.25, small_cap: 0.5, memecoin: 0.5 } });
  });

  it('through ConfigService: a deployed old document and its recorded last valid version stay in force (no rejection, no defaults)', async () => {
    const clock = new ManualClock(Date.parse('2025-06-01T00:00:00Z'));
    store = memoryStore(clock);
    ab = alertBus();
    await store.set('config/paper', OLD_PAPER as unknown as DocData);
    await store.set(configStatePath('paper'), { name: 'paper', seq: 1, appliedHash: 'old', appliedAt: 0, lastValid: OLD_PAPER, rejectedHash: null, rejectedAt: null, rejectReason: null } as unknown as DocData);
    const svc = new ConfigService({ state: store, bus: ab.bus, clock, log: captureLog().log });
    const [check] = await svc.check(['paper']);
    expect(check).toMatchObject({ outcome: 'applied' });
    const paper = await svc.get('paper');
    expect(paper.costs.conservative.scalpPctPerSide).toBe(0.075);
    expect(paper.costs.profile).toBe('conservative'); // its tuned flat fee (0.075) stays in force
    await ab.settle();
    expect(ab.alerts.map((a) => a.kind)).toEqual(['config_applied']);
  });

  it('--set paper.costs.profile=conservative is a valid override; an unknown profile is rejected by the schema', () => {
    expect(applyOverrides(DEFAULT_STRATEGY_CONFIGS, { 'paper.costs.profile': 'conservative' }).paper.costs.profile).toBe('conservative');
    expect(() => applyOverrides(DEFAULT_STRATEGY_CONFIGS, { 'paper.costs.profile': 'flat' })).toThrow(/invalid config paper\.costs\.profile/);
    expect(() => applyOverrides(DEFAULT_STRATEGY_CONFIGS, { 'paper.costs.bybit.takerPct': 0 })).toThrow(/paper\.costs\.bybit\.takerPct/);
  });
});
