/**
 * The Cloud Monitoring dashboard (google.monitoring.dashboard.v1.Dashboard, proto3 JSON), applied by
 * infra/monitoring/apply.ts. Two sections:
 * - system: request latency (p95), 5xx responses and ERROR log entries per Cloud Run service (every
 *   gen-2 function is one), instances per service, the holder's instance (its uptime) and stream
 *   reconnects, dead letters (forwarded per subscription, waiting on the DLQs), stale-data
 *   transitions and Telegram 429s, the Error Reporting panel;
 * - business: marked equity, open positions, daily drawdown % (with the alert level), signals per
 *   hour by outcome, trades opened / closed per hour, the daily win rate (wins / closed trades).
 */
import { DEFAULT_STRATEGY_CONFIGS } from '../../shared/config/strategy.js';
import { METRIC, logMetricType } from './log-metrics.js';
import {
  BUILTIN,
  CLOUD_RUN_REVISION,
  cloudRunServices,
  deadLetterRetentionSubscriptions,
  ERROR_SEVERITIES,
  HOLDER_CLAUSE,
  MANAGED_LABELS,
  metricFilter,
  oneOf,
  servicesClause,
} from './targets.js';

type Json = Record<string, unknown>;

export const DASHBOARD_DISPLAY_NAME = 'cst: system and trading';

const COLUMNS = 48;
const HALF = COLUMNS / 2;
const TILE_HEIGHT = 16;
const BY_SERVICE = ['resource.labels.service_name'];

interface Series {
  filter: string;
  aligner: string;
  reducer?: string;
  groupBy?: string[];
  period?: string;
  legend?: string;
  plot?: 'LINE' | 'STACKED_BAR' | 'STACKED_AREA';
}

function aggregation(s: Pick<Series, 'aligner' | 'reducer' | 'groupBy' | 'period'>): Json {
  return {
    alignmentPeriod: s.period ?? '60s',
    perSeriesAligner: s.aligner,
    ...(s.reducer ? { crossSeriesReducer: s.reducer } : {}),
    ...(s.groupBy ? { groupByFields: s.groupBy } : {}),
  };
}

function dataSet(s: Series): Json {
  return {
    timeSeriesQuery: { timeSeriesFilter: { filter: s.filter, aggregation: aggregation(s) } },
    plotType: s.plot ?? 'LINE',
    ...(s.legend ? { legendTemplate: s.legend } : {}),
  };
}

function chart(title: string, series: Series[], extra: Json = {}): Json {
  return { title, xyChart: { dataSets: series.map(dataSet), ...extra } };
}

/** A log-based metric's filter (its type on the metric's only resource, `global` or the writer's). */
const userMetric = (name: string, ...clauses: string[]) => metricFilter(logMetricType(name), ...clauses);
/** The account snapshot values: the mean of the minute's distribution (one snapshot a minute). */
const snapshotMean = (name: string, legend: string): Series => ({ filter: userMetric(name), aligner: 'ALIGN_DELTA', reducer: 'REDUCE_MEAN', period: '60s', legend });

export interface DashboardOptions {
  /** Daily drawdown alert level, % (default: the config's protections.accountGuards.dailyDrawdownAlertPct). */
  dailyDrawdownAlertPct?: number;
}

