/**
 * The monthly cost of the default deployment, computed from what the deploy really runs, never typed
 * by hand: the invocations per day come from scheduler.yaml (each job's cron, counted over four weeks),
 * the Pub/Sub topology (infra/bus/topology.ts: every subscriber of a topic is one push per message) and
 * the system config (symbols, Kraken intervals, the holder's snapshot and tick-batch periods); the
 * function sizes from the deploy (infra/deploy/plan.ts FUNCTION_MEMORY); the prices from PRICES below
 * (list prices, us-central1, with their source). `npm run cost` prints it; the README shows its output.
 *
 * What it cannot know is marked as an assumption with its value (average billed time per invocation,
 * Firestore operations per invocation, how long the dashboard is open): pass other values to see how
 * the total moves.
 */
import type { SystemConfig } from '../../shared/config/system.js';
import { INTERVAL_MS } from '../../shared/model/market.js';
import { CronSchedule } from '../../shared/schedule/cron.js';
import type { ScheduleFile } from '../../shared/schedule/schema.js';
import { TOPICS, type TopicName } from '../../shared/topics.js';
import { SUBSCRIBERS } from '../bus/topology.js';

const DAY_MS = INTERVAL_MS['1d'];

/** Days in the billed month of the estimate. */
export const MONTH_DAYS = 30;

/** List prices (USD) and free tiers the estimate uses. */
export interface PriceTable {
  asOf: string;
  source: string;
  /** Cloud Run functions (gen 2), request-based billing. */
  functions: { perMillionInvocations: number; perVcpuSecond: number; perGibSecond: number; freeInvocations: number; freeVcpuSeconds: number; freeGibSeconds: number; minBilledMs: number };
  /** Cloud Run, instance-based billing (CPU always allocated): the holder. */
  runInstance: { perVcpuSecond: number; perGibSecond: number; freeVcpuSeconds: number; freeGibSeconds: number };
  firestore: { per100kReads: number; per100kWrites: number; freeReadsPerDay: number; freeWritesPerDay: number };
  scheduler: { perJobMonth: number; freeJobs: number };
  secretManager: { perVersionMonth: number; freeVersions: number };
  pubsub: { perTib: number; freeGib: number; minMessageBytes: number };
  /** BigQuery: legacy streaming inserts (insertAll, each row billed at least minRowBytes), active storage. */
  bigquery: { perGibStreamed: number; minRowBytes: number; perGibMonthStored: number; freeGibStored: number };
  /** Cloud Logging ingestion beyond the free GiB per project a month. */
  logging: { perGib: number; freeGib: number };
  /** Cloud Monitoring alerting: per condition a month. */
  alerting: { perConditionMonth: number };
}

/**
 * us-central1 (tier 1) list prices as read from Google's pricing pages (cloud.google.com/run/pricing:
 * request-based and instance-based tables, free tiers per billing account; functions/pricing: "2nd gen
 * pricing is based on Cloud Run pricing"; functions/docs/configuring/memory: the vCPU of each memory
 * size; firestore/pricing: the free daily quota; pubsub/pricing: $40/TiB, 1000-byte minimum per
 * request; scheduler/pricing; secret-manager/pricing; stackdriver/pricing: alerting $1.50 per
 * condition a month). Less certain: Cloud Run's instance-based memory price and free GiB-s, Firestore's
 * per-location read / write price (the US regional figures), the alerting rate in force. Check the
 * pricing calculator before relying on a cent.
 */
export const PRICES: PriceTable = {
  asOf: '2026-12',
  source: 'cloud.google.com/{run,functions,firestore,pubsub,scheduler,secret-manager,stackdriver}/pricing (us-central1, tier 1)',
  functions: { perMillionInvocations: 0.4, perVcpuSecond: 0.000024, perGibSecond: 0.0000025, freeInvocations: 2_000_000, freeVcpuSeconds: 180_000, freeGibSeconds: 360_000, minBilledMs: 100 },
  runInstance: { perVcpuSecond: 0.000018, perGibSecond: 0.000002, freeVcpuSeconds: 240_000, freeGibSeconds: 450_000 },
  firestore: { per100kReads: 0.03, per100kWrites: 0.09, freeReadsPerDay: 50_000, freeWritesPerDay: 20_000 },
  scheduler: { perJobMonth: 0.1, freeJobs: 3 },
  secretManager: { perVersionMonth: 0.06, freeVersions: 6 },
  pubsub: { perTib: 40, freeGib: 10, minMessageBytes: 1000 },
  bigquery: { perGibStreamed: 0.05, minRowBytes: 1024, perGibMonthStored: 0.02, freeGibStored: 10 },
  logging: { perGib: 0.5, freeGib: 50 },
  alerting: { perConditionMonth: 1.5 },
};

