/**
 * A function's root on Google Cloud makes no BigQuery call at start: the deploy owns the dataset and
 * its tables, and most functions have no BigQuery role (infra/deploy/access.ts), so a schema check
 * there would fail every cold start of the notifier, the webhook, the holder... with a 403.
 */
import { describe, expect, it, vi } from 'vitest';
import { buildRoot } from '../../infra/runtime/root.js';
import { BigQueryWarehouse } from '../../infra/warehouse/bigquery.js';
import { createLogger } from '../../shared/log.js';

describe('the gcp root', () => {
  it('builds without touching BigQuery', async () => {
    const ensure = vi.spyOn(BigQueryWarehouse.prototype, 'ensureSchema').mockRejectedValue(new Error('403 Access Denied: bigquery.datasets.get'));
    try {
      const root = await buildRoot({ backend: 'gcp', env: { GOOGLE_CLOUD_PROJECT: 'p1' }, log: createLogger({}, { sink: () => {} }) });
      expect(ensure).not.toHaveBeenCalled();
      expect(root.warehouse).toBeInstanceOf(BigQueryWarehouse);
      await root.close();
    } finally {
      ensure.mockRestore();
    }
  });
});
