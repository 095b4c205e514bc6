/**
 * The local runtime: every function, the Bybit holder, the bus, state, warehouse and the scheduler in
 * one process. Market data comes from the live exchanges or from the offline replay servers (which
 * speak Bybit v5 and Kraken REST over real recorded candles).
 */
import { existsSync, readdirSync, rmSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { systemClock, type Clock } from '../../shared/ports/clock.js';
import type { Logger } from '../../shared/log.js';
import { createLogger } from '../../shared/log.js';
import { TOPICS } from '../../shared/topics.js';
import { KRAKEN_INTERVAL_MINUTES, type Interval } from '../../shared/model/market.js';
import { recentHotCandles } from '../../shared/market/hot-store.js';
import { seedDefaults } from '../../shared/config/service.js';
import { DEFAULT_SYSTEM_CONFIG, type SystemConfig } from '../../shared/config/system.js';
import { loadSchedule, SCHEDULER_YAML } from '../../shared/schedule/schema.js';
import { setContext, getContext } from '../context.js';
import { httpFunctionListener } from '../functions.js';
import { InMemoryBus } from '../bus/memory.js';
import { SqliteStateStore } from '../state/sqlite.js';
import { getTelegramRuntime } from '../telegram/runtime.js';
import type { CursorDoc } from '../../shared/market/bybit/candle-publisher.js';
import { PubSubPullRunner, createPubSubClient, provisionTopology } from '../bus/pubsub.js';
import { subscriptionName, topologySpecs } from '../bus/topology.js';
import { LocalScheduler, handlersFromScheduledJobs } from '../scheduler/local-runner.js';
import { buildContext, EMULATOR_PROJECT, parseEnv, type Backend, type BuiltContext } from './build-context.js';
import { BybitReplayServer } from '../replay/bybit-server.js';
import { loadCandlesCsv, tradesFromCandles, mergeReplayData } from '../replay/bybit-replay-data.js';
import { KrakenRestServer } from '../replay/kraken-server.js';
import { HOLDER_SERVICE, PUBLIC_HTTP_FUNCTIONS, SCHEDULED_FUNCTIONS, pubsubBindings } from '../../functions/registry.js';
import { startHolder, type RunningHolder } from '../../functions/bybit-holder/server.js';
import { configPath, holderCursorPath } from '../../shared/state-paths.js';

export type MarketMode = 'auto' | 'live' | 'replay';

export interface LocalRuntimeOptions {
  backend: Backend;
  market: MarketMode;
  /** Replay: folder with `{SYMBOL}_{1m,5m,15m,60m,240m}.csv` in the kit's normalised format. */
  replayData: string;
  /** Replay speed (market time / wall time). */
  speed: number;
  /** Stop after this much market time (ms); default: replay to the end, live until Ctrl-C. */
  durationMs?: number;
  /** Port for the HTTP functions (`/kraken-pull`, ...) and the holder's `/healthz`; 0 = any free port. */
  port: number;
  dataDir: string;
  /** Keep previous embedded state (default: a replay starts clean, live keeps state). */
  keepState?: boolean;
  /** Where log lines go (the console shows progress and the summary). */
  log?: Logger;
  /** Called with progress once per second. */
  onProgress?: (p: Progress) => void;
  /** User-facing messages (the console); default: the log. */
  say?: (message: string) => void;
}

export interface Progress {
  marketTime: number;
  startTime: number;
  endTime: number | undefined;
  candles: number;
  published: Record<string, number>;
  deadLetters: number;
}

export interface RunSummary {
  market: 'live' | 'replay';
  backend: Backend;
  from: number;
  to: number;
  perSymbol: Array<{ symbol: string; bybit1m: number; kraken: Record<string, number> }>;
  warehouse: { ohlcv: number; ticks: number };
  published: Record<string, number>;
  deadLetters: Array<{ subscription: string; reason: string }>;
  alerts: number;
  holder: { reconnects: number; candles: number; backfilled: number; snapshots: number; tickBatches: number };
  jobs: Record<string, { runs: number; errors: number }>;
}

/** How long the live probe waits for each exchange before declaring it unreachable. */
const PROBE_TIMEOUT_MS = 4_000;
const PROGRESS_INTERVAL_MS = 1_000;
/** Kraken intervals served by the replay, from the kit's file suffixes. */
const REPLAY_KRAKEN_FILES: Array<{ suffix: string; interval: Interval }> = [
  { suffix: '5m', interval: '5m' },
  { suffix: '15m', interval: '15m' },
  { suffix: '60m', interval: '1h' },
  { suffix: '240m', interval: '4h' },
];

/** Probes the public endpoints; returns the reason when one cannot be reached. */
export async function probeLive(cfg: SystemConfig): Promise<string | null> {
  const targets = [
    { name: 'Kraken', url: `${cfg.kraken.baseUrl}/0/public/Time` },
    { name: 'Bybit', url: `${cfg.bybit.restUrl}/v5/market/time` },
  ];
  for (const t of targets) {
    try {
      const res = await fetch(t.url, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
      if (!res.ok) return `${t.name} answered HTTP ${res.status} at ${t.url}`;
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).message;
      return `${t.name} cannot be reached at ${t.url} (${cause})`;
    }
  }
  return null;
}

interface ReplaySetup {
  bybit: BybitReplayServer;
  kraken: KrakenRestServer;
  symbols: string[];
  start: number;
  end: number;
}

/** Symbols that have a 1m file in the replay folder, in config order. */
export function replaySymbols(dir: string, cfg: SystemConfig): string[] {
  if (!existsSync(dir)) throw new Error(`replay data folder not found: ${dir}`);
  const files = new Set(readdirSync(dir));
  const symbols = cfg.symbols.filter((s) => files.has(`${s.symbol}_1m.csv`)).map((s) => s.symbol);
  if (symbols.length === 0) {
    throw new Error(`no {SYMBOL}_1m.csv for any configured symbol in ${dir} (expected e.g. BTCUSDT_1m.csv)`);
  }
  return symbols;
}

/**
 * Where a kept replay (`--keep` on the embedded backend) resumes: the close of the last candle the
 * holder published on every replayed symbol (its cursors, `holder/bybit/cursors/{symbol}`), so the
 * messages the durable bus redelivers after a crash are in the past of the resumed clock (the candle
 * gate refuses a candle that closes after now) and no minute is skipped. Undefined: start at the beginning.
 */
async function replayResumePoint(dataDir: string, symbols: readonly string[]): Promise<number | undefined> {
  const file = join(dataDir, 'state.sqlite');
  if (!existsSync(file)) return undefined;
  const state = new SqliteStateStore({ file });
  try {
    const cursors = await Promise.all(symbols.map((s) => state.get<CursorDoc>(holderCursorPath(s))));
    if (cursors.some((c) => c === undefined)) return undefined;
    return Math.min(...cursors.map((c) => (c as CursorDoc).lastOpenTime)) + 60_000;
  } finally {
    await state.close();
  }
}

async function startReplay(dir: string, cfg: SystemConfig, resumeFrom?: string): Promise<ReplaySetup> {
  const symbols = replaySymbols(dir, cfg);
  const parts = symbols.map((s) => tradesFromCandles(s, loadCandlesCsv(join(dir, `${s}_1m.csv`))));
  const data = mergeReplayData(...parts);
  const first = data.events[0]?.at;
  const last = data.events[data.events.length - 1]?.at;
  if (first === undefined || last === undefined) throw new Error(`replay data in ${dir} has no candles`);
  const minute = 60_000;
  const start = Math.floor(first / minute) * minute;
  const resume = resumeFrom === undefined ? undefined : await replayResumePoint(resumeFrom, symbols);
  const bybit = new BybitReplayServer({ data, startAt: Math.max(start, resume ?? start) });
  const series = [];
  for (const s of cfg.symbols) {
    if (!symbols.includes(s.symbol) || !s.krakenPair) continue;
    for (const f of REPLAY_KRAKEN_FILES) {
      const file = join(dir, `${s.symbol}_${f.suffix}.csv`);
      if (!existsSync(file)) continue;
      const candles = loadCandlesCsv(file).map((c) => ({
        symbol: s.symbol,
        interval: f.interval,
        venue: 'kraken' as const,
        openTime: c.openTime,
        open: Number(c.open),
        high: Number(c.high),
        low: Number(c.low),
        close: Number(c.close),
        volume: Number(c.volume),
      }));
      series.push({ pair: s.krakenPair, intervalMinutes: KRAKEN_INTERVAL_MINUTES[f.interval], candles });
    }
  }
  const kraken = new KrakenRestServer({ series, now: () => bybit.now() });
  await bybit.start();
  await kraken.start();
  return { bybit, kraken, symbols, start, end: last };
}

/** Mounts every registered HTTP function at `/<name>` (functions-framework apps) plus `/healthz`. */
async function startFunctionsServer(port: number, holder: () => RunningHolder | undefined): Promise<Server> {
  const names = [...SCHEDULED_FUNCTIONS.map((j) => j.name), ...Object.keys(PUBLIC_HTTP_FUNCTIONS)];
  const apps = new Map(names.map((name) => [name, httpFunctionListener(name)]));
  const server = createServer((req, res) => {
    const name = (req.url ?? '/').split('?')[0]!.replace(/^\/+/, '').split('/')[0] ?? '';
    if (name === 'healthz') {
      const h = holder()?.holder.health();
      res.writeHead(h?.healthy ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify(h ?? { healthy: false, reason: 'holder not started' }));
      return;
    }
    const app = apps.get(name);
    if (!app) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: `no function '${name}'`, functions: [...apps.keys(), 'healthz'] }));
      return;
    }
    req.url = '/';
    app(req, res);
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => ok());
  });
  return server;
}

