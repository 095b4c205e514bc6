/**
 * Every config document through the one ConfigService, strictly (issue 8, build item 6): for EACH
 * document a misspelt key, an unknown key, an out-of-range threshold and an invalid partial nested edit
 * are rejected (path named, alerted once, change log) and the last valid version stays in force; a
 * valid partial nested edit deep-merges over the last valid version (arrays replaced whole). Plus
 * sweeps over the schemas: every nested object is strict and every number is bounded.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { ManualClock } from '../../shared/ports/clock.js';
import { ConfigService, configChanges, validateConfigDocument, type ConfigStateDoc } from '../../shared/config/service.js';
import { configStatePath } from '../../shared/state-paths.js';
import { CONFIG_DOC_NAMES, CONFIG_DOCUMENTS, type ConfigDocName } from '../../shared/config/documents.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { DEFAULT_TELEGRAM_CONFIG } from '../../shared/config/telegram.js';
import { DEFAULT_PAPER_CONFIG } from '../../shared/config/strategy.js';
import { staticConfig } from '../../shared/config/source.js';
import { createRoot, type Root, type Services } from '../../infra/runtime/root.js';
import { ConsoleTelegram } from '../../infra/telegram/console.js';
import type { DocData } from '../../shared/ports/state.js';
import type { SqliteStateStore } from '../../infra/state/sqlite.js';
import { alertBus, captureLog, memoryStore, type AlertBus } from './support.js';

const T0 = Date.parse('2025-06-01T00:00:00Z');
const RELOAD = DEFAULT_SYSTEM_CONFIG.configReloadMs;

let store: SqliteStateStore | undefined;
let ab: AlertBus | undefined;
afterEach(async () => {
  await ab?.settle();
  await ab?.bus.close();
  await store?.close();
  store = undefined;
  ab = undefined;
});

function setup() {
  const clock = new ManualClock(T0);
  store = memoryStore(clock);
  ab = alertBus();
  const svc = new ConfigService({ state: store, bus: ab.bus, clock, log: captureLog().log });
  return { clock, svc, store, ab };
}

type Json = Record<string, unknown>;

interface DocCase {
  /** A valid partial nested edit and what must hold after it (the rest = the defaults). */
  goodPartial: Json;
  applied: (cfg: any) => void;
  /** A partial document with one misspelt key, and the path the rejection must name. */
  misspelt: Json;
  misspeltPath: string;
  /** An unknown key (the whole stored document plus one key), and the path. */
  unknownAt: string[];
  /** A threshold out of its bounds (would switch a filter off / break a limit). */
  outOfRange: Json;
  outOfRangeMsg: string;
  /** A partial nested edit that would make the merged config invalid. */
  badPartial: Json;
  badPartialMsg: string;
}

