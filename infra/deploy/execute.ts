/**
 * Runs the deploy plan (infra/deploy/plan.ts): for each resource, describe; create when NOT_FOUND;
 * update only when the described JSON differs from the desired state; else leave it. One line per
 * resource (create / update / delete / unchanged) and a summary. Stops at the first failure with what
 * to do. Commands go through a CommandRunner port (the real one spawns without a shell); secret values
 * go to a command's stdin only, never to argv or to the output.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { secretEnvVar, type SecretName } from '../../shared/ports/secrets.js';
import { FILE_ARG, type Action, type ApiResource, type Command, type CommandResource, type Resource } from './resources.js';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs one argv (no shell); `stdin` is written to the process's stdin. */
export interface CommandRunner {
  run(argv: readonly string[], o?: { stdin?: string }): Promise<RunResult>;
}

export function spawnRunner(env: NodeJS.ProcessEnv = process.env, cwd?: string): CommandRunner {
  return {
    run: (argv, o) =>
      new Promise((resolve) => {
        const child = spawn(argv[0]!, argv.slice(1), { env, shell: false, stdio: ['pipe', 'pipe', 'pipe'], ...(cwd ? { cwd } : {}) });
        let stdout = '';
        let stderr = '';
        child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
        child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
        child.on('error', (e) => resolve({ code: 127, stdout, stderr: stderr + `cannot run ${argv[0]}: ${e.message}` }));
        child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
        child.stdin.on('error', () => undefined);
        child.stdin.end(o?.stdin ?? '');
      }),
  };
}

/** What a describe prints when the thing is missing (gcloud NOT_FOUND, bq "Not found", Cloud Run "Cannot find"). */
const NOT_FOUND = /NOT_FOUND|not found|cannot find|does not exist/i;

/** One line of an API-managed resource's outcome. */
export interface ApiAction {
  action: Action;
  kind: string;
  name: string;
  detail?: string;
}

/** Applies an API-managed resource; facts are what the run learned (the service URLs). */
export type ApiHandlers = Record<ApiResource['kind'], (facts: Readonly<Record<string, string>>) => Promise<ApiAction[]>>;

export interface ExecuteDeps {
  runner: CommandRunner;
  out: (line: string) => void;
  /** A secret's value for a new version (environment or prompt); undefined when there is none. */
  secretValue: (name: SecretName) => Promise<string | undefined>;
  api: ApiHandlers;
  /** How to rerun, for the failure message. */
  rerun: string;
}

export class DeployError extends Error {}

export interface ExecuteReport {
  counts: Record<Action, number>;
  facts: Record<string, string>;
}