/**
 * The runtime's clock on a replay: the replay's time while the market plays; once the market is
 * halted (`halt()`, at the end of a replay or `--minutes` run, or on Ctrl-C) it goes on at the
 * replay speed with no market events, so what still waits on time after the end (the Telegram
 * outbox's rate-limit waits, bus back-offs, jobs finishing) completes instead of sleeping forever on a
 * frozen replay clock. Sleeps started before the halt are carried over.
 */
export class HaltableClock implements Clock {
  private haltedAt: number | undefined;
  private wallAtHalt = 0;
  private readonly haltWaiters = new Set<() => void>();

  constructor(
    private readonly market: Clock,
    private readonly speed: number,
    private readonly wall: Clock = systemClock,
  ) {
    if (!(speed > 0)) throw new RangeError(`speed must be > 0, got ${speed}`);
  }

  now(): number {
    if (this.haltedAt === undefined) return this.market.now();
    // Never behind the market (a replay step in progress when the halt came may still send events).
    return Math.max(this.market.now(), this.haltedAt + Math.floor((this.wall.now() - this.wallAtHalt) * this.speed));
  }

  async sleep(ms: number): Promise<void> {
    const wakeAt = this.now() + Math.max(0, ms);
    if (this.haltedAt === undefined) {
      let onHalt: () => void = () => undefined;
      const halted = new Promise<void>((resolve) => {
        onHalt = resolve;
        this.haltWaiters.add(resolve);
      });
      await Promise.race([this.market.sleep(ms), halted]);
      this.haltWaiters.delete(onHalt);
      if (this.haltedAt === undefined) return;
    }
    const left = wakeAt - this.now();
    if (left > 0) await this.wall.sleep(left / this.speed);
  }