const CASES: Record<ConfigDocName, DocCase> = {
  system: {
    goodPartial: { kraken: { minRequestIntervalMs: 2_000 }, symbols: [{ symbol: 'BTCUSDT', krakenPair: 'XXBTZUSD', tier: 'large_cap' }] },
    applied: (c) => {
      expect(c.kraken.minRequestIntervalMs).toBe(2_000);
      expect(c.kraken.requestTimeoutMs).toBe(10_000);
      expect(c.symbols).toEqual([{ symbol: 'BTCUSDT', krakenPair: 'XXBTZUSD', tier: 'large_cap', enabled: true }]); // arrays replaced whole
    },
    misspelt: { kraken: { minRequstIntervalMs: 2_500 } },
    misspeltPath: 'kraken.minRequstIntervalMs: unknown key',
    unknownAt: ['dataQuality'],
    outOfRange: { dataQuality: { maxMoveFractionPerMinute: 1e9 } },
    outOfRangeMsg: 'dataQuality.maxMoveFractionPerMinute: Too big: expected number to be <=0.9',
    badPartial: { bybit: { reconnectMinMs: 45_000 } },
    badPartialMsg: 'bybit.reconnectMinMs: reconnectMinMs must be <= reconnectMaxMs',
  },
  macro: {
    goodPartial: { setups: { DCA: { dropFromHighPct: 3, blockedRegimes: ['PANIC', 'CAUTION'] } } },
    applied: (c) => {
      expect(c.setups.DCA).toMatchObject({ dropFromHighPct: 3, gridOrders: 5, blockedRegimes: ['PANIC', 'CAUTION'] });
      expect(c.setups.SWING.breakoutPct).toBe(1);
    },
    misspelt: { setups: { DCA: { dropFromHighPCT: 3 } } },
    misspeltPath: 'setups.DCA.dropFromHighPCT: unknown key',
    unknownAt: ['costs'],
    outOfRange: { exits: { large_cap: { stopLossPct: 100 } } },
    outOfRangeMsg: 'exits.large_cap.stopLossPct: Too big: expected number to be <=25',
    badPartial: { setups: { DCA: { blockedRegimes: ['CAUTION'] } } },
    badPartialMsg: 'setups.DCA.blockedRegimes: must include PANIC',
  },
  scalp_levels_exhaustion: {
    goodPartial: { exhaustion: { rsi: { period: 9 } } },
    applied: (c) => expect(c.exhaustion.rsi).toEqual({ period: 9, overbought: 80, oversold: 20 }),
    misspelt: { exhaustion: { rsi: { overbougth: 75 } } },
    misspeltPath: 'exhaustion.rsi.overbougth: unknown key',
    unknownAt: ['levels', 'horizontal'],
    outOfRange: { exhaustion: { lowVolume: { maxRatio: 50 } } },
    outOfRangeMsg: 'exhaustion.lowVolume.maxRatio: Too big: expected number to be <=1',
    badPartial: { exhaustion: { rsi: { oversold: 85 } } },
    badPartialMsg: 'exhaustion.rsi.oversold: oversold must be < overbought',
  },
  scalp_v52_divergence: {
    goodPartial: { volumeSpike: { minRatio: 2.5 } },
    applied: (c) => expect(c.volumeSpike).toEqual({ emaPeriod: 20, minRatio: 2.5 }),
    misspelt: { volumeSpike: { minRatoi: 2.5 } },
    misspeltPath: 'volumeSpike.minRatoi: unknown key',
    unknownAt: ['exits', 'fixed'],
    outOfRange: { volumeSpike: { minRatio: 0.01 } },
    outOfRangeMsg: 'volumeSpike.minRatio: Too small: expected number to be >=1',
    badPartial: { divergence: { overbought: 30 } },
    badPartialMsg: 'divergence.oversold: oversold must be < overbought',
  },
  filters: {
    goodPartial: { macroBias: { engageConfidence: 85 } },
    applied: (c) => expect(c.macroBias).toEqual({ enabled: true, engageConfidence: 85, releaseConfidence: 70 }),
    misspelt: { macroBias: { releaseConfidense: 60 } },
    misspeltPath: 'macroBias.releaseConfidense: unknown key',
    unknownAt: ['macroBias'],
    outOfRange: { macroBias: { engageConfidence: 100 } },
    outOfRangeMsg: 'macroBias.engageConfidence: Too big: expected number to be <=95',
    badPartial: { macroBias: { releaseConfidence: 90 } },
    badPartialMsg: 'macroBias.releaseConfidence: releaseConfidence must be <= engageConfidence',
  },
  risk: {
    goodPartial: { scalp: { perTradeRiskPct: 0.4 } },
    applied: (c) => {
      expect(c.scalp).toEqual({ perTradeRiskPct: 0.4, totalRiskPct: 2 });
      expect(c.positions).toEqual({ maxPerStrategy: 5, maxTotal: 15, maxPerCoinPerStrategy: 1 });
    },
    misspelt: { scalp: { perTradeRiskPCT: 0.3 } },
    misspeltPath: 'scalp.perTradeRiskPCT: unknown key',
    unknownAt: ['positions'],
    outOfRange: { scalp: { perTradeRiskPct: 50, totalRiskPct: 60 } },
    outOfRangeMsg: 'scalp.perTradeRiskPct: Too big: expected number to be <=5',
    badPartial: { scalp: { perTradeRiskPct: 3 } },
    badPartialMsg: 'scalp.perTradeRiskPct: perTradeRiskPct must be <= totalRiskPct',
  },
  protections: {
    goodPartial: { regime: { caution: { sizeMultiplier: 0.4 } } },
    applied: (c) => {
      expect(c.regime.caution).toEqual({ drop1hPct: 3, bleed24hPct: 3, bleed48hPct: 5, sizeMultiplier: 0.4 });
      expect(c.regime.panic.drop1hPct).toBe(5);
    },
    misspelt: { regime: { panic: { drop1hPtc: 6 } } },
    misspeltPath: 'regime.panic.drop1hPtc: unknown key',
    unknownAt: ['accountGuards'],
    outOfRange: { accountGuards: { dailyLossHaltPct: 100 } },
    outOfRangeMsg: 'accountGuards.dailyLossHaltPct: Too big: expected number to be <=50',
    badPartial: { regime: { panic: { drop1hPct: 2 } } },
    badPartialMsg: 'regime.caution.drop1hPct: CAUTION drop must be below the PANIC drop',
  },
  paper: {
    goodPartial: { costs: { bybit: { takerPct: 0.06 } } },
    applied: (c) => expect(c.costs).toEqual({ ...DEFAULT_PAPER_CONFIG.costs, bybit: { makerPct: 0.02, takerPct: 0.06 } }),
    misspelt: { costs: { bybit: { takerPtc: 0.05 } } },
    misspeltPath: 'costs.bybit.takerPtc: unknown key',
    unknownAt: ['costs', 'kraken'],
    outOfRange: { costs: { bybit: { takerPct: 0 } } },
    outOfRangeMsg: 'costs.bybit.takerPct: Too small: expected number to be >=0.01',
    badPartial: { costs: { kraken: { makerPct: 0.5 } } },
    badPartialMsg: 'costs.kraken.makerPct: makerPct must not exceed takerPct',
  },
  ml: {
    goodPartial: { retrain: { minNewTrades: 30 } },
    applied: (c) => expect(c.retrain).toMatchObject({ minNewTrades: 30, holdoutFraction: 0.25, protectScore: 0.85 }),
    misspelt: { retrain: { minNewTrade: 30 } },
    misspeltPath: 'retrain.minNewTrade: unknown key',
    unknownAt: ['suggestions', 'bounds'],
    outOfRange: { retrain: { holdoutFraction: 0.99 } },
    outOfRangeMsg: 'retrain.holdoutFraction: Too big: expected number to be <=0.5',
    badPartial: { retrain: { scoreWeights: { accuracy: 0.5 } } },
    badPartialMsg: 'retrain.scoreWeights: score weights must sum to 1',
  },
  telegram: {
    goodPartial: { ownerUserId: 4242, access: { maxVerifyAttempts: 3 }, alerts: { moveTpStepsPct: [0.5] } },
    applied: (c) => {
      expect(c.ownerUserId).toBe(4242);
      expect(c.access).toEqual({ ...DEFAULT_TELEGRAM_CONFIG.access, maxVerifyAttempts: 3 });
      expect(c.alerts.moveTpStepsPct).toEqual([0.5]);
    },
    misspelt: { limits: { perChatIntervalMS: 2_000 } },
    misspeltPath: 'limits.perChatIntervalMS: unknown key',
    unknownAt: ['outbox'],
    outOfRange: { limits: { globalMax: 1_000 } },
    outOfRangeMsg: 'limits.globalMax: Too big: expected number to be <=30',
    badPartial: { lists: { defaultLast: 8, maxLast: 6 } },
    badPartialMsg: 'lists.defaultLast: defaultLast must be <= maxLast',
  },
};