/** The gen-2 function sizes: memory (GiB) and the vCPU that comes with it. */
const FUNCTION_SIZES: Record<string, { gib: number; vcpu: number }> = {
  '256MiB': { gib: 0.25, vcpu: 0.167 },
  '512MiB': { gib: 0.5, vcpu: 0.333 },
  '1GiB': { gib: 1, vcpu: 0.583 },
  '2GiB': { gib: 2, vcpu: 1 },
};

export interface CostAssumptions {
  /** Average billed time of one invocation (ms), by function; `default` for the rest. */
  avgBilledMs: Record<string, number>;
  /**
   * Firestore reads and writes per symbol per day of the candle pipeline (candle-ingest, micro-scalp,
   * execution, notifier, macro-analysis on their candles): measured by `npm run cost -- --measure`.
   */
  candlePipelinePerSymbolDay: { reads: number; writes: number };
  /** Firestore reads and writes per invocation of the other functions, by function; `default` for the rest. */
  firestoreOps: Record<string, { reads: number; writes: number }>;
  /** Hours a day the dashboard page is open (it polls every dashboard.pollMs). */
  dashboardHoursPerDay: number;
  dashboardPollMs: number;
  /** Telegram updates a day (commands, button presses). */
  telegramUpdatesPerDay: number;
  /** Signals, trade events, alerts and Telegram jobs a day (all strategies, all symbols). */
  eventsPerDay: number;
  /** The holder's Cloud Run size. */
  holder: { vcpu: number; gib: number };
  /** Secret versions kept (bot token, webhook secret, exchange keys). */
  secretVersions: number;
  /** Average bytes of one bus message (billed at least minMessageBytes). */
  avgMessageBytes: number;
  /** Public trades a symbol a day archived to BigQuery `ticks`, and the stored bytes of one row. */
  ticksPerSymbolPerDay: number;
  tickRowBytes: number;
  /** Log bytes an invocation writes (the platform's request line and ours). */
  logBytesPerInvocation: number;
}

export const DEFAULT_ASSUMPTIONS: CostAssumptions = {
  // kraken-pull asks Kraken only where a candle may have closed, one request a second per IP: 9 pairs x
  // 414 closes a day = 3,726 requests over 1,440 runs, about 2.6 s a run on average.
  avgBilledMs: { default: 200, 'kraken-pull': 3_000, 'macro-analysis': 4_000, reports: 5_000, retrain: 600_000, 'retention-cleanup': 60_000 },
  // `npm run cost -- --measure` on 2026-12-03: 166,377 reads and 6,296 writes per symbol on 2025-06-11.
  // Nine reads in ten are macro-analysis reading its hot windows (about 520 candle documents per symbol)
  // again at every 5-minute run.
  candlePipelinePerSymbolDay: { reads: 166_400, writes: 6_300 },
  firestoreOps: {
    default: { reads: 2, writes: 1 },
    'tick-archive': { reads: 0, writes: 0 },
    'micro-scalp': { reads: 1, writes: 0 },
    'kraken-pull': { reads: 36, writes: 5 },
    'health-check': { reads: 12, writes: 0 },
    'config-check': { reads: 6, writes: 0 },
    dashboard: { reads: 5, writes: 0 },
    'telegram-webhook': { reads: 5, writes: 2 },
  },
  dashboardHoursPerDay: 1,
  dashboardPollMs: 1_500,
  telegramUpdatesPerDay: 50,
  eventsPerDay: 200,
  holder: { vcpu: 1, gib: 0.5 },
  secretVersions: 4,
  avgMessageBytes: 2_000,
  // The kit's websocket recording (bybit_ws/derived_public_trades.csv): 327 linear trades in 41.7 s
  // over 4 symbols, about 2 a second each.
  ticksPerSymbolPerDay: 170_000,
  tickRowBytes: 120,
  logBytesPerInvocation: 1_000,
};

/** What the replayed day of `npm run cost -- --measure` runs: its Firestore operations are measured, not assumed. */
const CANDLE_PIPELINE_SOURCES: ReadonlySet<string> = new Set([
  `topic ${TOPICS.bybitCandles}`,
  `topic ${TOPICS.krakenOhlc}`,
  `topic ${TOPICS.macroBias}`,
  `topic ${TOPICS.microSignals}`,
  `topic ${TOPICS.swingSignals}`,
  `topic ${TOPICS.tradeEvents}`,
  'schedule macroAnalysis',
]);

