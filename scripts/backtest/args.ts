/** Argument helpers shared by the backtest subcommands: durations, JSON-or-string values, KEY=VALUE, progress bars. */
import cliProgress from 'cli-progress';
import { fail } from '../cli.js';
import { INTERVAL_MS } from '../../shared/model/market.js';
import type { ConfigValue } from '../../shared/backtest/config.js';

export const HOUR = INTERVAL_MS['1h'];

/** `7d`, `72h`, `90m` -> ms. */
export function parseDuration(s: string, name: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(m|h|d)$/i.exec(s.trim());
  if (!m) fail(`${name}: '${s}' is not a duration like 90m, 72h or 7d`);
  const unit = { m: 60_000, h: HOUR, d: 24 * HOUR }[(m[2] as string).toLowerCase() as 'm' | 'h' | 'd'];
  return Math.round(Number(m[1]) * unit);
}

export function parseValue(raw: string): ConfigValue {
  try {
    return JSON.parse(raw) as ConfigValue;
  } catch {
    return raw;
  }
}

export function parseAssignment(s: string, flag: string): [string, string] {
  const k = s.indexOf('=');
  if (k <= 0) fail(`${flag} needs KEY=VALUE (got '${s}')`);
  return [s.slice(0, k).trim(), s.slice(k + 1).trim()];
}

export function progressBar(label: string, unit: string): { update: (done: number, total: number) => void; stop: () => void } {
  const bar = new cliProgress.SingleBar(
    { format: `${label} [{bar}] {percentage}% | {value}/{total} ${unit} | eta {eta_formatted}`, stream: process.stderr, hideCursor: true, noTTYOutput: true, notTTYSchedule: 10_000 },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done, total) {
      if (!started) {
        bar.start(total, 0);
        started = true;
      }
      bar.update(done);
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