function withKey(doc: unknown, at: string[], key: string, value: unknown): Json {
  const out = structuredClone(doc) as Json;
  let cur = out;
  for (const p of at) cur = cur[p] as Json;
  cur[key] = value;
  return out;
}

describe('every config document is strict, bounded and deep-merged (through ConfigService)', () => {
  it('covers every registered document', () => {
    expect(Object.keys(CASES).sort()).toEqual([...CONFIG_DOC_NAMES].sort());
  });

  for (const name of CONFIG_DOC_NAMES) {
    it(`${name}: a valid partial nested edit merges; misspelt / unknown / out-of-range / bad partial edits are rejected and the last valid stays`, async () => {
      const { clock, svc, store, ab } = setup();
      const c = CASES[name];
      const path = CONFIG_DOCUMENTS[name].path;
      const defaults = JSON.parse(JSON.stringify(CONFIG_DOCUMENTS[name].defaults));
      expect(await svc.get(name)).toEqual(CONFIG_DOCUMENTS[name].defaults);

      // The owner writes only the fields to change (a partial, nested document).
      await store.set(path, c.goodPartial as DocData);
      await clock.advance(RELOAD);
      const good = await svc.get(name);
      c.applied(good);
      const lastValid = structuredClone(good);
      const [applied] = await configChanges(store, name);
      expect(applied).toMatchObject({ outcome: 'applied', before: defaults, after: JSON.parse(JSON.stringify(good)) });

      const bad: Array<[string, Json, string]> = [
        ['misspelt', c.misspelt, c.misspeltPath],
        ['unknown', withKey(lastValid, c.unknownAt, 'filterOff', true), `${c.unknownAt.join('.')}.filterOff: unknown key`],
        ['out of range', c.outOfRange, c.outOfRangeMsg],
        ['bad partial', c.badPartial, c.badPartialMsg],
      ];
      for (const [what, doc, msg] of bad) {
        await store.set(path, doc as DocData);
        await clock.advance(RELOAD);
        expect(await svc.get(name), what).toEqual(lastValid); // last valid stays in force
        const [rec] = await configChanges(store, name);
        expect(rec, what).toMatchObject({ outcome: 'rejected', after: doc });
        expect(rec!.before, what).toEqual(JSON.parse(JSON.stringify(lastValid)));
        expect(rec!.errors.join('\n'), what).toContain(msg);
        await svc.check([name]); // seen again: no second alert
        // A cold start runs on the last valid version too.
        const cold = new ConfigService({ state: store, bus: ab.bus, clock, log: captureLog().log });
        expect(await cold.get(name), what).toEqual(lastValid);
      }
      await ab.settle();
      expect(ab.alerts.filter((a) => a.subject === name).map((a) => a.kind)).toEqual(['config_applied', ...bad.map(() => 'config_rejected')]);
      const st = (await store.get(configStatePath(name))) as unknown as ConfigStateDoc;
      expect(st.lastValid).toEqual(JSON.parse(JSON.stringify(lastValid)));
    });
  }

  it('successive partial edits accumulate over the last valid version; arrays are replaced whole', async () => {
    const { clock, svc, store } = setup();
    await svc.system();
    await store.set('config/system', { kraken: { intervals: ['5m', '4h'] } });
    await clock.advance(RELOAD);
    await svc.system();
    await store.set('config/system', { dataQuality: { staleAfterMs: 300_000 } });
    await clock.advance(RELOAD);
    const sys = await svc.system();
    expect(sys.kraken.intervals).toEqual(['5m', '4h']);
    expect(sys.dataQuality).toEqual({ ...DEFAULT_SYSTEM_CONFIG.dataQuality, staleAfterMs: 300_000 });
    expect(sys.symbols).toEqual(DEFAULT_SYSTEM_CONFIG.symbols);
  });

  it('a stored __proto__ key is an unknown key, not a prototype', () => {
    const r = validateConfigDocument('risk', JSON.parse('{"__proto__": {"startingEquityUsd": 5}}'), null);
    expect(r.success).toBe(false);
    expect(r.errors).toEqual(['__proto__: unknown key']);
  });

  it('a key added to a schema after the last valid version was recorded takes its default', () => {
    const recorded = structuredClone(CONFIG_DOCUMENTS.risk.defaults) as Json;
    delete recorded.swingReservePct;
    const r = validateConfigDocument('risk', { scalp: { perTradeRiskPct: 0.3 } }, recorded);
    expect(r.success && r.data.swingReservePct).toBe(20);
    expect(r.success && r.data.scalp.perTradeRiskPct).toBe(0.3);
  });
});