export interface InvocationLine {
  function: string;
  /** What calls it: `schedule <job>` or `topic <name>` or `http`. */
  source: string;
  perDay: number;
  /** How perDay was computed. */
  formula: string;
}

const runsMemo = new Map<string, number>();

/** How many times a day each cron job fires: counted over 28 days (every weekday four times). */
export function runsPerDay(cron: string, timeZone: string, from = Date.UTC(2026, 0, 5)): number {
  const key = `${cron}|${timeZone}|${from}`;
  const known = runsMemo.get(key);
  if (known !== undefined) return known;
  const s = new CronSchedule(cron, timeZone);
  const end = from + 28 * DAY_MS;
  let n = 0;
  for (let t = s.next(from - 1); t !== null && t < end; t = s.next(t)) n++;
  runsMemo.set(key, n / 28);
  return n / 28;
}

/** Messages a day on each topic, with how: what the config and the schedule make. */
function topicMessagesPerDay(system: SystemConfig, schedule: ScheduleFile, a: CostAssumptions): Map<TopicName, { perDay: number; formula: string }> {
  const n = system.symbols.filter((s) => s.enabled).length;
  const closesPerDay = system.kraken.intervals.reduce((sum, iv) => sum + DAY_MS / INTERVAL_MS[iv], 0);
  const macroRuns = schedule.jobs.filter((j) => j.function === 'macro-analysis').reduce((s, j) => s + runsPerDay(j.schedule, j.timeZone), 0);
  const m = new Map<TopicName, { perDay: number; formula: string }>();
  m.set(TOPICS.bybitCandles, { perDay: 1_440 * n, formula: `1440 closed 1m candles x ${n} symbols` });
  m.set(TOPICS.snapshots, { perDay: (DAY_MS / system.bybit.snapshotIntervalMs) * n, formula: `86400 s / ${system.bybit.snapshotIntervalMs / 1000} s x ${n} symbols` });
  m.set(TOPICS.rawTicks, { perDay: (DAY_MS / system.bybit.tickBatchMs) * n, formula: `at most 86400 s / ${system.bybit.tickBatchMs / 1000} s tick batches x ${n} symbols (a symbol with a trade every second)` });
  m.set(TOPICS.krakenOhlc, { perDay: closesPerDay * n, formula: `${closesPerDay} closes a day over ${system.kraken.intervals.join('/')} x ${n} pairs` });
  m.set(TOPICS.macroBias, { perDay: macroRuns * n, formula: `${macroRuns} macro-analysis runs x ${n} symbols` });
  const rest: TopicName[] = [TOPICS.microSignals, TOPICS.swingSignals, TOPICS.tradeEvents, TOPICS.tradeCommands, TOPICS.alerts, TOPICS.telegramJobs];
  for (const t of rest) m.set(t, { perDay: a.eventsPerDay / rest.length, formula: `assumed ${a.eventsPerDay} events a day over ${rest.length} topics` });
  return m;
}

/** Every function invocation a day: one per scheduler run, one per message per subscriber, the HTTP entries. */
export function dailyInvocations(system: SystemConfig, schedule: ScheduleFile, a: CostAssumptions = DEFAULT_ASSUMPTIONS): InvocationLine[] {
  const lines: InvocationLine[] = [];
  for (const j of schedule.jobs) {
    if (j.enabled === false) continue;
    const perDay = runsPerDay(j.schedule, j.timeZone);
    lines.push({ function: j.function, source: `schedule ${j.name}`, perDay, formula: `cron "${j.schedule}" (${j.timeZone}): ${round(perDay, 3)} runs a day` });
  }
  const messages = topicMessagesPerDay(system, schedule, a);
  for (const [topic, subs] of Object.entries(SUBSCRIBERS) as Array<[TopicName, Array<{ function: string }>]>) {
    const m = messages.get(topic);
    if (!m) throw new Error(`cost estimate: no message rate for topic ${topic}`);
    for (const s of subs) lines.push({ function: s.function, source: `topic ${topic}`, perDay: m.perDay, formula: m.formula });
  }
  const polls = (a.dashboardHoursPerDay * 3_600_000) / a.dashboardPollMs;
  lines.push({ function: 'dashboard', source: 'http', perDay: polls, formula: `assumed ${a.dashboardHoursPerDay} h open a day, a poll every ${a.dashboardPollMs / 1000} s` });
  lines.push({ function: 'telegram-webhook', source: 'http', perDay: a.telegramUpdatesPerDay, formula: `assumed ${a.telegramUpdatesPerDay} updates a day` });
  return lines;
}

export interface CostLine {
  item: string;
  quantity: string;
  /** USD a month after the free tier. */
  usd: number;
  arithmetic: string;
}

