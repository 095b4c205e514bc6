/**
 * Dashboard API latency (issue 12): the p95 of the positions view (`GET /api/paper?period=30d`) and
 * the trades view (`GET /api/trades?period=30d`, every page in turn) over a MONTH of trades, through
 * HTTP against the real dashboard function (infra/dashboard/server.ts), with a session.
 *
 * The month: the kit's REAL Bybit 1m candles (BTC, ETH, SOL, ../shared/data/bybit_linear) through the
 * backtester with the live configuration plus levels_exhaustion emitting (more trades), whose closed
 * trades are stored in the bot's trade log (the notifier's `StateTradeLog` read model) and whose final
 * trading state (open positions, marks, protections) is the account document: what the bot's /stats
 * and /positions read after such a month. Embedded SQLite state in a temp file, as `npm start`.
 *
 * Baseline in the same run, same server and session: `GET /api/me` (HTTP, session check, the
 * allow-list read, JSON; no domain read). Also the 304 answer of an unchanged paper view (what the
 * page's polling costs). Prints one JSON line; `runDashboardBench()` returns it.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createRoot } from '../infra/runtime/root.js';
import { SqliteStateStore } from '../infra/state/sqlite.js';
import { InMemoryBus } from '../infra/bus/memory.js';
import { DuckDbWarehouse, IN_MEMORY } from '../infra/warehouse/duckdb.js';
import { ConsoleTelegram } from '../infra/telegram/console.js';
import { startDashboardServer } from '../infra/dashboard/server.js';
import { staticConfig } from '../shared/config/source.js';
import { DEFAULT_STRATEGY_CONFIGS } from '../shared/config/strategy.js';
import { DEFAULT_SYSTEM_CONFIG } from '../shared/config/system.js';
import { createLogger } from '../shared/log.js';
import { ManualClock } from '../shared/ports/clock.js';
import type { DocData } from '../shared/ports/state.js';
import { createMarket } from '../shared/backtest/market.js';
import { runBacktest } from '../shared/backtest/run.js';
import { seriesFromCsv } from '../shared/strategies/series.js';
import { closedTradeRecord, StateTradeLog } from '../shared/telegram/trade-log.js';
import { TRADING_SCHEMA_VERSION } from '../shared/trading/doc-upgrade.js';
import type { TradingDoc } from '../shared/trading/store.js';
import { tradingDocPath } from '../shared/state-paths.js';
import { createLoginLink } from '../shared/dashboard/auth.js';
import type { TradesView } from '../shared/dashboard/api.js';

const DATA_DIR = join(import.meta.dirname, '..', '..', 'shared', 'data');
const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT'];
const OWNER = 1;
const WARMUP = 20;
const TIMED = 200;

export interface DashboardBenchResult {
  bench: 'dashboard_api';
  trades: number;
  open_positions: number;
  /** p95 / p50 ms of GET /api/paper?period=30d (200, full body). */
  paper_p95_ms: number;
  paper_p50_ms: number;
  /** p95 / p50 ms of GET /api/trades?period=30d&page=k, cycling through every page. */
  trades_p95_ms: number;
  trades_p50_ms: number;
  trade_pages: number;
  /** p95 ms of an unchanged paper view (If-None-Match: 304, no body). */
  paper_304_p95_ms: number;
  /** Baseline: p95 ms of GET /api/me on the same server and session. */
  baseline_me_p95_ms: number;
  ratio_paper_vs_me: number;
  ratio_trades_vs_me: number;
  requests_each: number;
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)]!;
}

const round = (v: number, d = 3) => Math.round(v * 10 ** d) / 10 ** d;

async function timeRequests(n: number, request: (i: number) => Promise<Response>): Promise<number[]> {
  for (let i = 0; i < WARMUP; i++) await (await request(i)).arrayBuffer();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await request(i);
    await r.arrayBuffer();
    times.push(performance.now() - t0);
    if (r.status !== 200 && r.status !== 304) throw new Error(`HTTP ${r.status}`);
  }
  return times;
}