// ---------- sweeps over the schemas ----------

/** Every plain-object node of a document's defaults, as key paths. */
function objectPaths(value: unknown, at: string[] = []): string[][] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [];
  return [at, ...Object.entries(value).flatMap(([k, v]) => objectPaths(v, [...at, k]))];
}

type Def = { type: string; [k: string]: any };
/** Every number leaf of a schema with its bounds. */
function numberLeaves(schema: z.ZodType, at: string, out: Array<{ path: string; min: number | null; max: number | null }>): void {
  const s = schema as unknown as { _zod: { def: Def }; minValue?: number | null; maxValue?: number | null };
  const def = s._zod.def;
  switch (def.type) {
    case 'number':
      out.push({ path: at || '(document)', min: s.minValue ?? null, max: s.maxValue ?? null });
      return;
    case 'object':
      for (const [k, v] of Object.entries(def.shape as Record<string, z.ZodType>)) numberLeaves(v, at ? `${at}.${k}` : k, out);
      return;
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
    case 'nonoptional':
      return numberLeaves(def.innerType, at, out);
    case 'pipe':
      return numberLeaves(def.in, at, out);
    case 'array':
      return numberLeaves(def.element, `${at}[]`, out);
    case 'tuple':
      (def.items as z.ZodType[]).forEach((item, i) => numberLeaves(item, `${at}[${i}]`, out));
      return;
    case 'record':
      return numberLeaves(def.valueType, `${at}.*`, out);
    case 'union':
      (def.options as z.ZodType[]).forEach((o) => numberLeaves(o, at, out));
      return;
    default:
      return;
  }
}

