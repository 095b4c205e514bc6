/**
 * Log-based metrics (Cloud Logging `LogMetric`, REST JSON shape), created / updated by the deploy with
 * `gcloud logging metrics create|update NAME --config-from-file=FILE` after a describe.
 *
 * Each filters on the STABLE `event` field of the log line our code writes (shared/log.ts LOG_EVENTS:
 * `jsonPayload.event="<value>"`), never on message text. Counters count entries (DELTA INT64); the
 * business values (equity, open positions, daily drawdown %) are DELTA DISTRIBUTION metrics whose
 * value is extracted from a numeric field of health-check's `account_snapshot` line (one a minute):
 * charts and the drawdown alert read them with ALIGN_MEAN. Monitoring names them
 * `logging.googleapis.com/user/<name>` (logMetricType).
 */
import { LOG_EVENTS, type LogEvent } from '../../shared/log.js';

export interface LogMetricSpec {
  /** Metric id: `logging.googleapis.com/user/<name>`. */
  name: string;
  description: string;
  /** Cloud Logging query. */
  filter: string;
  metricDescriptor?: Record<string, unknown>;
  valueExtractor?: string;
  labelExtractors?: Record<string, string>;
  bucketOptions?: Record<string, unknown>;
}

/** The metric type Cloud Monitoring gives a log-based metric. */
export function logMetricType(name: string): string {
  return `logging.googleapis.com/user/${name}`;
}

/** The filter clause every metric starts with: its log line's event. */
export function eventClause(event: LogEvent): string {
  return `jsonPayload.event="${event}"`;
}

type Label = { key: string; description: string };

function counter(name: string, description: string, event: LogEvent, o: { extra?: string[]; labels?: Label[] } = {}): LogMetricSpec {
  const labels = o.labels ?? [];
  return {
    name,
    description,
    filter: [eventClause(event), ...(o.extra ?? [])].join(' AND '),
    metricDescriptor: {
      metricKind: 'DELTA',
      valueType: 'INT64',
      unit: '1',
      ...(labels.length > 0 ? { labels: labels.map((l) => ({ key: l.key, valueType: 'STRING', description: l.description })) } : {}),
    },
    ...(labels.length > 0 ? { labelExtractors: Object.fromEntries(labels.map((l) => [l.key, `EXTRACT(jsonPayload.${l.key})`])) } : {}),
  };
}

function snapshotValue(name: string, description: string, field: string, unit: string, bucketOptions: Record<string, unknown>, event: LogEvent = LOG_EVENTS.accountSnapshot): LogMetricSpec {
  return {
    name,
    description,
    filter: eventClause(event),
    metricDescriptor: { metricKind: 'DELTA', valueType: 'DISTRIBUTION', unit },
    valueExtractor: `EXTRACT(jsonPayload.${field})`,
    bucketOptions,
  };
}

/** Metric names the dashboard and the alert policies reference (one name per metric). */
export const METRIC = {
  signals: 'cst_signals',
  tradesOpened: 'cst_trades_opened',
  tradesClosed: 'cst_trades_closed',
  deadLetters: 'cst_dead_letters',
  holderReconnects: 'cst_holder_reconnects',
  dataStale: 'cst_data_stale',
  staleSymbols: 'cst_stale_symbols',
  telegram429: 'cst_telegram_429',
  equity: 'cst_account_equity',
  openPositions: 'cst_open_positions',
  dailyDrawdownPct: 'cst_daily_drawdown_pct',
} as const;

/** The `account_snapshot` fields the value metrics extract (health-check writes them). */
export const SNAPSHOT_FIELDS = { equity: 'equity', openPositions: 'openPositions', dailyDrawdownPct: 'dailyDrawdownPct' } as const;

export const LOG_METRICS: readonly LogMetricSpec[] = [
  counter(METRIC.signals, 'Signals decided by execution (first delivery), by outcome and strategy', LOG_EVENTS.signalDecided, {
    extra: ['jsonPayload.redelivery=false'],
    labels: [
      { key: 'outcome', description: 'accepted or rejected' },
      { key: 'strategy', description: 'strategy id' },
    ],
  }),
  counter(METRIC.tradesOpened, 'Trade groups opened (order_placed published)', LOG_EVENTS.tradeOpened, { labels: [{ key: 'strategy', description: 'strategy id' }] }),
  counter(METRIC.tradesClosed, 'Trades closed, by outcome (win, loss, breakeven) and strategy', LOG_EVENTS.tradeClosed, {
    labels: [
      { key: 'outcome', description: 'win, loss or breakeven' },
      { key: 'strategy', description: 'strategy id' },
    ],
  }),
  counter(METRIC.deadLetters, 'Messages a bus adapter dead-lettered, by subscription', LOG_EVENTS.deadLettered, {
    extra: ['severity>=ERROR'],
    labels: [{ key: 'subscription', description: 'subscription the message failed on' }],
  }),
  counter(METRIC.holderReconnects, 'Bybit holder stream reconnects', LOG_EVENTS.holderReconnected),
  counter(METRIC.dataStale, 'Symbols whose market data went stale (one per transition)', LOG_EVENTS.dataStale, {
    extra: ['severity=WARNING'],
    labels: [{ key: 'symbol', description: 'symbol' }],
  }),
  snapshotValue(
    METRIC.staleSymbols,
    'Symbols whose market data is stale now (health-check, each minute)',
    'staleSymbols',
    '1',
    // no offset: 0 (a proto3 default the API leaves out of what it returns)
    { linearBuckets: { numFiniteBuckets: 26, width: 1 } },
    LOG_EVENTS.freshnessSnapshot,
  ),
  counter(METRIC.telegram429, 'Telegram 429 answers (retry_after honoured)', LOG_EVENTS.telegram429),
  snapshotValue(METRIC.equity, 'Marked equity of the trading account, USD (health-check, each minute)', SNAPSHOT_FIELDS.equity, '1', {
    exponentialBuckets: { numFiniteBuckets: 64, growthFactor: 1.25, scale: 1 },
  }),
  snapshotValue(METRIC.openPositions, 'Open (filled) positions of the trading account (health-check, each minute)', SNAPSHOT_FIELDS.openPositions, '1', {
    linearBuckets: { numFiniteBuckets: 50, width: 1 },
  }),
  snapshotValue(METRIC.dailyDrawdownPct, 'Daily drawdown below the UTC day peak, % (health-check, each minute)', SNAPSHOT_FIELDS.dailyDrawdownPct, '%', {
    linearBuckets: { numFiniteBuckets: 100, width: 0.25 },
  }),
];
