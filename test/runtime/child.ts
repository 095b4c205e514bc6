/** Runs `scripts/start.ts` (what `npm start` runs) as a child process and watches its output. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

export const REPO = join(import.meta.dirname, '..', '..');
export const REPLAY_DIR = join(REPO, 'test', 'fixtures', 'replay');

export interface StartChild {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `re` in stdout; rejects when the child exits first or after `ms`. */
  waitFor(re: RegExp, ms: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (null when killed) and signal; rejects after `ms` (the child is then killed). */
  exited(ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startChild(args: string[], env: Record<string, string> = {}): StartChild {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'scripts', 'start.ts'), ...args], {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const watchers = new Set<() => void>();
  proc.stdout!.setEncoding('utf8');
  proc.stderr!.setEncoding('utf8');
  proc.stdout!.on('data', (d: string) => {
    out += d;
    for (const w of watchers) w();
  });
  proc.stderr!.on('data', (d: string) => void (err += d));
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitWaiters: Array<() => void> = [];
  proc.on('exit', (code, signal) => {
    exit = { code, signal };
    for (const w of [...exitWaiters, ...watchers]) w();
  });
  return {
    proc,
    stdout: () => out,
    stderr: () => err,
    waitFor(re, ms) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => done(new Error(`no ${re} in the child's stdout within ${ms} ms:\n${out}\n${err}`)), ms);
        const check = () => {
          const m = out.match(re);
          if (m) done(undefined, m);
          else if (exit) done(new Error(`child exited (${JSON.stringify(exit)}) before printing ${re}:\n${out}\n${err}`));
        };
        const done = (e: Error | undefined, m?: RegExpMatchArray) => {
          clearTimeout(timer);
          watchers.delete(check);
          if (e) reject(e);
          else resolve(m!);
        };
        watchers.add(check);
        check();
      });
    },
    exited(ms) {
      return new Promise((resolve, reject) => {
        if (exit) return resolve(exit);
        const timer = setTimeout(() => {
          proc.kill('SIGKILL');
          reject(new Error(`child still running after ${ms} ms:\n${out}\n${err}`));
        }, ms);
        exitWaiters.push(() => {
          clearTimeout(timer);
          resolve(exit!);
        });
      });
    },
  };
}

/** `functions at http://127.0.0.1:PORT` from the start banner. */
export const FUNCTIONS_URL = /functions at (http:\/\/127\.0\.0\.1:\d+)/;
export const SUMMARY = /Replay on the embedded backend: .+\n/;
