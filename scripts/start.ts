/**
 * `npm start`: the whole system in one process on the embedded default (or the emulators).
 * Run `npm start -- --help` for the options.
 *
 * Ending: a replay or a `--minutes` run ends by itself (market halted, everything published
 * delivered) and prints its summary. Ctrl-C (SIGINT) or SIGTERM halts the market, prints the summary
 * and stops; further signals in the next FORCE_AFTER_MS are ignored (tsx relays a Ctrl-C to this
 * process a second time when the event loop is busy), a later one exits at once (the embedded bus is
 * durable: nothing is lost, the next start with --keep delivers it). A closed stdout (EPIPE, e.g.
 * `npm start | head`) is not a crash: output stops, the run stops as on Ctrl-C, the summary goes to
 * stderr.
 */
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { createLogger, type Logger, type Severity } from '../shared/log.js';
import { BACKENDS, DEFAULT_DATA_DIR, backendFromEnv, parseEnv, type Backend } from '../infra/runtime/root.js';
import { startLocalRuntime, type LocalRuntime, type MarketMode, type Progress, type RunSummary } from '../infra/runtime/local.js';

const HELP = `Usage: npm start -- [options]

Runs every function, the Bybit websocket holder, the bus, state, warehouse and scheduler in one
process. With nothing configured it uses the embedded default (SQLite, in-process Pub/Sub, DuckDB in
.data/) and live market data when the exchanges answer, else the offline replay of real recordings.

Options:
  --market auto|live|replay  market data source (default auto: live if reachable, else replay)
  --speed N                  replay speed, market time per wall time (default 60: 1 minute per second)
  --data DIR                 replay folder with {SYMBOL}_{1m,5m,15m,60m,240m}.csv
                             (default test/fixtures/replay: one real day of BTC/ETH/SOL;
                             ../shared/data/bybit_linear replays the kit's whole month)
  --minutes N                stop after N minutes of market time (default: replay to the end;
                             live runs until Ctrl-C)
  --backend embedded|emulators|gcp   where state and messaging live (default from the environment:
                             embedded unless FIRESTORE_EMULATOR_HOST/PUBSUB_EMULATOR_HOST are set)
  --port N                   HTTP port for the functions (/kraken-pull, ...), /healthz and the dashboard
                             (/dashboard; default 8080; 0 = any)
  --data-dir DIR             embedded state and warehouse folder (default .data)
  --keep                     keep the previous replay's state instead of starting clean (and
                             deliver what the bus journal still holds from a killed run)
  --verbose                  print the JSON log lines to the console (default: into <data-dir>/runtime.log)
  -h, --help                 this help
`;

const DEFAULT_SPEED = 60;
const DEFAULT_PORT = 8080;
const DEFAULT_REPLAY_DATA = 'test/fixtures/replay';
const MINUTE_MS = 60_000;
/** Signals within this long of the first one are duplicates (tsx relays Ctrl-C); later ones force the exit. */
const FORCE_AFTER_MS = 2_000;
/** On Ctrl-C: how long to wait for the producers to halt, and for the bus to deliver, before stopping anyway. */
const HALT_TIMEOUT_MS = 5_000;
const STOP_DRAIN_TIMEOUT_MS = 5_000;

/** stdout that survives a closed pipe: after EPIPE, output goes nowhere and `onClosed` runs once. */
class Output {
  closed = false;
  private onClosed: (() => void) | undefined;
  /** The summary written to stdout, until we know it arrived. */
  private reported: string | undefined;

  constructor() {
    process.stdout.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
      if (this.closed) return;
      this.closed = true;
      // The failing write may have been the summary itself: it goes to stderr instead.
      if (this.reported !== undefined) process.stderr.write(this.reported);
      this.onClosed?.();
    });
    process.stderr.on('error', () => undefined); // nowhere left to report it
  }

  whenClosed(fn: () => void): void {
    this.onClosed = fn;
  }

  write(text: string): void {
    if (!this.closed) process.stdout.write(text);
  }

  /** The summary: stdout, or stderr once stdout is gone. */
  report(text: string): void {
    if (this.closed) process.stderr.write(text);
    else {
      this.reported = text;
      process.stdout.write(text);
    }
  }
}

const timeout = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

function fail(message: string): never {
  process.stderr.write(`error: ${message}\nRun 'npm start -- --help' for the options.\n`);
  process.exit(2);
}