export function buildDashboard(o: DashboardOptions = {}): Json {
  const ddAlert = o.dailyDrawdownAlertPct ?? DEFAULT_STRATEGY_CONFIGS.protections.accountGuards.dailyDrawdownAlertPct;
  const services = servicesClause();
  const closedTrades = userMetric(METRIC.tradesClosed);
  const widgets: Json[] = [
    { title: 'System', sectionHeader: { subtitle: 'Cloud Run services (gen-2 functions, Telegram webhook, Bybit holder), Pub/Sub, data feeds' } },
    chart('Request latency p95 by service', [
      { filter: metricFilter(BUILTIN.runRequestLatencies, CLOUD_RUN_REVISION, services), aligner: 'ALIGN_PERCENTILE_95', reducer: 'REDUCE_MAX', groupBy: BY_SERVICE },
    ]),
    chart('5xx responses by service (failed invocations)', [
      {
        filter: metricFilter(BUILTIN.runRequestCount, CLOUD_RUN_REVISION, services, 'metric.labels.response_code_class="5xx"'),
        aligner: 'ALIGN_SUM',
        reducer: 'REDUCE_SUM',
        groupBy: BY_SERVICE,
        plot: 'STACKED_BAR',
      },
    ]),
    chart('ERROR log entries by service (Error Reporting)', [
      {
        filter: metricFilter(BUILTIN.logEntryCount, CLOUD_RUN_REVISION, services, `metric.labels.severity=${oneOf(ERROR_SEVERITIES)}`),
        aligner: 'ALIGN_SUM',
        reducer: 'REDUCE_SUM',
        groupBy: BY_SERVICE,
        plot: 'STACKED_BAR',
      },
    ]),
    chart('Instances by service', [
      { filter: metricFilter(BUILTIN.runInstanceCount, CLOUD_RUN_REVISION, services), aligner: 'ALIGN_MAX', reducer: 'REDUCE_SUM', groupBy: BY_SERVICE, plot: 'STACKED_AREA' },
    ]),
    chart('Bybit holder: instances (uptime) and stream reconnects', [
      { filter: metricFilter(BUILTIN.runInstanceCount, CLOUD_RUN_REVISION, HOLDER_CLAUSE), aligner: 'ALIGN_MAX', reducer: 'REDUCE_SUM', legend: 'instances' },
      { filter: userMetric(METRIC.holderReconnects), aligner: 'ALIGN_SUM', reducer: 'REDUCE_SUM', period: '300s', legend: 'reconnects / 5 min', plot: 'STACKED_BAR' },
    ]),
    chart('Dead letters: forwarded per subscription, waiting on the DLQs', [
      {
        filter: metricFilter(BUILTIN.subscriptionDeadLettered, 'resource.type="pubsub_subscription"'),
        aligner: 'ALIGN_SUM',
        reducer: 'REDUCE_SUM',
        groupBy: ['resource.labels.subscription_id'],
        plot: 'STACKED_BAR',
      },
      {
        filter: metricFilter(BUILTIN.subscriptionUndelivered, 'resource.type="pubsub_subscription"', `resource.labels.subscription_id=${oneOf(deadLetterRetentionSubscriptions())}`),
        aligner: 'ALIGN_MAX',
        reducer: 'REDUCE_SUM',
        legend: 'waiting on the DLQs',
      },
      { filter: userMetric(METRIC.deadLetters), aligner: 'ALIGN_SUM', reducer: 'REDUCE_SUM', period: '300s', legend: 'dead-lettered by a pull bus adapter / 5 min' },
    ]),
    chart('Stale symbols, stale-data transitions and Telegram 429s', [
      snapshotMean(METRIC.staleSymbols, 'stale symbols now'),
      { filter: userMetric(METRIC.dataStale), aligner: 'ALIGN_SUM', reducer: 'REDUCE_SUM', groupBy: ['metric.labels.symbol'], period: '300s', plot: 'STACKED_BAR' },
      { filter: userMetric(METRIC.telegram429), aligner: 'ALIGN_SUM', reducer: 'REDUCE_SUM', period: '300s', legend: 'Telegram 429s' },
    ]),
    { title: 'Errors (Error Reporting)', errorReportingPanel: { services: cloudRunServices() } },
    { title: 'Trading', sectionHeader: { subtitle: 'The trading account (health-check snapshot each minute), signals and trades' } },
    chart('Marked equity (USD)', [snapshotMean(METRIC.equity, 'equity')]),
    chart('Open positions', [snapshotMean(METRIC.openPositions, 'open positions')]),
    chart('Daily drawdown (% below the day peak)', [snapshotMean(METRIC.dailyDrawdownPct, 'drawdown %')], {
      thresholds: [{ label: `alert level ${ddAlert} %`, value: ddAlert, color: 'RED', direction: 'ABOVE' }],
    }),
    chart('Signals per hour by outcome', [{ filter: userMetric(METRIC.signals), aligner: 'ALIGN_SUM', reducer: 'REDUCE_SUM', groupBy: ['metric.labels.outcome'], period: '3600s', plot: 'STACKED_BAR' }]),
    chart('Trades per hour: opened, closed', [
      { filter: userMetric(METRIC.tradesOpened), aligner: 'ALIGN_SUM', reducer: 'REDUCE_SUM', period: '3600s', legend: 'opened' },
      { filter: closedTrades, aligner: 'ALIGN_SUM', reducer: 'REDUCE_SUM', period: '3600s', legend: 'closed' },
    ]),
    {
      title: 'Win rate per day (wins / closed trades)',
      xyChart: {
        dataSets: [
          {
            timeSeriesQuery: {
              timeSeriesFilterRatio: {
                numerator: { filter: userMetric(METRIC.tradesClosed, 'metric.labels.outcome="win"'), aggregation: aggregation({ aligner: 'ALIGN_SUM', reducer: 'REDUCE_SUM', period: '86400s' }) },
                denominator: { filter: closedTrades, aggregation: aggregation({ aligner: 'ALIGN_SUM', reducer: 'REDUCE_SUM', period: '86400s' }) },
              },
            },
            plotType: 'LINE',
            legendTemplate: 'win rate',
          },
        ],
      },
    },
  ];
  let y = 0;
  let x = 0;
  const tiles: Json[] = [];
  for (const w of widgets) {
    const full = 'sectionHeader' in w || 'errorReportingPanel' in w;
    if (full && x !== 0) {
      x = 0;
      y += TILE_HEIGHT;
    }
    const height = 'sectionHeader' in w ? 4 : TILE_HEIGHT;
    tiles.push({ xPos: x, yPos: y, width: full ? COLUMNS : HALF, height, widget: w });
    if (full) y += height;
    else if (x === 0) x = HALF;
    else {
      x = 0;
      y += TILE_HEIGHT;
    }
  }
  return {
    displayName: DASHBOARD_DISPLAY_NAME,
    mosaicLayout: { columns: COLUMNS, tiles },
    labels: { ...MANAGED_LABELS },
  };
}
