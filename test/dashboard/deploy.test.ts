/**
 * The dashboard is registered once (infra/runtime/registry.ts) and deployed from there: a public HTTP
 * Cloud Function (no Google sign-in: the app authenticates every API request), loaded by the cloud
 * entry under its FUNCTION_TARGET; the deploy learns its URL (for config/telegram dashboard.publicUrl).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { deployPlan, PUBLIC_SERVICE_MAX_INSTANCES } from '../../infra/deploy/plan.js';
import type { CommandResource } from '../../infra/deploy/resources.js';
import { CLOUD_FUNCTIONS, DASHBOARD_FUNCTION, PUBLIC_CLOUD_FUNCTIONS } from '../../infra/runtime/registry.js';
import { FUNCTION_NAME } from '../../shared/pipeline/dashboard.js';

describe('dashboard deploy registration', () => {
  const plan = deployPlan({ project: 'p1', region: 'europe-west1', source: { dir: '.deploy/functions', hash: 'a'.repeat(64) }, holderTag: 't', firestoreHash: 'b'.repeat(64), logMetrics: [] });

  it('is a registered public Cloud Function whose entry exists', () => {
    expect(DASHBOARD_FUNCTION).toBe(FUNCTION_NAME);
    expect(PUBLIC_CLOUD_FUNCTIONS.map((f) => f.name)).toEqual([DASHBOARD_FUNCTION]);
    expect(CLOUD_FUNCTIONS).toContain(DASHBOARD_FUNCTION);
    expect(existsSync(join(import.meta.dirname, '..', '..', 'functions', DASHBOARD_FUNCTION, 'index.ts'))).toBe(true);
  });

  it('deploys it once, HTTP-triggered and reachable without Google sign-in, and learns its URL', () => {
    const deploys = plan.filter((r): r is CommandResource => r.type === 'command' && r.kind === 'function' && r.name === DASHBOARD_FUNCTION);
    expect(deploys).toHaveLength(1);
    const line = deploys[0]!.create![0]!.argv.join(' ');
    expect(line).toContain(`--entry-point=${DASHBOARD_FUNCTION} --trigger-http --allow-unauthenticated --max-instances=${PUBLIC_SERVICE_MAX_INSTANCES}`);
    expect(line).toContain('--set-env-vars=CST_BACKEND=gcp,GOOGLE_CLOUD_PROJECT=p1,NODE_OPTIONS=--enable-source-maps');
    expect(deploys[0]!.facts!({ serviceConfig: { uri: 'https://dashboard-x.run.app' } })).toEqual({ [`url:${DASHBOARD_FUNCTION}`]: 'https://dashboard-x.run.app' });
    // No invoker-only gate on it.
    expect(plan.some((r) => r.kind === 'run-invoker' && r.name === DASHBOARD_FUNCTION)).toBe(false);
  });
});
