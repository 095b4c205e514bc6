/** The deploy executor on a scripted CommandRunner: what it runs, what it prints, where it stops. */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { executePlan, type CommandRunner, type RunResult } from '../../infra/deploy/execute.js';
import { FILE_ARG, type Resource } from '../../infra/deploy/resources.js';

function scripted(answers: (argv: readonly string[], stdin?: string) => RunResult) {
  const ran: Array<{ argv: string[]; stdin?: string }> = [];
  const runner: CommandRunner = {
    run: async (argv, o) => {
      ran.push({ argv: [...argv], ...(o?.stdin !== undefined ? { stdin: o.stdin } : {}) });
      return answers(argv, o?.stdin);
    },
  };
  return { runner, ran };
}
const ok = (json: unknown): RunResult => ({ code: 0, stdout: JSON.stringify(json), stderr: '' });
const notFound: RunResult = { code: 1, stdout: '', stderr: 'ERROR: (gcloud.x.describe) NOT_FOUND: Resource was not found' };
const noApi = { 'scheduler-jobs': async () => [], monitoring: async () => [], 'telegram-webhook': async () => [] };

const secretVersion: Resource = {
  type: 'command',
  kind: 'secret-version',
  name: 's1',
  what: 'value',
  describe: { argv: ['gcloud', 'secrets', 'versions', 'describe', 'latest', '--secret=telegram-bot-token'] },
  create: [{ argv: ['gcloud', 'secrets', 'versions', 'add', 'telegram-bot-token', '--data-file=-'], stdinSecret: 'telegram-bot-token' }],
};