export async function runDashboardBench(opts: { print?: boolean } = {}): Promise<DashboardBenchResult> {
  const series = SYMBOLS.map((s) => seriesFromCsv(readFileSync(join(DATA_DIR, 'bybit_linear', `${s}_1m.csv`), 'utf8'), { symbol: s, interval: '1m', venue: 'bybit' }));
  const strategies = structuredClone(DEFAULT_STRATEGY_CONFIGS);
  strategies.scalp.levels_exhaustion.emitSignals = true;
  const market = createMarket({ series });
  const bt = runBacktest(market, { system: DEFAULT_SYSTEM_CONFIG, strategies }, { record: { decisions: false } });
  if (!bt.finalState) throw new Error('the backtest produced no trading state');

  const dir = mkdtempSync(join(tmpdir(), 'cst-dash-bench-'));
  const end = bt.to + 60_000;
  const clock = new ManualClock(end);
  const log = createLogger({}, { minSeverity: 'CRITICAL', sink: () => undefined });
  const state = new SqliteStateStore({ file: join(dir, 'state.sqlite'), clock });
  const bus = new InMemoryBus({ fast: true, clock, log });
  const warehouse = new DuckDbWarehouse({ file: IN_MEMORY });
  try {
    const tradeLog = new StateTradeLog(state);
    for (const t of bt.trades) await tradeLog.record(closedTradeRecord(t));
    const doc: TradingDoc = { schemaVersion: TRADING_SCHEMA_VERSION, state: bt.finalState, candleWatermarks: {}, lastCandleEvents: {}, updatedAt: end };
    await state.set(tradingDocPath('paper'), JSON.parse(JSON.stringify(doc)) as DocData);

    const root = createRoot(
      { state, bus, warehouse, clock, log, config: staticConfig(DEFAULT_SYSTEM_CONFIG, strategies), endpoints: { krakenRest: 'http://127.0.0.1:9', bybitRest: 'http://127.0.0.1:9', bybitWs: 'ws://127.0.0.1:9' } },
      { env: { CST_TELEGRAM_BOT_TOKEN: '1:bench-token' }, telegram: { api: new ConsoleTelegram({ dir: join(dir, 'tg') }), ownerId: OWNER } },
    );
    const tg = (await root.telegram()).deps;
    const deps = { ...(await root.deps('dashboard')), authClock: clock };
    const server = await startDashboardServer(async () => deps);
    try {
      const login = createLoginLink(tg.dashboard!.keys, server.url, { id: OWNER, name: 'owner' }, clock.now(), tg.tg.dashboard.loginLinkTtlMs).token;
      const s = await fetch(`${server.url}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ login }) });
      const { token } = (await s.json()) as { token: string };
      const auth = { authorization: `Bearer ${token}` };
      const get = (path: string, headers: Record<string, string> = {}) => fetch(`${server.url}${path}`, { headers: { ...auth, ...headers } });

      const first = (await (await get('/api/trades?period=30d')).json()) as TradesView;
      const paperEtag = (await get('/api/paper?period=30d')).headers.get('etag')!;
      const me = await timeRequests(TIMED, () => get('/api/me'));
      const paper = await timeRequests(TIMED, () => get('/api/paper?period=30d'));
      const trades = await timeRequests(TIMED, (i) => get(`/api/trades?period=30d&page=${i % first.pages}`));
      const paper304 = await timeRequests(TIMED, () => get('/api/paper?period=30d', { 'if-none-match': paperEtag }));
      const meP95 = quantile(me, 0.95);
      const result: DashboardBenchResult = {
        bench: 'dashboard_api',
        trades: bt.trades.length,
        open_positions: bt.finalState.account.positions.length,
        paper_p95_ms: round(quantile(paper, 0.95)),
        paper_p50_ms: round(quantile(paper, 0.5)),
        trades_p95_ms: round(quantile(trades, 0.95)),
        trades_p50_ms: round(quantile(trades, 0.5)),
        trade_pages: first.pages,
        paper_304_p95_ms: round(quantile(paper304, 0.95)),
        baseline_me_p95_ms: round(meP95),
        ratio_paper_vs_me: round(quantile(paper, 0.95) / meP95, 2),
        ratio_trades_vs_me: round(quantile(trades, 0.95) / meP95, 2),
        requests_each: TIMED,
      };
      if (opts.print) process.stdout.write(JSON.stringify(result) + '\n');
      return result;
    } finally {
      await server.close();
    }
  } finally {
    await bus.close();
    await state.close();
    await warehouse.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await runDashboardBench({ print: true });
