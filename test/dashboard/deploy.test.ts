/**
 * The dashboard is registered once (infra/runtime/registry.ts) and deployed from there: a public HTTP
 * Cloud Function (no Google sign-in: the app authenticates every API request), loaded by the cloud
 * entry under its FUNCTION_TARGET, followed by the step that prints its URL for config/telegram.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deployPlan, PUBLIC_SERVICE_MAX_INSTANCES } from '../../scripts/deploy.js';
import { CLOUD_FUNCTIONS, DASHBOARD_FUNCTION, PUBLIC_CLOUD_FUNCTIONS } from '../../infra/runtime/registry.js';
import { FUNCTION_NAME } from '../../shared/pipeline/dashboard.js';

describe('dashboard deploy registration', () => {
  const lines = deployPlan({ project: 'p1', region: 'europe-west1' }).map((s) => s.command.join(' '));

  it('is a registered public Cloud Function whose entry exists', () => {
    expect(DASHBOARD_FUNCTION).toBe(FUNCTION_NAME);
    expect(PUBLIC_CLOUD_FUNCTIONS.map((f) => f.name)).toEqual([DASHBOARD_FUNCTION]);
    expect(CLOUD_FUNCTIONS).toContain(DASHBOARD_FUNCTION);
    expect(existsSync(join(import.meta.dirname, '..', '..', 'functions', DASHBOARD_FUNCTION, 'index.ts'))).toBe(true);
  });

  it('deploys it once, HTTP-triggered and reachable without Google sign-in, then prints its URL', () => {
    const deploys = lines.filter((l) => l.startsWith(`gcloud functions deploy ${DASHBOARD_FUNCTION} `));
    expect(deploys).toHaveLength(1);
    expect(deploys[0]).toContain(`--entry-point=${DASHBOARD_FUNCTION} --trigger-http --allow-unauthenticated --max-instances=${PUBLIC_SERVICE_MAX_INSTANCES}`);
    expect(deploys[0]).toContain('--set-env-vars=CST_BACKEND=gcp,GOOGLE_CLOUD_PROJECT=p1');
    const url = lines.findIndex((l) => l.includes(`gcloud functions describe ${DASHBOARD_FUNCTION} --gen2 --region=europe-west1 --project=p1`));
    expect(url).toBeGreaterThan(lines.indexOf(deploys[0]!));
  });
});
