/**
 * The local runtime: every function, the Bybit holder, the bus, state, warehouse and the scheduler in
 * one process. Market data comes from the live exchanges or from the offline replay servers (which
 * speak Bybit v5 and Kraken REST over real recorded candles).
 */
import { existsSync, readdirSync, rmSync, mkdirSync } from 'node:fs';
import { createServer, type RequestListener, type Server, type ServerResponse } from 'node:http';
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
import { httpFunctionListener } from '../functions.js';
import { InMemoryBus } from '../bus/memory.js';
import type { CursorDoc } from '../../shared/market/bybit/candle-publisher.js';
import type { PubSubPullRunner } from '../bus/pubsub.js';
import { subscriptionName, topologySpecs } from '../bus/topology.js';
import { LocalScheduler, handlersFromScheduledJobs } from '../scheduler/local-runner.js';
import { buildRoot, EMULATOR_PROJECT, parseEnv, type Backend, type Root } from './root.js';
import type { ConfigService } from '../../shared/config/service.js';
import { BybitReplayServer } from '../replay/bybit-server.js';
import { loadCandlesCsv, tradesFromCandles, mergeReplayData } from '../replay/bybit-replay-data.js';
import { KrakenRestServer } from '../replay/kraken-server.js';
import { DASHBOARD_FUNCTION, HOLDER_SERVICE, PUBLIC_CLOUD_FUNCTIONS, SCHEDULED_FUNCTIONS, TELEGRAM_WEBHOOK_SERVICE, pubsubBindings } from './registry.js';
import { httpHandlerFor, pubsubHandlerFor, runScheduled, scheduledHandlerFor, subscribeFunctions } from './bind.js';
import { webhookListener } from '../telegram/webhook-http.js';
import { CONSOLE_CHAT_ID } from '../telegram/console.js';
import { createLoginLink, type LoginLink } from '../../shared/dashboard/auth.js';
import { startHolder, type RunningHolder } from '../bybit/holder-service.js';
import { configPath, holderCursorPath } from '../../shared/state-paths.js';

export type MarketMode = 'auto' | 'live' | 'replay';