/** An argv for display: arguments with spaces or quotes are single-quoted. */
export function showArgv(argv: readonly string[]): string {
  return argv.map((a) => (/[\s'"$`\\]/.test(a) || a === '' ? `'${a.replace(/'/g, `'\\''`)}'` : a)).join(' ');
}

function resolveFacts(argv: readonly string[], facts: Readonly<Record<string, string>>): string[] {
  return argv.map((a) =>
    a.replace(/\{\{([^}]+)\}\}/g, (_m, k: string) => {
      const v = facts[k];
      if (!v) throw new DeployError(`internal: ${k} is not known yet when running ${showArgv(argv)}`);
      return v;
    }),
  );
}

function tail(s: string, lines = 6): string {
  return s.trim().split('\n').slice(-lines).join('\n');
}

export async function executePlan(plan: readonly Resource[], d: ExecuteDeps): Promise<ExecuteReport> {
  const counts: Record<Action, number> = { create: 0, update: 0, delete: 0, unchanged: 0 };
  const facts: Record<string, string> = {};
  const tmp = mkdtempSync(join(tmpdir(), 'cst-deploy-'));
  const fail = (r: { kind: string; name: string }, why: string): never => {
    throw new DeployError(`deploy stopped at ${r.kind} ${r.name}: ${why}\nFix that and run again (${d.rerun}): every step checks what exists first.`);
  };
  const run = async (r: CommandResource, c: Command): Promise<RunResult> => {
    const argv = resolveFacts(c.argv, facts);
    let file: string | undefined;
    if (c.file !== undefined) {
      file = join(tmp, `f${Math.random().toString(36).slice(2)}.json`);
      writeFileSync(file, c.file, { mode: 0o600 });
    }
    let stdin: string | undefined;
    if (c.stdinSecret) {
      stdin = await d.secretValue(c.stdinSecret);
      if (stdin === undefined && c.skipWithoutSecret) {
        d.out(`skipped   ${r.kind} ${r.name} (no value: ${c.skipWithoutSecret}; set ${secretEnvVar(c.stdinSecret)} and run again to add it)`);
        return { code: 0, stdout: '', stderr: '' };
      }
      if (stdin === undefined) {
        fail(r, `no value for the secret ${c.stdinSecret}: set ${secretEnvVar(c.stdinSecret)} in the environment, or run on a terminal to be prompted`);
      }
    }
    try {
      return await d.runner.run(
        argv.map((a) => (a === FILE_ARG || a.endsWith(`=${FILE_ARG}`) ? a.replace(FILE_ARG, file!) : a)),
        stdin !== undefined ? { stdin } : {},
      );
    } finally {
      if (file) rmSync(file, { force: true });
    }
  };
  const must = async (r: CommandResource, c: Command): Promise<void> => {
    const res = await run(r, c);
    if (res.code !== 0) fail(r, `\`${showArgv(resolveFacts(c.argv, facts))}\` exited ${res.code}:\n${tail(res.stderr)}`);
  };
  const describe = async (r: CommandResource): Promise<unknown | undefined> => {
    const res = await run(r, r.describe);
    if (res.code === 0) {
      try {
        return JSON.parse(res.stdout || 'null') as unknown;
      } catch {
        return fail(r, `\`${showArgv(r.describe.argv)}\` printed no JSON`);
      }
    }
    // gcloud says it on stderr; bq prints its errors on stdout (and leaves stderr empty)
    if (NOT_FOUND.test(res.stderr) || NOT_FOUND.test(res.stdout)) return undefined;
    return fail(r, `\`${showArgv(resolveFacts(r.describe.argv, facts))}\` exited ${res.code}:\n${tail(res.stderr)}`);
  };
  const fact = (s: string): string => resolveFacts([s], facts)[0]!;
  const learn = (r: CommandResource, cur: unknown) => {
    if (r.facts) Object.assign(facts, r.facts(cur));
  };
  try {
    for (const r of plan) {
      if (r.type === 'api') {
        let actions: ApiAction[];
        try {
          actions = await d.api[r.kind](facts);
        } catch (e) {
          return fail(r, (e as Error).message);
        }
        for (const a of actions) {
          counts[a.action]++;
          d.out(`${a.action.padEnd(9)} ${a.kind} ${a.name}${a.detail ? ` (${a.detail})` : ''}`);
        }
        continue;
      }
      let action: Action = 'unchanged';
      let detail: string[] = [];
      const cur = await describe(r);
      if (cur === undefined) {
        if (r.removeWhenFound) {
          action = 'unchanged';
        } else {
          if (!r.create) fail(r, r.missing ?? 'it does not exist and this deploy does not create it');
          for (const c of r.create!) await must(r, c);
          action = 'create';
          if (r.updateAfterCreate && r.update) {
            const diff = r.update(await describe(r), fact);
            for (const c of diff.commands) await must(r, c);
            detail = diff.changes;
          }
          if (r.facts) learn(r, await describe(r));
        }
      } else if (r.removeWhenFound) {
        for (const c of r.removeWhenFound) await must(r, c);
        action = 'delete';
      } else {
        const diff = r.update?.(cur, fact);
        if (diff && diff.changes.length > 0) {
          for (const c of diff.commands) await must(r, c);
          action = 'update';
          detail = diff.changes;
          if (r.facts) learn(r, await describe(r));
        } else {
          learn(r, cur);
        }
      }
      counts[action]++;
      d.out(`${action.padEnd(9)} ${r.kind} ${r.name}${detail.length ? ` (${detail.join('; ')})` : ''}`);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  d.out(`deploy: ${counts.create} created, ${counts.update} updated, ${counts.delete} deleted, ${counts.unchanged} unchanged`);
  return { counts, facts };
}

/** The plan as text, for --dry-run: contacts nothing. */
export function formatPlan(plan: readonly Resource[], apiLines: (r: ApiResource) => string[]): string {
  const lines: string[] = [];
  plan.forEach((r, n) => {
    lines.push(`${String(n + 1).padStart(3)}. ${r.kind} ${r.name}: ${r.what}`);
    if (r.type === 'api') {
      for (const l of apiLines(r)) lines.push(`       ${l}`);
      return;
    }
    lines.push(`       describe  ${showArgv(r.describe.argv)}`);
    for (const c of r.create ?? []) lines.push(`       create    ${showArgv(c.argv)}${c.stdinSecret ? `  < value of ${c.stdinSecret}` : ''}`);
    for (const c of r.removeWhenFound ?? []) lines.push(`       if found  ${showArgv(c.argv)}`);
    for (const w of r.desired ?? []) lines.push(`       want      ${w}`);
  });
  return lines.join('\n') + '\n';
}
