/**
 * The dashboard over a replayed real day: `replayKitDay` runs the production pipeline
 * (infra/runtime/month-replay.ts `runReplay`: candle-ingest, micro-scalp, execution, notifier on the
 * in-process bus) over 12 h of REAL Bybit candles from test/fixtures/kit (2025-06-10 00:00-11:59 UTC,
 * 24 h warm-up) into SQLite / DuckDB files; it ends with 15 closed trades and one open BTC position.
 * `dashboardRig` opens a root over those files (a bot token, an owner, a member on the allow-list) and
 * serves the real dashboard function over it (infra/dashboard/server.ts) on a free port.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runReplay, type ReplayResult } from '../../infra/runtime/month-replay.js';
import { createRoot, type Root } from '../../infra/runtime/root.js';
import { subscribeFunctions } from '../../infra/runtime/bind.js';
import { SqliteStateStore } from '../../infra/state/sqlite.js';
import { DuckDbWarehouse } from '../../infra/warehouse/duckdb.js';
import { InMemoryBus } from '../../infra/bus/memory.js';
import { ConsoleTelegram } from '../../infra/telegram/console.js';
import { fileAssets, projectRoot } from '../../infra/dashboard/assets.js';
import { startDashboardServer, type RunningDashboard } from '../../infra/dashboard/server.js';
import { staticConfig } from '../../shared/config/source.js';
import { DEFAULT_STRATEGY_CONFIGS } from '../../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { createLogger } from '../../shared/log.js';
import { ManualClock } from '../../shared/ports/clock.js';
import type { Deps } from '../../shared/pipeline/dashboard.js';
import type { TelegramDeps } from '../../shared/telegram/deps.js';
import { createLoginLink } from '../../shared/dashboard/auth.js';
import { KIT_SLICE_DIR } from '../kit.js';
import { TOPICS } from '../../shared/topics.js';
import type { Alert } from '../../shared/messages.js';

export const HOUR = 3_600_000;
export const MIN = 60_000;
/** The replayed window: 2025-06-10 00:00 -> 11:59 UTC (1m open times), 24 h of warm-up before it. */
export const REPLAY_FROM = Date.UTC(2025, 5, 10, 0, 0);
export const REPLAY_TO = REPLAY_FROM + 12 * HOUR - MIN;
export const TOKEN = '7000001:dashboard-test-bot-token';
export const OWNER = 424242;
export const MEMBER = 515151;
export const STRANGER = 606060;

export interface ReplayedDay {
  dir: string;
  stateFile: string;
  warehouseFile: string;
  result: ReplayResult;
  /** Every system alert the pipeline published during the replay. */
  alerts: Alert[];
  /** Market time right after the replay (the rig's clock starts here). */
  end: number;
}

/** Runs the pipeline over the kit day into files under a fresh temp folder (about 20-30 s). */
export async function replayKitDay(): Promise<ReplayedDay> {
  const dir = mkdtempSync(join(tmpdir(), 'cst-dash-'));
  const stateFile = join(dir, 'state.sqlite');
  const warehouseFile = join(dir, 'warehouse.duckdb');
  const alerts: Alert[] = [];
  const result = await runReplay({
    dataDir: KIT_SLICE_DIR,
    from: REPLAY_FROM,
    to: REPLAY_TO,
    warmupMs: 24 * HOUR,
    stateFile,
    warehouseFile,
    taps: { [TOPICS.alerts]: (payload) => alerts.push(payload as Alert) },
  });
  return { dir, stateFile, warehouseFile, result, alerts, end: REPLAY_TO + MIN };
}

export interface DashboardRig {
  root: Root;
  state: SqliteStateStore;
  bus: InMemoryBus;
  /** The root's clock (market time). */
  clock: ManualClock;
  /** Sessions and links (wall time in production; driven by the test here). */
  authClock: ManualClock;
  deps: Deps;
  tg: TelegramDeps;
  server: RunningDashboard;
  /** Every message published on the root's bus (topic, payload, attributes), in order. */
  published: Array<{ topic: string; data: unknown; attributes: Record<string, string> | undefined }>;
  /** `${server.url}` + path. */
  url(path: string): string;
  /** A fresh single-use login token for `userId`. */
  login(userId: number, name?: string, opts?: { local?: boolean }): string;
  /** A session token for `userId` (through POST /api/session with a login token). */
  session(userId: number): Promise<string>;
  close(): Promise<void>;
}