function parseCli() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        market: { type: 'string', default: 'auto' },
        speed: { type: 'string', default: String(DEFAULT_SPEED) },
        data: { type: 'string', default: DEFAULT_REPLAY_DATA },
        minutes: { type: 'string' },
        backend: { type: 'string' },
        port: { type: 'string', default: String(DEFAULT_PORT) },
        'data-dir': { type: 'string', default: DEFAULT_DATA_DIR },
        keep: { type: 'boolean', default: false },
        verbose: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowPositionals: false,
    });
  } catch (e) {
    fail((e as Error).message);
  }
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const market = v.market as MarketMode;
  if (!['auto', 'live', 'replay'].includes(market)) fail(`--market must be auto, live or replay (got '${v.market}')`);
  const speed = Number(v.speed);
  if (!(speed > 0)) fail(`--speed must be a positive number (got '${v.speed}')`);
  const port = Number(v.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port must be 0-65535 (got '${v.port}')`);
  const minutes = v.minutes === undefined ? undefined : Number(v.minutes);
  if (minutes !== undefined && !(minutes > 0)) fail(`--minutes must be a positive number (got '${v.minutes}')`);
  const backend = (v.backend ?? backendFromEnv(parseEnv())) as Backend;
  if (!BACKENDS.includes(backend)) fail(`--backend must be one of ${BACKENDS.join(', ')} (got '${v.backend}')`);
  return { market, speed, port, minutes, backend, data: v.data!, dataDir: v['data-dir']!, keep: v.keep!, verbose: v.verbose! };
}

function fmtTime(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 16) + 'Z';
}

function printSummary(output: Output, s: RunSummary, logFile: string | undefined): void {
  const out: string[] = [];
  out.push('');
  out.push(`${s.market === 'replay' ? 'Replay' : 'Live run'} on the ${s.backend} backend: ${fmtTime(s.from)} -> ${fmtTime(s.to)}`);
  out.push('');
  const intervals = Object.keys(s.perSymbol[0]?.kraken ?? {});
  out.push(['symbol', 'bybit 1m', ...intervals.map((i) => `kraken ${i}`)].map((c) => c.padStart(11)).join(''));
  for (const p of s.perSymbol) {
    out.push([p.symbol, String(p.bybit1m), ...intervals.map((i) => String(p.kraken[i] ?? 0))].map((c) => c.padStart(11)).join(''));
  }
  out.push('');
  out.push(`warehouse: ${s.warehouse.ohlcv} ohlcv rows, ${s.warehouse.ticks} ticks`);
  out.push(
    `holder: ${s.holder.candles} closed 1m candles published (${s.holder.backfilled} backfilled), ${s.holder.snapshots} snapshots, ` +
      `${s.holder.tickBatches} tick batches, ${s.holder.reconnects} reconnects`,
  );
  out.push(`published: ${Object.entries(s.published).filter(([, n]) => n > 0).map(([t, n]) => `${t} ${n}`).join(', ') || 'nothing'}`);
  out.push(`jobs: ${Object.entries(s.jobs).map(([j, r]) => `${j} ${r.runs}${r.errors ? ` (${r.errors} failed)` : ''}`).join(', ')}`);
  out.push(`alerts: ${s.alerts}; dead letters: ${s.deadLetters.length}`);
  for (const d of s.deadLetters.slice(0, 5)) out.push(`  dead letter on ${d.subscription}: ${d.reason}`);
  if (logFile) out.push(`log: ${logFile}`);
  output.report(out.join('\n') + '\n');
}

/**
 * Ctrl-C / SIGTERM / a closed stdout request the stop; installed before anything starts and never
 * removed, so a stop at any moment ends with the summary. A repeat after FORCE_AFTER_MS exits at once.
 */
function installStopHandlers(output: Output): { requested: Promise<void>; reason: () => string | undefined } {
  let stopReason: string | undefined;
  let firstStopAt = 0;
  let wakeStop: () => void = () => undefined;
  const requested = new Promise<void>((r) => (wakeStop = r));
  const requestStop = (reason: string) => {
    if (stopReason === undefined) {
      stopReason = reason;
      firstStopAt = Date.now();
      wakeStop();
      return;
    }
    if (reason !== 'stdout closed' && Date.now() - firstStopAt > FORCE_AFTER_MS) {
      process.stderr.write(`${reason} again: exiting now (the bus journal keeps undelivered messages for the next start with --keep)\n`);
      process.exit(130);
    }
  };
  process.on('SIGINT', () => requestStop('SIGINT'));
  process.on('SIGTERM', () => requestStop('SIGTERM'));
  output.whenClosed(() => requestStop('stdout closed'));
  return { requested, reason: () => stopReason };
}

/** The JSON log: into <data-dir>/runtime.log (errors also on stderr), or to the console with --verbose. */
function runtimeLog(args: ReturnType<typeof parseCli>, output: Output): { log: Logger; logFile: string | undefined } {
  const logFile = args.verbose ? undefined : join(resolve(args.dataDir), 'runtime.log');
  if (logFile) {
    mkdirSync(dirname(logFile), { recursive: true });
    writeFileSync(logFile, '');
  }
  const sink = logFile
    ? (line: string, severity: Severity) => {
        appendFileSync(logFile, line + '\n');
        if (severity === 'ERROR' || severity === 'CRITICAL' || severity === 'ALERT') process.stderr.write(line + '\n');
      }
    : (line: string) => output.write(line + '\n');
  return { log: createLogger({ component: 'cst' }, { sink }), logFile };
}

/** Progress: a bar on a terminal, else a line every 10 s; silent once a stop was requested. */
function progressReporter(output: Output, stopping: () => boolean): { onProgress: (p: Progress) => void; stop: () => void } {
  const interactive = process.stdout.isTTY === true;
  const bar = new cliProgress.SingleBar(
    { format: ' {bar} {percentage}% | market time {time} | {candles} candles | {msgs} messages | {dlq} dead letters', hideCursor: true },
    cliProgress.Presets.shades_classic,
  );
  let barStarted = false;
  let lastPrinted = 0;
  const onProgress: (p: Progress) => void = (p) => {
    if (stopping()) return;
    const msgs = Object.values(p.published).reduce((a, b) => a + b, 0);
    const payload = { time: fmtTime(p.marketTime), candles: p.candles, msgs, dlq: p.deadLetters };
    const total = p.endTime !== undefined ? p.endTime - p.startTime : 0;
    const done = Math.min(p.marketTime - p.startTime, total);
    if (interactive && total > 0) {
      if (!barStarted) {
        bar.start(total, done, payload);
        barStarted = true;
      } else bar.update(done, payload);
    } else if (Date.now() - lastPrinted >= 10_000) {
      lastPrinted = Date.now();
      output.write(`market time ${payload.time}: ${p.candles} candles, ${msgs} messages, ${p.deadLetters} dead letters\n`);
    }
  };
  return {
    onProgress,
    stop: () => {
      if (barStarted) bar.stop();
    },
  };
}

async function main(): Promise<void> {
  const args = parseCli();
  const output = new Output();
  const stop = installStopHandlers(output);
  const { log, logFile } = runtimeLog(args, output);
  const progress = progressReporter(output, () => stop.reason() !== undefined);

  output.write(`Starting CryptoSignalTracker (backend ${args.backend}, market ${args.market})...\n`);
  const rt: LocalRuntime = await startLocalRuntime({
    backend: args.backend,
    market: args.market,
    replayData: args.data,
    speed: args.speed,
    port: args.port,
    dataDir: args.dataDir,
    keepState: args.keep,
    log,
    say: (m) => output.write(m + '\n'),
    ...(args.minutes !== undefined ? { durationMs: args.minutes * MINUTE_MS } : {}),
    onProgress: progress.onProgress,
  });
  output.write(
    `${rt.market === 'replay' ? `Replaying real market data at ${args.speed}x` : 'Live market data'}; functions at ${rt.functionsUrl} ` +
      `(e.g. ${rt.functionsUrl}/healthz). Ctrl-C stops.\n`,
  );
  const login = await rt.dashboardLogin();
  output.write(
    'url' in login
      ? `Dashboard: ${rt.dashboardUrl}/ — open this owner login link (single use, until ${new Date(login.expiresAt).toISOString().slice(11, 16)} UTC; restart for a new one):\n  ${login.url}\n`
      : `Dashboard: ${rt.dashboardUrl}/ (no local login link: ${login.reason})\n`,
  );

  const outcome = await Promise.race([rt.finished.then(() => 'finished' as const), stop.requested.then(() => 'stopped' as const)]);
  progress.stop();
  if (outcome === 'stopped') {
    const stopReason = stop.reason();
    log.notice('stopping', { reason: stopReason });
    output.write(`\n${stopReason === 'stdout closed' ? 'stdout closed' : stopReason}: stopping...\n`);
    await Promise.race([rt.halt(), timeout(HALT_TIMEOUT_MS)]);
  }
  try {
    printSummary(output, await rt.summary(), logFile);
  } catch (e) {
    output.report(`(summary unavailable: ${(e as Error).message})\n`);
  }
  await rt.stop(outcome === 'stopped' ? { drainTimeoutMs: STOP_DRAIN_TIMEOUT_MS } : {});
  // Lets a write error of the summary (EPIPE) be reported before exiting.
  await new Promise((r) => setImmediate(r));
  process.exit(0);
}

main().catch((e: unknown) => {
  process.stderr.write(`error: ${(e as Error).message}\n`);
  process.exit(1);
});
