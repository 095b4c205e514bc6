/**
 * The alert policies (google.monitoring.v3.AlertPolicy, proto3 JSON), applied by
 * infra/monitoring/apply.ts with the deployment's notification channels. Each one's documentation
 * says what it means and what to do (the runbook in the alert itself).
 */
import { DEFAULT_STRATEGY_CONFIGS } from '../../shared/config/strategy.js';
import { HOLDER_SERVICE } from '../runtime/registry.js';
import { METRIC, logMetricType } from './log-metrics.js';
import { BUILTIN, CLOUD_RUN_REVISION, deadLetterRetentionSubscriptions, HOLDER_CLAUSE, MANAGED_LABELS, metricFilter, oneOf, servicesClause } from './targets.js';

type Json = Record<string, unknown>;

/** Share of a service's requests answered 5xx over 5 minutes that raises the error-rate alert. */
export const FUNCTION_ERROR_RATIO = 0.05;
/** Holder stream reconnects within 10 minutes that make a reconnect storm. */
export const RECONNECT_STORM = 5;
/** Minutes without a holder instance before it is reported down. */
const HOLDER_DOWN_MINUTES = 5;

export interface AlertPolicyOptions {
  /** Daily drawdown alert level, % (default: the config's protections.accountGuards.dailyDrawdownAlertPct). */
  dailyDrawdownAlertPct?: number;
  /** Notification channel resource names (projects/P/notificationChannels/ID). */
  notificationChannels?: readonly string[];
}

const AUTO_CLOSE = '1800s';

function policy(displayName: string, severity: 'CRITICAL' | 'ERROR' | 'WARNING', doc: string, condition: Json, channels: readonly string[]): Json {
  return {
    displayName,
    documentation: { content: doc, mimeType: 'text/markdown', subject: displayName },
    userLabels: { ...MANAGED_LABELS },
    conditions: [condition],
    combiner: 'OR',
    enabled: true,
    notificationChannels: [...channels],
    alertStrategy: { autoClose: AUTO_CLOSE },
    severity,
  };
}

function sumOver(period: string, groupBy?: string[]): Json {
  return { alignmentPeriod: period, perSeriesAligner: 'ALIGN_SUM', crossSeriesReducer: 'REDUCE_SUM', ...(groupBy ? { groupByFields: groupBy } : {}) };
}

/** A log-based counter above `threshold` within `period`; no data (no events) is not a breach. */
function counterAbove(displayName: string, metric: string, period: string, threshold: number): Json {
  return {
    displayName,
    conditionThreshold: {
      // log-based metrics of our functions' and the holder's logs live on Cloud Run revisions; the
      // API wants a resource type in every condition filter
      filter: metricFilter(logMetricType(metric), CLOUD_RUN_REVISION),
      aggregations: [sumOver(period)],
      comparison: 'COMPARISON_GT',
      thresholdValue: threshold,
      duration: '0s',
      trigger: { count: 1 },
      evaluationMissingData: 'EVALUATION_MISSING_DATA_INACTIVE',
    },
  };
}

export const ALERT_NAMES = {
  functionErrors: 'cst: function error rate',
  holderDown: 'cst: Bybit holder down',
  reconnectStorm: 'cst: Bybit holder reconnect storm',
  dataStale: 'cst: market data stale',
  deadLetters: 'cst: dead letters waiting',
  drawdown: 'cst: daily drawdown',
} as const;