describe('schema sweeps', () => {
  it('every nested object of every document rejects an unknown key, naming its path', () => {
    for (const name of CONFIG_DOC_NAMES) {
      const defaults = CONFIG_DOCUMENTS[name].defaults;
      for (const at of objectPaths(defaults)) {
        const r = validateConfigDocument(name, withKey(defaults, at, 'zzTypo', 1), null);
        expect(r.success, `${name} ${at.join('.')}`).toBe(false);
        expect(r.errors, `${name} ${at.join('.')}`).toEqual([`${[...at, 'zzTypo'].join('.')}: unknown key`]);
      }
    }
  });

  it('every number of every document has an explicit lower and upper bound', () => {
    const unbounded: string[] = [];
    let count = 0;
    for (const name of CONFIG_DOC_NAMES) {
      const leaves: Array<{ path: string; min: number | null; max: number | null }> = [];
      numberLeaves(CONFIG_DOCUMENTS[name].schema, '', leaves);
      count += leaves.length;
      for (const l of leaves) {
        // `.int()` alone gives the safe-integer range: not a bound anyone chose.
        const ok = l.min !== null && l.max !== null && l.min > Number.MIN_SAFE_INTEGER && l.max < Number.MAX_SAFE_INTEGER;
        if (!ok) unbounded.push(`${name}.${l.path} [${l.min}, ${l.max}]`);
      }
    }
    expect(count).toBeGreaterThan(150);
    expect(unbounded).toEqual([]);
  });
});

// ---------- config/telegram through the service, in the Telegram runtime ----------

describe('config/telegram in the Telegram runtime', () => {
  function ctxOf(svc: ConfigService, clock: ManualClock): Services {
    return { state: store!, bus: ab!.bus, clock, log: captureLog().log, config: svc, warehouse: undefined as never, endpoints: { krakenRest: '', bybitRest: '', bybitWs: '' } };
  }
  /** A root over `ctx` whose Telegram side has no secrets and prints nowhere. */
  const rootOf = (ctx: Services): Root =>
    createRoot(ctx, { env: {}, secrets: { get: async () => undefined }, telegram: { api: new ConsoleTelegram({ dir: '/nonexistent', print: () => {} }) } });

  it('is reloaded within the reload interval, change-logged, and a bad nested edit keeps the owner id', async () => {
    const { clock, svc, store } = setup();
    await store.set('config/telegram', { ...JSON.parse(JSON.stringify(DEFAULT_TELEGRAM_CONFIG)), ownerUserId: 777 });
    const root = rootOf(ctxOf(svc, clock));
    let rt = await root.telegram();
    expect(rt.deps.access.owner).toBe(777);
    expect(rt.deps.tg.lists.pageSize).toBe(5);

    // A valid partial nested edit: picked up after the reload interval, owner kept.
    await store.set('config/telegram', { lists: { pageSize: 8 } });
    await clock.advance(RELOAD);
    rt = await root.telegram();
    expect(rt.deps.tg.lists).toEqual({ pageSize: 8, defaultLast: 5, maxLast: 10 });
    expect(rt.deps.access.owner).toBe(777);
    const [rec] = await configChanges(store, 'telegram');
    expect(rec).toMatchObject({ outcome: 'applied', before: { ownerUserId: 777, lists: { pageSize: 5 } }, after: { ownerUserId: 777, lists: { pageSize: 8 } } });

    // A bad nested edit (a string where a number goes, a limit above Telegram's): rejected, owner kept.
    const bads: DocData[] = [{ access: { maxVerifyAttempts: 'three' } }, { ownerUserId: -5 }, { limits: { perChatIntervalMs: 10 } }];
    for (const bad of bads) {
      await store.set('config/telegram', bad);
      await clock.advance(RELOAD);
      rt = await root.telegram();
      expect(rt.deps.access.owner).toBe(777);
      expect(rt.deps.tg.lists.pageSize).toBe(8);
      expect(rt.deps.tg.limits.perChatIntervalMs).toBe(1_000);
      expect((await configChanges(store, 'telegram'))[0]).toMatchObject({ outcome: 'rejected', after: bad });
    }
    await ab!.settle();
    expect(ab!.alerts.filter((a) => a.subject === 'telegram').map((a) => a.kind)).toEqual(['config_applied', 'config_rejected', 'config_rejected', 'config_rejected']);
  });

  it('a fixed ConfigSource keeps the same runtime (nothing rebuilt)', async () => {
    const { clock } = setup();
    const root = rootOf({ ...ctxOf(undefined as never, clock), config: staticConfig(DEFAULT_SYSTEM_CONFIG) });
    const a = await root.telegram();
    expect(await root.telegram()).toBe(a);
  });
});