export interface CostEstimate {
  symbols: number;
  invocationsPerDay: number;
  byFunction: Array<{ function: string; perDay: number }>;
  lines: CostLine[];
  totalUsd: number;
}

/** What the deploy deploys, as the estimate needs it. */
export interface Deployment {
  system: SystemConfig;
  schedule: ScheduleFile;
  /** Each function's deployed memory (default 256MiB). */
  memory: Readonly<Record<string, string>>;
  /** Conditions over all the alert policies the deploy applies. */
  alertConditions: number;
}

/** The monthly estimate. */
export function monthlyCost(d: Deployment, a: CostAssumptions = DEFAULT_ASSUMPTIONS, p: PriceTable = PRICES): CostEstimate {
  const { system, schedule, memory } = d;
  const nSymbols = system.symbols.filter((x) => x.enabled).length;
  const inv = dailyInvocations(system, schedule, a);
  const byFn = new Map<string, number>();
  for (const l of inv) byFn.set(l.function, (byFn.get(l.function) ?? 0) + l.perDay);
  const perDay = [...byFn.values()].reduce((s, v) => s + v, 0);
  const month = perDay * MONTH_DAYS;
  const lines: CostLine[] = [];

  // Functions: invocations, then CPU and memory time (each invocation billed at least minBilledMs).
  const invUsd = Math.max(0, month - p.functions.freeInvocations) * (p.functions.perMillionInvocations / 1e6);
  lines.push({ item: 'Function invocations', quantity: `${fmt(month)} a month`, usd: invUsd, arithmetic: `(${fmt(month)} - ${fmt(p.functions.freeInvocations)} free) x $${p.functions.perMillionInvocations}/M` });
  let vcpuS = 0;
  let gibS = 0;
  for (const [fn, n] of byFn) {
    const size = FUNCTION_SIZES[memory[fn] ?? '256MiB'] ?? FUNCTION_SIZES['256MiB']!;
    const sec = Math.max(a.avgBilledMs[fn] ?? a.avgBilledMs.default!, p.functions.minBilledMs) / 1000;
    vcpuS += n * MONTH_DAYS * sec * size.vcpu;
    gibS += n * MONTH_DAYS * sec * size.gib;
  }
  const cpuUsd = Math.max(0, vcpuS - p.functions.freeVcpuSeconds) * p.functions.perVcpuSecond;
  const memUsd = Math.max(0, gibS - p.functions.freeGibSeconds) * p.functions.perGibSecond;
  lines.push({ item: 'Function CPU', quantity: `${fmt(vcpuS)} vCPU-s`, usd: cpuUsd, arithmetic: `(${fmt(vcpuS)} - ${fmt(p.functions.freeVcpuSeconds)} free) x $${p.functions.perVcpuSecond}` });
  lines.push({ item: 'Function memory', quantity: `${fmt(gibS)} GiB-s`, usd: memUsd, arithmetic: `(${fmt(gibS)} - ${fmt(p.functions.freeGibSeconds)} free) x $${p.functions.perGibSecond}` });

  // The holder: one instance, CPU always allocated, all month.
  const sMonth = MONTH_DAYS * 86_400;
  const hv = a.holder.vcpu * sMonth;
  const hg = a.holder.gib * sMonth;
  const holderUsd = Math.max(0, hv - p.runInstance.freeVcpuSeconds) * p.runInstance.perVcpuSecond + Math.max(0, hg - p.runInstance.freeGibSeconds) * p.runInstance.perGibSecond;
  lines.push({
    item: 'Holder (Cloud Run, always on)',
    quantity: `${a.holder.vcpu} vCPU, ${a.holder.gib} GiB x ${fmt(sMonth)} s`,
    usd: holderUsd,
    arithmetic: `(${fmt(hv)} - ${fmt(p.runInstance.freeVcpuSeconds)} free) vCPU-s x $${p.runInstance.perVcpuSecond} + (${fmt(hg)} - ${fmt(p.runInstance.freeGibSeconds)} free) GiB-s x $${p.runInstance.perGibSecond}`,
  });

  // Firestore: the candle pipeline as measured on a replayed day, per symbol; every other invocation
  // at its assumed operations; against the daily free quota.
  let reads = a.candlePipelinePerSymbolDay.reads * nSymbols;
  let writes = a.candlePipelinePerSymbolDay.writes * nSymbols;
  for (const l of inv) {
    if (CANDLE_PIPELINE_SOURCES.has(l.source)) continue;
    const ops = a.firestoreOps[l.function] ?? a.firestoreOps.default!;
    reads += l.perDay * ops.reads;
    writes += l.perDay * ops.writes;
  }
  const fsUsd =
    MONTH_DAYS * (Math.max(0, reads - p.firestore.freeReadsPerDay) * (p.firestore.per100kReads / 1e5) + Math.max(0, writes - p.firestore.freeWritesPerDay) * (p.firestore.per100kWrites / 1e5));
  lines.push({
    item: 'Firestore',
    quantity: `${fmt(reads)} reads, ${fmt(writes)} writes a day`,
    usd: fsUsd,
    arithmetic: `${MONTH_DAYS} x ((${fmt(reads)} - ${fmt(p.firestore.freeReadsPerDay)} free) x $${p.firestore.per100kReads}/100k + (${fmt(writes)} - ${fmt(p.firestore.freeWritesPerDay)} free) x $${p.firestore.per100kWrites}/100k)`,
  });

  // Pub/Sub: every published message once, every push delivery once (billed at least minMessageBytes each).
  const msgBytes = Math.max(a.avgMessageBytes, p.pubsub.minMessageBytes);
  const gib = (inv.filter((l) => l.source.startsWith('topic ')).reduce((s, l) => s + l.perDay, 0) * 2 * msgBytes * MONTH_DAYS) / 2 ** 30;
  const psUsd = Math.max(0, gib - p.pubsub.freeGib) * (p.pubsub.perTib / 1024);
  lines.push({ item: 'Pub/Sub', quantity: `${fmt(gib)} GiB a month`, usd: psUsd, arithmetic: `(${fmt(gib)} - ${p.pubsub.freeGib} free) GiB x $${p.pubsub.perTib}/TiB` });

  // BigQuery: the tick archive streams every public trade; a month of them stays in active storage.
  const rows = a.ticksPerSymbolPerDay * nSymbols * MONTH_DAYS;
  const streamedGib = (rows * Math.max(a.tickRowBytes, p.bigquery.minRowBytes)) / 2 ** 30;
  const storedGib = (rows * a.tickRowBytes) / 2 ** 30;
  const bqUsd = streamedGib * p.bigquery.perGibStreamed + Math.max(0, storedGib - p.bigquery.freeGibStored) * p.bigquery.perGibMonthStored;
  lines.push({
    item: 'BigQuery (tick archive)',
    quantity: `${fmt(rows)} rows a month`,
    usd: bqUsd,
    arithmetic: `${fmt(streamedGib)} GiB streamed (1 KiB a row minimum) x $${p.bigquery.perGibStreamed} + (${fmt(storedGib)} - ${p.bigquery.freeGibStored} free) GiB stored x $${p.bigquery.perGibMonthStored}`,
  });

  const jobs = schedule.jobs.filter((j) => j.enabled !== false).length;
  const schedUsd = Math.max(0, jobs - p.scheduler.freeJobs) * p.scheduler.perJobMonth;
  lines.push({ item: 'Cloud Scheduler', quantity: `${jobs} jobs`, usd: schedUsd, arithmetic: `(${jobs} - ${p.scheduler.freeJobs} free) x $${p.scheduler.perJobMonth}` });
  const secUsd = Math.max(0, a.secretVersions - p.secretManager.freeVersions) * p.secretManager.perVersionMonth;
  lines.push({ item: 'Secret Manager', quantity: `${a.secretVersions} versions`, usd: secUsd, arithmetic: `(${a.secretVersions} - ${p.secretManager.freeVersions} free) x $${p.secretManager.perVersionMonth}` });

  const logGib = (month * a.logBytesPerInvocation) / 2 ** 30;
  const logUsd = Math.max(0, logGib - p.logging.freeGib) * p.logging.perGib;
  lines.push({ item: 'Cloud Logging', quantity: `${fmt(logGib)} GiB a month`, usd: logUsd, arithmetic: `(${fmt(logGib)} - ${p.logging.freeGib} free) GiB x $${p.logging.perGib}` });

  const alertUsd = d.alertConditions * p.alerting.perConditionMonth;
  lines.push({ item: 'Alerting', quantity: `${d.alertConditions} conditions`, usd: alertUsd, arithmetic: `${d.alertConditions} x $${p.alerting.perConditionMonth}` });

  const totalUsd = lines.reduce((s, l) => s + l.usd, 0);
  return {
    symbols: system.symbols.filter((s) => s.enabled).length,
    invocationsPerDay: perDay,
    byFunction: [...byFn].map(([f, n]) => ({ function: f, perDay: n })).sort((x, y) => y.perDay - x.perDay),
    lines,
    totalUsd,
  };
}

function round(x: number, d: number): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

function fmt(x: number): string {
  return x >= 100 ? Math.round(x).toLocaleString('en-US') : String(round(x, 2));
}