export function buildAlertPolicies(o: AlertPolicyOptions = {}): Json[] {
  const dd = o.dailyDrawdownAlertPct ?? DEFAULT_STRATEGY_CONFIGS.protections.accountGuards.dailyDrawdownAlertPct;
  const ch = o.notificationChannels ?? [];
  const services = servicesClause();
  const requests = (...c: string[]) => metricFilter(BUILTIN.runRequestCount, CLOUD_RUN_REVISION, services, ...c);
  const byService = ['resource.labels.service_name'];
  return [
    policy(
      ALERT_NAMES.functionErrors,
      'ERROR',
      `More than ${FUNCTION_ERROR_RATIO * 100} % of a service's requests (Pub/Sub pushes, scheduler calls, HTTP) failed with 5xx over 5 minutes. ` +
        'Open Error Reporting (the dashboard\'s Errors panel) for the stack; a Pub/Sub function that keeps failing will dead-letter its messages ' +
        '(see "dead letters waiting"). Fix, redeploy, then replay the DLQ.',
      {
        displayName: '5xx share of requests > threshold',
        conditionThreshold: {
          filter: requests('metric.labels.response_code_class="5xx"'),
          aggregations: [sumOver('300s', byService)],
          denominatorFilter: requests(),
          denominatorAggregations: [sumOver('300s', byService)],
          comparison: 'COMPARISON_GT',
          thresholdValue: FUNCTION_ERROR_RATIO,
          duration: '0s',
          trigger: { count: 1 },
          evaluationMissingData: 'EVALUATION_MISSING_DATA_INACTIVE',
        },
      },
      ch,
    ),
    policy(
      ALERT_NAMES.holderDown,
      'CRITICAL',
      `No ${HOLDER_SERVICE} instance reported for ${HOLDER_DOWN_MINUTES} minutes: no Bybit candles, snapshots or ticks reach the system ` +
        '(scalp signals stop, open positions are not marked). Check the Cloud Run service (revision, logs of the last instance, min instances = 1), redeploy it.',
      {
        displayName: `no ${HOLDER_SERVICE} instance`,
        conditionAbsent: {
          filter: metricFilter(BUILTIN.runInstanceCount, CLOUD_RUN_REVISION, HOLDER_CLAUSE),
          aggregations: [{ alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_MAX', crossSeriesReducer: 'REDUCE_SUM' }],
          duration: `${HOLDER_DOWN_MINUTES * 60}s`,
          trigger: { count: 1 },
        },
      },
      ch,
    ),
    policy(
      ALERT_NAMES.reconnectStorm,
      'WARNING',
      `The holder's Bybit stream reconnected more than ${RECONNECT_STORM} times in 10 minutes. Each reconnect backfills the missed minutes from REST, ` +
        'but a storm means the connection is unstable (Bybit incident, network, the instance starved of CPU). Check the holder logs ' +
        '(event="holder_disconnected" reasons) and Bybit status; if it persists, restart the holder revision.',
      counterAbove('reconnects / 10 min > threshold', METRIC.holderReconnects, '600s', RECONNECT_STORM),
      ch,
    ),
    policy(
      ALERT_NAMES.dataStale,
      'WARNING',
      'A symbol has had no new candle for longer than dataQuality.staleAfterMs (health-check counts the stale symbols each minute; Telegram gets a ' +
        'data_stale alert per symbol). Look at the holder (Bybit) or kraken-pull (Kraken) for that symbol. The alert closes when no symbol is stale.',
      {
        displayName: 'stale symbols > 0 for 2 min',
        conditionThreshold: {
          filter: metricFilter(logMetricType(METRIC.staleSymbols), CLOUD_RUN_REVISION),
          aggregations: [{ alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_DELTA', crossSeriesReducer: 'REDUCE_MEAN' }],
          comparison: 'COMPARISON_GT',
          thresholdValue: 0,
          duration: '120s',
          trigger: { count: 1 },
          evaluationMissingData: 'EVALUATION_MISSING_DATA_INACTIVE',
        },
      },
      ch,
    ),
    policy(
      ALERT_NAMES.deadLetters,
      'ERROR',
      'Messages are waiting on a dead-letter topic: a function refused them for good or failed every delivery attempt. ' +
        'Find the reason in Error Reporting (a function logs its last failed attempt as an ERROR with the stack), fix, then replay the DLQ ' +
        '(README runbook: replay the DLQ). The alert clears when the retention subscription is empty.',
      {
        displayName: 'undelivered messages on a DLQ retention subscription > 0',
        conditionThreshold: {
          filter: metricFilter(BUILTIN.subscriptionUndelivered, 'resource.type="pubsub_subscription"', `resource.labels.subscription_id=${oneOf(deadLetterRetentionSubscriptions())}`),
          aggregations: [{ alignmentPeriod: '60s', perSeriesAligner: 'ALIGN_MAX', crossSeriesReducer: 'REDUCE_MAX', groupByFields: ['resource.labels.subscription_id'] }],
          comparison: 'COMPARISON_GT',
          thresholdValue: 0,
          duration: '0s',
          trigger: { count: 1 },
        },
      },
      ch,
    ),
    policy(
      ALERT_NAMES.drawdown,
      'CRITICAL',
      `The trading account's marked equity is ${dd} % or more below today's peak (UTC day; protections.accountGuards.dailyDrawdownAlertPct). ` +
        'The daily loss halt stops new trades at dailyLossHaltPct; to stop earlier, pause trading (Telegram /pause). Review open positions on the dashboard.',
      {
        displayName: `daily drawdown >= ${dd} %`,
        conditionThreshold: {
          filter: metricFilter(logMetricType(METRIC.dailyDrawdownPct), CLOUD_RUN_REVISION),
          aggregations: [{ alignmentPeriod: '120s', perSeriesAligner: 'ALIGN_DELTA', crossSeriesReducer: 'REDUCE_MEAN' }],
          comparison: 'COMPARISON_GE',
          thresholdValue: dd,
          duration: '0s',
          trigger: { count: 1 },
          evaluationMissingData: 'EVALUATION_MISSING_DATA_INACTIVE',
        },
      },
      ch,
    ),
  ];
}