  /** The market time at which the market was halted (undefined while it plays). */
  get haltedTime(): number | undefined {
    return this.haltedAt;
  }

  halt(): void {
    if (this.haltedAt !== undefined) return;
    this.haltedAt = this.market.now();
    this.wallAtHalt = this.wall.now();
    for (const w of this.haltWaiters) w();
    this.haltWaiters.clear();
  }
}

export interface StopOptions {
  /**
   * How long (wall ms) to wait for the bus to deliver what was published before closing; default
   * unbounded. Durable bus: what is not delivered by then is kept in the journal for the next start.
   */
  drainTimeoutMs?: number;
}

export interface LocalRuntime {
  ctx: BuiltContext;
  market: 'live' | 'replay';
  functionsUrl: string;
  /**
   * Resolves when a replay reached its end (or the duration passed), after the market was halted and
   * everything published was delivered; never for live without duration.
   */
  finished: Promise<void>;
  /** Stops the producers (replay market, scheduler, holder); the bus keeps delivering. Idempotent. */
  halt(): Promise<void>;
  summary(): Promise<RunSummary>;
  stop(opts?: StopOptions): Promise<void>;
}

export async function startLocalRuntime(opts: LocalRuntimeOptions): Promise<LocalRuntime> {
  const log = opts.log ?? createLogger({ component: 'runtime' });
  let market: 'live' | 'replay';
  if (opts.market === 'replay') market = 'replay';
  else {
    const unreachable = await probeLive(DEFAULT_SYSTEM_CONFIG);
    if (unreachable && opts.market === 'live') {
      throw new Error(`${unreachable}. The live market needs internet; run the offline replay instead: npm start -- --market replay`);
    }
    if (unreachable) {
      const message = `Live market data unavailable: ${unreachable}. Running the offline replay of recorded real market data instead (--market replay; --market live insists on the exchanges).`;
      log.warn(message);
      opts.say?.(message);
    }
    market = unreachable ? 'replay' : 'live';
  }

  const dataDir = resolve(opts.dataDir, market);
  if (market === 'replay' && !opts.keepState && opts.backend === 'embedded') rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });

  const kept = market === 'replay' && opts.keepState === true && opts.backend === 'embedded';
  const replay = market === 'replay' ? await startReplay(resolve(opts.replayData), DEFAULT_SYSTEM_CONFIG, kept ? dataDir : undefined) : undefined;
  const clock: HaltableClock | undefined = replay ? new HaltableClock(replay.bybit.clock, opts.speed) : undefined;
  const env = parseEnv();
  const ctx = await buildContext({
    backend: opts.backend,
    env,
    log,
    dataDir,
    ...(clock ? { clock } : {}),
    bus: { fast: market === 'replay' },
    ...(replay
      ? { endpoints: { krakenRest: replay.kraken.url, bybitRest: replay.bybit.restUrl, bybitWs: replay.bybit.wsUrl } }
      : {}),
  });
  setContext(ctx);
  // No token and no owner: alerts and reports are printed to the console (the README's promise).
  await getTelegramRuntime(ctx, { localChat: true });

  await seedDefaults(ctx.state);
  if (replay) {
    // The replay has data for some symbols only: enable exactly those (an owner edit, recorded as such).
    const system = await ctx.config.system();
    const symbols = system.symbols.map((s) => ({ ...s, enabled: replay.symbols.includes(s.symbol) }));
    await ctx.state.set(configPath('system'), JSON.parse(JSON.stringify({ ...system, symbols })));
    await ctx.config.check(['system']);
  }

  // Pub/Sub-triggered functions.
  let pullRunner: PubSubPullRunner | undefined;
  if (ctx.bus instanceof InMemoryBus) {
    for (const b of pubsubBindings()) {
      ctx.bus.subscribe({ name: subscriptionName(b.function, b.topic), topic: b.topic, handler: b.handler });
    }
  } else {
    const client = createPubSubClient(env.GOOGLE_CLOUD_PROJECT ?? EMULATOR_PROJECT);
    const system = await ctx.config.system();
    await provisionTopology(client, topologySpecs({ delivery: system.delivery }), { dryRun: false });
    pullRunner = new PubSubPullRunner(client, { projectId: env.GOOGLE_CLOUD_PROJECT ?? EMULATOR_PROJECT, clock: ctx.clock, localBackoff: true });
    const handlers = new Map(pubsubBindings().map((b) => [subscriptionName(b.function, b.topic), b.handler]));
    for (const spec of topologySpecs({ delivery: system.delivery })) {
      const handler = handlers.get(spec.subscription);
      if (handler) pullRunner.add({ ...spec, handler });
    }
    pullRunner.start();
  }

  // The holder (Cloud Run service in the cloud) in-process; its /healthz is served below.
  const holder = await startHolder(ctx, { http: false });
  const server = await startFunctionsServer(opts.port, () => holder);
  const functionsUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  log.notice('local runtime up', { market, backend: opts.backend, functionsUrl, holder: HOLDER_SERVICE });

  // Scheduled functions on their scheduler.yaml cadence, on the runtime's clock.
  const scheduler = new LocalScheduler({
    schedule: loadSchedule(SCHEDULER_YAML),
    handlers: handlersFromScheduledJobs(SCHEDULED_FUNCTIONS, getContext),
    clock: ctx.clock,
    log,
  });
  scheduler.start();

  const startTime = ctx.clock.now();
  // A replay's duration counts from the start of its data (a kept replay resumed after a crash ends
  // where the first run would have), a live run's from now.
  const endTime = opts.durationMs !== undefined ? (replay?.start ?? startTime) + opts.durationMs : replay?.end;
  const bus = ctx.bus instanceof InMemoryBus ? ctx.bus : undefined;
  let progressTimer: NodeJS.Timeout | undefined;
  /** Market time when the producers were halted (the summary's end). */
  let haltedAt: number | undefined;

  let halting: Promise<void> | undefined;
  const halt = (): Promise<void> =>
    (halting ??= (async () => {
      // The market stops here; the clock goes on (HaltableClock) so waits in flight can end. The holder
      // stops in the same turn, before the moving clock could close the minute still forming.
      replay?.bybit.pause();
      clock?.halt();
      haltedAt = clock?.haltedTime ?? ctx.clock.now();
      const holderDown = holder.shutdown('runtime halt');
      await scheduler.stop();
      await holderDown;
    })());

  let ending: Promise<void> | undefined;
  /** End of a replay or of the duration: halt, then deliver everything published before the summary. */
  const end = (): Promise<void> =>
    (ending ??= (async () => {
      await halt();
      if (bus) await bus.drain();
    })());

  const finished = new Promise<void>((done, failed) => {
    const finish = () => end().then(done, failed);
    if (endTime !== undefined) {
      // Ends exactly at `endTime` of market time: the replay halts there, so the summary is consistent.
      void ctx.clock.sleep(endTime - startTime).then(finish);
    }
    progressTimer = setInterval(() => {
      const now = ctx.clock.now();
      if (opts.onProgress && haltedAt === undefined) {
        const published = Object.fromEntries(Object.values(TOPICS).map((t) => [t, bus?.published(t) ?? 0]));
        opts.onProgress({
          marketTime: now,
          startTime,
          endTime,
          candles: holder.holder.health().published.candles,
          published,
          deadLetters: bus?.deadLetterCount() ?? 0,
        });
      }
      if (replay?.bybit.finished) finish();
    }, PROGRESS_INTERVAL_MS);
  });
  replay?.bybit.play(opts.speed);

  let stopping: Promise<void> | undefined;
  const stop = (stopOpts: StopOptions = {}): Promise<void> =>
    (stopping ??= (async () => {
      if (progressTimer) clearInterval(progressTimer);
      await halt();
      if (bus) {
        let timer: NodeJS.Timeout | undefined;
        const limit =
          stopOpts.drainTimeoutMs === undefined
            ? new Promise<void>(() => undefined)
            : new Promise<void>((r) => {
                timer = setTimeout(r, stopOpts.drainTimeoutMs);
              });
        await Promise.race([bus.drain(), limit]);
        clearTimeout(timer);
      }
      await pullRunner?.stop();
      await new Promise<void>((r) => server.close(() => r()));
      await replay?.bybit.stop();
      await replay?.kraken.stop();
      await ctx.close();
      setContext(undefined);
    })());

  const summary = async (): Promise<RunSummary> => {
    const system = await ctx.config.system();
    const perSymbol = [];
    for (const s of system.symbols.filter((x) => x.enabled)) {
      const bybit1m = (await recentHotCandles(ctx.state, 'bybit', s.symbol, '1m', Number.MAX_SAFE_INTEGER)).length;
      const kraken: Record<string, number> = {};
      for (const i of system.kraken.intervals) {
        kraken[i] = (await recentHotCandles(ctx.state, 'kraken', s.symbol, i, Number.MAX_SAFE_INTEGER)).length;
      }
      perSymbol.push({ symbol: s.symbol, bybit1m, kraken });
    }
    const h = holder.holder.health();
    const jobStats = scheduler.stats();
    return {
      market,
      backend: opts.backend,
      from: startTime,
      to: haltedAt ?? ctx.clock.now(),
      perSymbol,
      warehouse: { ohlcv: await ctx.warehouse.count('ohlcv'), ticks: await ctx.warehouse.count('ticks') },
      published: Object.fromEntries(Object.values(TOPICS).map((t) => [t, bus?.published(t) ?? 0])),
      deadLetters: (bus?.deadLetters() ?? []).map((d) => ({ subscription: d.subscription, reason: d.reason })),
      alerts: bus?.published(TOPICS.alerts) ?? 0,
      holder: {
        reconnects: h.reconnects,
        candles: h.published.candles,
        backfilled: h.published.backfilledCandles,
        snapshots: h.published.snapshots,
        tickBatches: h.published.tickBatches,
      },
      jobs: Object.fromEntries(Object.entries(jobStats).map(([k, v]) => [k, { runs: v.fired, errors: v.failed }])),
    };
  };

  return { ctx, market, functionsUrl, finished, halt, summary, stop };
}