describe('deploy executor', () => {
  it('stops at a describe that fails for another reason than NOT_FOUND, runs nothing after it, and says what to do', async () => {
    const { runner, ran } = scripted(() => ({ code: 1, stdout: '', stderr: 'ERROR: (gcloud.pubsub.topics.describe) PERMISSION_DENIED: User lacks pubsub.topics.get' }));
    const out: string[] = [];
    const plan: Resource[] = [
      { type: 'command', kind: 'topic', name: 't1', what: 'topic', describe: { argv: ['gcloud', 'pubsub', 'topics', 'describe', 't1'] }, create: [{ argv: ['gcloud', 'pubsub', 'topics', 'create', 't1'] }] },
      { type: 'command', kind: 'topic', name: 't2', what: 'topic', describe: { argv: ['gcloud', 'pubsub', 'topics', 'describe', 't2'] } },
    ];
    const run = executePlan(plan, { runner, out: (l) => out.push(l), secretValue: async () => undefined, api: noApi, rerun: 'npm run deploy -- --project p' });
    await expect(run).rejects.toThrow(/deploy stopped at topic t1: `gcloud pubsub topics describe t1` exited 1:\nERROR: .*PERMISSION_DENIED.*\nFix that and run again \(npm run deploy -- --project p\)/);
    expect(ran).toHaveLength(1);
  });

  it('passes a secret value on stdin only, and stops naming the variable when there is none', async () => {
    const { runner, ran } = scripted((argv) => (argv.includes('describe') ? notFound : ok({})));
    const out: string[] = [];
    await executePlan([secretVersion], { runner, out: (l) => out.push(l), secretValue: async () => 'v4lue', api: noApi, rerun: 'x' });
    expect(ran[1]).toEqual({ argv: ['gcloud', 'secrets', 'versions', 'add', 'telegram-bot-token', '--data-file=-'], stdin: 'v4lue' });
    expect(out.join('\n')).not.toContain('v4lue');
    expect(out[0]).toBe('create    secret-version s1');
    const again = scripted((argv) => (argv.includes('describe') ? notFound : ok({})));
    await expect(executePlan([secretVersion], { runner: again.runner, out: () => undefined, secretValue: async () => undefined, api: noApi, rerun: 'x' })).rejects.toThrow(
      'no value for the secret telegram-bot-token: set CST_TELEGRAM_BOT_TOKEN in the environment, or run on a terminal to be prompted',
    );
    expect(again.ran).toHaveLength(1);
  });

  it('deploys without the exchange keys: their versions are skipped, saying so, and the run goes on', async () => {
    const { deployPlan } = await import('../../infra/deploy/plan.js');
    const versions = deployPlan({ project: 'p1', region: 'us-central1', source: { dir: '.deploy/functions', hash: 'f'.repeat(64) }, holderTag: 'h-1', firestoreHash: 'x', logMetrics: [] }).filter(
      (r): r is Extract<Resource, { type: 'command' }> => r.type === 'command' && r.kind === 'secret-version',
    );
    const { runner, ran } = scripted((argv) => (argv.includes('describe') ? notFound : ok({})));
    const out: string[] = [];
    const values: Record<string, string> = { 'telegram-bot-token': 't0ken-value', 'telegram-webhook-secret': 'w3bhook-value' };
    await executePlan(versions, { runner, out: (l) => out.push(l), secretValue: async (n) => values[n], api: noApi, rerun: 'x' });
    const added = ran.filter((r) => r.argv.includes('add')).map((r) => r.argv[4]);
    expect(added).toEqual(['telegram-bot-token', 'telegram-webhook-secret']);
    expect(out.filter((l) => l.startsWith('skipped')).join('\n')).toMatch(/bybit-api-key \(no value: live trading stays unavailable; paper trading runs; set CST_BYBIT_API_KEY/);
  });

  it('writes a {file} argument to a temp file for the command and removes it after', async () => {
    let seen = '';
    let content = '';
    const { runner } = scripted((argv) => {
      if (argv.includes('describe')) return notFound;
      seen = argv.find((a) => a.startsWith('--config-from-file='))!.split('=')[1]!;
      content = readFileSync(seen, 'utf8');
      return ok({});
    });
    const plan: Resource[] = [
      {
        type: 'command',
        kind: 'log-metric',
        name: 'm',
        what: 'metric',
        describe: { argv: ['gcloud', 'logging', 'metrics', 'describe', 'm'] },
        create: [{ argv: ['gcloud', 'logging', 'metrics', 'create', 'm', `--config-from-file=${FILE_ARG}`], file: '{"name":"m"}' }],
      },
    ];
    await executePlan(plan, { runner, out: () => undefined, secretValue: async () => undefined, api: noApi, rerun: 'x' });
    expect(content).toBe('{"name":"m"}');
    expect(existsSync(seen)).toBe(false);
  });

  it('leaves alone what is as desired and updates only what differs', async () => {
    const want = { labels: { v: '2' } };
    const res = (live: unknown): Resource => ({
      type: 'command',
      kind: 'thing',
      name: 'a',
      what: 'a thing',
      describe: { argv: ['tool', 'describe', 'a'] },
      update: (cur) => {
        const same = JSON.stringify(cur) === JSON.stringify(want);
        return same ? { changes: [], commands: [] } : { changes: [`labels ${JSON.stringify(live)}`], commands: [{ argv: ['tool', 'update', 'a'] }] };
      },
    });
    for (const [live, expected] of [
      [want, ['tool describe a']],
      [{ labels: { v: '1' } }, ['tool describe a', 'tool update a']],
    ] as const) {
      const { runner, ran } = scripted(() => ok(live));
      const out: string[] = [];
      await executePlan([res(live)], { runner, out: (l) => out.push(l), secretValue: async () => undefined, api: noApi, rerun: 'x' });
      expect(ran.map((r) => r.argv.join(' '))).toEqual(expected);
      expect(out[0]!.split(' ')[0]).toBe(expected.length === 1 ? 'unchanged' : 'update');
    }
  });
});

describe('comparing described JSON', () => {
  it('ignores the order in which an API lists object keys', async () => {
    const { change } = await import('../../infra/deploy/resources.js');
    expect(change('labelExtractors', { b: '2', a: '1' }, { a: '1', b: '2' })).toEqual([]);
    expect(change('labelExtractors', { a: '1' }, { a: '2' })).toHaveLength(1);
    expect(change('maxDeliveryAttempts', 5, 5)).toEqual([]);
    expect(change('label', undefined, 'x')).toEqual(['label: "" -> "x"']);
  });
});
