/**
 * Log-based metrics (Cloud Logging `LogMetric`, REST JSON shape), created / updated by the deploy with
 * `gcloud logging metrics create|update NAME --config-from-file=FILE` after a describe.
 *
 * CONTRACT (issue 13): the list is filled by the observability work.
 */
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

export const LOG_METRICS: readonly LogMetricSpec[] = [];
