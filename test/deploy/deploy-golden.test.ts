/**
 * The dry-run plan of a sample project, pinned. After an intended change to the plan, regenerate with
 *   UPDATE_GOLDEN=1 npx vitest run test/deploy/deploy-golden.test.ts
 * and review the diff of test/deploy/golden/dry-run-sample.txt like code.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../scripts/deploy.js';
import { SECRET_NAMES, secretEnvVar } from '../../shared/ports/secrets.js';

const GOLDEN = join(import.meta.dirname, 'golden', 'dry-run-sample.txt');
const HEADER = '# `npm run deploy -- --project sample-proj --region europe-west1 --dry-run`, pinned by test/deploy/deploy-golden.test.ts.\n# Regenerate after an intended change: UPDATE_GOLDEN=1 npx vitest run test/deploy/deploy-golden.test.ts\n';
const ROOT = join(import.meta.dirname, '..', '..');

async function dryRun(env: NodeJS.ProcessEnv = {}): Promise<{ code: number; text: string }> {
  const lines: string[] = [];
  const code = await main(['--project', 'sample-proj', '--region', 'europe-west1', '--dry-run'], {
    root: ROOT,
    env,
    out: (l) => lines.push(l),
    err: (l) => lines.push(l),
    runner: { run: () => Promise.reject(new Error('the dry run must not run anything')) },
    stage: () => Promise.reject(new Error('the dry run must not stage')),
    scheduler: () => Promise.reject(new Error('the dry run must not contact Cloud Scheduler')),
    monitoring: () => Promise.reject(new Error('the dry run must not contact Cloud Monitoring')),
  });
  return { code, text: lines.join('\n') + '\n' };
}

describe('deploy --dry-run', () => {
  it('prints the pinned plan for a sample project and contacts nothing', async () => {
    const { code, text } = await dryRun();
    expect(code).toBe(0);
    if (process.env.UPDATE_GOLDEN === '1' || !existsSync(GOLDEN)) writeFileSync(GOLDEN, HEADER + text);
    expect(HEADER + text).toBe(readFileSync(GOLDEN, 'utf8'));
  });

  it('never prints a secret value, even when the values are in the environment', async () => {
    const env = Object.fromEntries(SECRET_NAMES.map((n, i) => [secretEnvVar(n), `golden-secret-value-${i}`]));
    const { text } = await dryRun(env);
    for (const v of Object.values(env)) expect(text).not.toContain(v);
  });
});

describe('deploy CLI arguments', () => {
  async function cli(argv: string[]): Promise<{ code: number; text: string }> {
    const lines: string[] = [];
    const code = await main(argv, { root: ROOT, env: {}, out: (l) => lines.push(l), err: (l) => lines.push(l) });
    return { code, text: lines.join('\n') };
  }

  it('--help names every secret variable and the rotate option; a missing project or an unknown secret is a usage error', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    for (const n of SECRET_NAMES) expect(help.text).toContain(secretEnvVar(n));
    expect(help.text).toContain('--rotate-secret');
    expect((await cli(['--dry-run'])).code).toBe(2);
    const bad = await cli(['--project', 'p', '--rotate-secret', 'not-a-secret']);
    expect(bad.code).toBe(2);
    expect(bad.text).toContain('--rotate-secret not-a-secret: not a secret of the system');
  });
});