interface LocalRuntimeOptions {
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
function replaySymbols(dir: string, cfg: SystemConfig): string[] {
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
  const { SqliteStateStore } = await import('../state/sqlite.js');
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

/** The local functions server, listening before the root exists (the dashboard's URL names its port). */
interface FunctionsServer {
  server: Server;
  url: string;
  /** Mounts every registered HTTP function over `root` (until then every request is a 503). */
  mount(root: Root, holder: () => RunningHolder | undefined): void;
}

function answerJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/**
 * The HTTP functions at `/<name>` (functions-framework apps) plus `/healthz`: the scheduled functions
 * and the webhook see `/`; the public Cloud Functions (the dashboard) keep their whole path
 * (`/dashboard/api/paper`).
 */
async function startFunctionsServer(port: number): Promise<FunctionsServer> {
  let apps: Map<string, { app: RequestListener; wholePath: boolean }> | undefined;
  let healthOf: () => RunningHolder | undefined = () => undefined;
  const server = createServer((req, res) => {
    const name = (req.url ?? '/').split('?')[0]!.replace(/^\/+/, '').split('/')[0] ?? '';
    if (!apps) return answerJson(res, 503, { error: 'starting' });
    if (name === 'healthz') {
      const h = healthOf()?.holder.health();
      return answerJson(res, h?.healthy ? 200 : 503, h ?? { healthy: false, reason: 'holder not started' });
    }
    const hit = apps.get(name);
    if (!hit) return answerJson(res, 404, { error: `no function '${name}'`, functions: [...apps.keys(), 'healthz'] });
    if (!hit.wholePath) req.url = '/';
    hit.app(req, res);
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => ok());
  });
  return {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    mount(root, holder) {
      const m = new Map<string, { app: RequestListener; wholePath: boolean }>(
        SCHEDULED_FUNCTIONS.map((fn) => [fn.name, { app: httpFunctionListener(fn.name, scheduledHandlerFor(root, fn)), wholePath: false }]),
      );
      m.set(TELEGRAM_WEBHOOK_SERVICE, { app: webhookListener(async () => root), wholePath: false });
      for (const fn of PUBLIC_CLOUD_FUNCTIONS) m.set(fn.name, { app: httpFunctionListener(fn.name, httpHandlerFor(root, fn)), wholePath: true });
      healthOf = holder;
      apps = m;
    },
  };
}

/**
 * The runtime's clock on a replay: the replay's time while the market plays; once the market is
 * halted (`halt()`, at the end of a replay or `--minutes` run, or on Ctrl-C) it goes on at the
 * replay speed with no market events, so what still waits on time after the end (the Telegram
 * outbox's rate-limit waits, bus back-offs, jobs finishing) completes instead of sleeping forever on a
 * frozen replay clock. Sleeps started before the halt are carried over.
 */
class HaltableClock implements Clock {
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

interface StopOptions {
  /**
   * How long (wall ms) to wait for the bus to deliver what was published before closing; default
   * unbounded. Durable bus: what is not delivered by then is kept in the journal for the next start.
   */
  drainTimeoutMs?: number;
}

export interface LocalRuntime {
  /** The runtime's composition root (its adapters, config service, Telegram side). */
  root: Root & { config: ConfigService };
  market: 'live' | 'replay';
  functionsUrl: string;
  /** The dashboard page (`<functionsUrl>/dashboard`). */
  dashboardUrl: string;
  /**
   * A single-use owner login link for the local page (printed by `npm start`), or why there is none
   * (a bot token without an owner id: nobody is the owner).
   */
  dashboardLogin(): Promise<LoginLink | { reason: string }>;
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

/** Live when the exchanges answer (or insisted on), else the offline replay. */
async function chooseMarket(opts: LocalRuntimeOptions, log: Logger): Promise<'live' | 'replay'> {
  if (opts.market === 'replay') return 'replay';
  const unreachable = await probeLive(DEFAULT_SYSTEM_CONFIG);
  if (unreachable && opts.market === 'live') {
    throw new Error(`${unreachable}. The live market needs internet; run the offline replay instead: npm start -- --market replay`);
  }
  if (unreachable) {
    const message = `Live market data unavailable: ${unreachable}. Running the offline replay of recorded real market data instead (--market replay; --market live insists on the exchanges).`;
    log.warn(message);
    opts.say?.(message);
  }
  return unreachable ? 'replay' : 'live';
}

interface Started {
  root: Root & { config: ConfigService };
  replay: ReplaySetup | undefined;
  clock: HaltableClock | undefined;
}

/** The data dir, the replay servers (if any), and the root over them, with the defaults seeded. */
async function startRoot(opts: LocalRuntimeOptions, market: 'live' | 'replay', log: Logger, dashboardUrl: string): Promise<Started> {
  const dataDir = resolve(opts.dataDir, market);
  if (market === 'replay' && !opts.keepState && opts.backend === 'embedded') rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  const kept = market === 'replay' && opts.keepState === true && opts.backend === 'embedded';
  const replay = market === 'replay' ? await startReplay(resolve(opts.replayData), DEFAULT_SYSTEM_CONFIG, kept ? dataDir : undefined) : undefined;
  const clock: HaltableClock | undefined = replay ? new HaltableClock(replay.bybit.clock, opts.speed) : undefined;
  const root = await buildRoot({
    backend: opts.backend,
    log,
    dataDir,
    ...(clock ? { clock } : {}),
    bus: { fast: market === 'replay' },
    ...(replay ? { endpoints: { krakenRest: replay.kraken.url, bybitRest: replay.bybit.restUrl, bybitWs: replay.bybit.wsUrl } } : {}),
    // No token and no owner: alerts and reports are printed to the console (the README's promise).
    telegram: { localChat: true, dashboardUrl },
  });
  await root.telegram();
  await seedDefaults(root.state);
  if (replay) {
    // The replay has data for some symbols only: enable exactly those (an owner edit, recorded as such).
    const system = await root.config.system();
    const symbols = system.symbols.map((s) => ({ ...s, enabled: replay.symbols.includes(s.symbol) }));
    await root.state.set(configPath('system'), JSON.parse(JSON.stringify({ ...system, symbols })));
    await root.config.check(['system']);
  }
  return { root, replay, clock };
}

/** The Pub/Sub-triggered functions: on the in-process bus, or pulled from the emulator's subscriptions. */
async function startPubsub(root: Root): Promise<PubSubPullRunner | undefined> {
  if (root.bus instanceof InMemoryBus) {
    subscribeFunctions(root.bus, root);
    return undefined;
  }
  const { PubSubPullRunner, createPubSubClient, provisionTopology } = await import('../bus/pubsub.js');
  const project = parseEnv().GOOGLE_CLOUD_PROJECT ?? EMULATOR_PROJECT;
  const client = createPubSubClient(project);
  const system = await root.config.system();
  await provisionTopology(client, topologySpecs({ delivery: system.delivery }), { dryRun: false });
  const runner = new PubSubPullRunner(client, { projectId: project, clock: root.clock, localBackoff: true });
  const bindings = new Map(pubsubBindings().map((b) => [subscriptionName(b.function, b.topic), b.spec]));
  for (const spec of topologySpecs({ delivery: system.delivery })) {
    const fn = bindings.get(spec.subscription);
    if (fn) runner.add({ ...spec, handler: pubsubHandlerFor(root, fn) });
  }
  runner.start();
  return runner;
}

export async function startLocalRuntime(opts: LocalRuntimeOptions): Promise<LocalRuntime> {
  const log = opts.log ?? createLogger({ component: 'runtime' });
  const market = await chooseMarket(opts, log);
  const functions = await startFunctionsServer(opts.port);
  const { server, url: functionsUrl } = functions;
  const dashboardUrl = `${functionsUrl}/${DASHBOARD_FUNCTION}`;
  let started: Started;
  try {
    started = await startRoot(opts, market, log, dashboardUrl);
  } catch (e) {
    await new Promise<void>((r) => server.close(() => r()));
    throw e;
  }
  const { root, replay, clock } = started;
  const pullRunner = await startPubsub(root);

  // The holder (Cloud Run service in the cloud) in-process; its /healthz is served below.
  const holder = await startHolder(root, { http: false });
  functions.mount(root, () => holder);
  log.notice('local runtime up', { market, backend: opts.backend, functionsUrl, dashboardUrl, holder: HOLDER_SERVICE });

  // Scheduled functions on their scheduler.yaml cadence, on the runtime's clock.
  const scheduler = new LocalScheduler({
    schedule: loadSchedule(SCHEDULER_YAML),
    handlers: handlersFromScheduledJobs(SCHEDULED_FUNCTIONS.map((fn) => ({ name: fn.name, run: (body) => runScheduled(root, fn, body) }))),
    clock: root.clock,
    log,
  });
  scheduler.start();

  const startTime = root.clock.now();
  // A replay's duration counts from the start of its data (a kept replay resumed after a crash ends
  // where the first run would have), a live run's from now.
  const endTime = opts.durationMs !== undefined ? (replay?.start ?? startTime) + opts.durationMs : replay?.end;
  const bus = root.bus instanceof InMemoryBus ? root.bus : undefined;
  /** Market time when the producers were halted (the summary's end). */
  let haltedAt: number | undefined;

  let halting: Promise<void> | undefined;
  const halt = (): Promise<void> =>
    (halting ??= (async () => {
      // The market stops here; the clock goes on (HaltableClock) so waits in flight can end. The holder
      // stops in the same turn, before the moving clock could close the minute still forming.
      replay?.bybit.pause();
      clock?.halt();
      haltedAt = clock?.haltedTime ?? root.clock.now();
      const holderDown = holder.shutdown('runtime halt');
      await scheduler.stop();
      await holderDown;
    })());

  const run: Running = { root, replay, bus, holder, scheduler, startTime, endTime, halt, haltedAt: () => haltedAt };
  const { finished, progressTimer } = watchEnd(run, opts);
  replay?.bybit.play(opts.speed);

  let stopping: Promise<void> | undefined;
  const stop = (stopOpts: StopOptions = {}): Promise<void> =>
    (stopping ??= (async () => {
      clearInterval(progressTimer);
      await halt();
      if (bus) await drainWithin(bus, stopOpts.drainTimeoutMs);
      await pullRunner?.stop();
      await new Promise<void>((r) => server.close(() => r()));
      await replay?.bybit.stop();
      await replay?.kraken.stop();
      await root.close();
    })());

  return { root, market, functionsUrl, dashboardUrl, dashboardLogin: () => localLoginLink(root, dashboardUrl), finished, halt, summary: () => runSummary(run, market, opts.backend), stop };
}

/**
 * The local owner's login link (createLoginLink with `local: true`, on the wall clock: links and
 * sessions are real time even on a replay): for the configured owner, else (the embedded default with
 * no bot and no owner) for the console user, whom a `local` session makes the owner.
 */
async function localLoginLink(root: Root, dashboardUrl: string): Promise<LoginLink | { reason: string }> {
  const d = (await root.telegram()).deps;
  if (!d.dashboard) return { reason: 'the dashboard is not configured' };
  const owner = d.access.owner;
  if (owner === undefined && !d.dashboard.localOwner) {
    return { reason: 'a Telegram bot token is configured but no owner (CST_TELEGRAM_OWNER_ID): open the dashboard with /dashboard from the bot' };
  }
  const user = owner !== undefined ? { id: owner, name: 'owner' } : { id: CONSOLE_CHAT_ID, name: 'local owner' };
  return createLoginLink(d.dashboard.keys, dashboardUrl, user, systemClock.now(), d.tg.dashboard.loginLinkTtlMs, { local: true });
}

/** What the end watch and the summary read of a running runtime. */
interface Running {
  root: Root & { config: ConfigService };
  replay: ReplaySetup | undefined;
  bus: InMemoryBus | undefined;
  holder: RunningHolder;
  scheduler: LocalScheduler;
  startTime: number;
  endTime: number | undefined;
  halt(): Promise<void>;
  haltedAt(): number | undefined;
}

/** The end of a replay or of the duration (halt, then deliver everything published), and the progress ticks. */
function watchEnd(run: Running, opts: LocalRuntimeOptions): { finished: Promise<void>; progressTimer: NodeJS.Timeout } {
  const { root, replay, bus, holder, startTime, endTime } = run;
  let ending: Promise<void> | undefined;
  const end = (): Promise<void> =>
    (ending ??= (async () => {
      await run.halt();
      if (bus) await bus.drain();
    })());
  let progressTimer!: NodeJS.Timeout;
  const finished = new Promise<void>((done, failed) => {
    const finish = () => end().then(done, failed);
    // Ends exactly at `endTime` of market time: the replay halts there, so the summary is consistent.
    if (endTime !== undefined) void root.clock.sleep(endTime - startTime).then(finish);
    progressTimer = setInterval(() => {
      if (opts.onProgress && run.haltedAt() === undefined) {
        const published = Object.fromEntries(Object.values(TOPICS).map((t) => [t, bus?.published(t) ?? 0]));
        opts.onProgress({
          marketTime: root.clock.now(),
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
  return { finished, progressTimer };
}

/** Waits for the bus to deliver what was published, at most `timeoutMs` (unbounded when undefined). */
async function drainWithin(bus: InMemoryBus, timeoutMs: number | undefined): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const limit = timeoutMs === undefined ? new Promise<void>(() => undefined) : new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)));
  await Promise.race([bus.drain(), limit]);
  clearTimeout(timer);
}

async function runSummary(run: Running, market: 'live' | 'replay', backend: Backend): Promise<RunSummary> {
  const { root, bus } = run;
  const system = await root.config.system();
  const perSymbol = [];
  for (const s of system.symbols.filter((x) => x.enabled)) {
    const bybit1m = (await recentHotCandles(root.state, 'bybit', s.symbol, '1m', Number.MAX_SAFE_INTEGER)).length;
    const kraken: Record<string, number> = {};
    for (const i of system.kraken.intervals) {
      kraken[i] = (await recentHotCandles(root.state, 'kraken', s.symbol, i, Number.MAX_SAFE_INTEGER)).length;
    }
    perSymbol.push({ symbol: s.symbol, bybit1m, kraken });
  }
  const h = run.holder.holder.health();
  const jobStats = run.scheduler.stats();
  return {
    market,
    backend,
    from: run.startTime,
    to: run.haltedAt() ?? root.clock.now(),
    perSymbol,
    warehouse: { ohlcv: await root.warehouse.count('ohlcv'), ticks: await root.warehouse.count('ticks') },
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
}