/** A minimal page folder for the static-file tests (the real page is web/dashboard, built by the page's own work). */
export function pageDir(dir: string): string {
  const web = join(dir, 'web');
  mkdirSync(web, { recursive: true });
  writeFileSync(join(web, 'index.html'), '<!doctype html><html><head><meta charset="utf-8"><title>CST</title></head><body><script src="app.js"></script></body></html>');
  writeFileSync(join(web, 'app.js'), '// @ts-check\n');
  writeFileSync(join(web, 'style.css'), 'body{}');
  return web;
}

export interface RigOptions {
  /** The page folder (default the repo's web/dashboard). */
  webDir?: string;
  /** The embedded default: no bot token, no owner, the local chat (a `local` login is the owner). */
  localOwner?: boolean;
  /** The owner id (default OWNER; null: none). */
  ownerId?: number | null;
  /**
   * Subscribe the registered Pub/Sub functions to the rig's bus (execution, notifier, ...), as the local
   * runtime does: a published trade command is applied to the book and confirmed in the chat.
   */
  pipeline?: boolean;
}

export async function dashboardRig(day: ReplayedDay, opts: RigOptions = {}): Promise<DashboardRig> {
  const clock = new ManualClock(day.end);
  const authClock = new ManualClock(Date.UTC(2026, 0, 15, 12, 0));
  const log = createLogger({}, { minSeverity: 'CRITICAL', sink: () => undefined });
  const state = new SqliteStateStore({ file: day.stateFile, clock });
  const bus = new InMemoryBus({ fast: true, clock, log });
  const warehouse = new DuckDbWarehouse({ file: day.warehouseFile });
  const config = staticConfig(DEFAULT_SYSTEM_CONFIG, DEFAULT_STRATEGY_CONFIGS);
  const ownerId = opts.ownerId === null ? undefined : (opts.ownerId ?? OWNER);
  const root = createRoot(
    { state, bus, warehouse, clock, log, config, endpoints: { krakenRest: 'http://127.0.0.1:9', bybitRest: 'http://127.0.0.1:9', bybitWs: 'ws://127.0.0.1:9' } },
    {
      env: opts.localOwner ? {} : { CST_TELEGRAM_BOT_TOKEN: TOKEN },
      telegram: { api: new ConsoleTelegram({ dir: join(day.dir, 'tg') }), maxDrainWaitMs: 0, ...(ownerId !== undefined ? { ownerId } : {}), ...(opts.localOwner ? { localChat: true } : {}), dashboardUrl: 'http://127.0.0.1/dashboard' },
    },
  );
  const published: DashboardRig['published'] = [];
  const publishOnBus = bus.publish.bind(bus);
  bus.publish = async (topic, data, o) => {
    published.push({ topic, data, attributes: o?.attributes });
    return publishOnBus(topic, data, o);
  };
  if (opts.pipeline) subscribeFunctions(bus, root);
  const side = await root.telegram();
  const tg = side.deps;
  if (ownerId !== undefined) {
    const inv = await tg.access.createInvite(ownerId, authClock.now());
    const v = await tg.access.verify(MEMBER, 'Member One', inv.code, authClock.now());
    if (!v.ok) throw new Error(`member not added: ${v.reason}`);
  }
  const base = await root.deps('dashboard');
  const webDir = opts.webDir ?? join(projectRoot(), 'web', 'dashboard');
  const deps: Deps = { ...base, authClock, assets: fileAssets({ webDir, chartsDir: join(projectRoot(), 'node_modules', 'lightweight-charts', 'dist') }) };
  const server = await startDashboardServer(async () => deps);
  const login = (userId: number, name = `user ${userId}`, o: { local?: boolean } = {}) =>
    createLoginLink(tg.dashboard!.keys, server.url, { id: userId, name }, authClock.now(), tg.tg.dashboard.loginLinkTtlMs, o).token;
  return {
    root,
    state,
    bus,
    clock,
    authClock,
    deps,
    tg,
    server,
    published,
    url: (p) => `${server.url}${p}`,
    login,
    async session(userId) {
      const r = await fetch(`${server.url}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ login: login(userId) }) });
      if (r.status !== 200) throw new Error(`session for ${userId}: ${r.status} ${await r.text()}`);
      return ((await r.json()) as { token: string }).token;
    },
    async close() {
      await server.close();
      await bus.close();
      await state.close();
      await warehouse.close();
    },
  };
}

export function removeDay(day: ReplayedDay): void {
  rmSync(day.dir, { recursive: true, force: true });
}
