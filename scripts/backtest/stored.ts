/** The state file of the backtest subcommands that store or read runs (--store, show, compare). */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fail } from '../cli.js';
import type { StateStore } from '../../shared/ports/state.js';

/** --state FILE, else the embedded runtime's store: $CST_DATA_DIR (default .data)/live/state.sqlite. */
export function stateFileOf(arg: string | undefined): string {
  return arg ? resolve(arg) : join(resolve(process.env.CST_DATA_DIR ?? '.data'), 'live', 'state.sqlite');
}

/** Opens the state file to write (creating its folder). */
export async function openStateForWrite(file: string): Promise<StateStore & { close(): Promise<void> }> {
  const { SqliteStateStore } = await import('../../infra/state/sqlite.js');
  mkdirSync(resolve(file, '..'), { recursive: true });
  return new SqliteStateStore({ file });
}

/** Opens an existing state file to read stored runs (a missing file is a usage error, not a new empty store). */
export async function openStateForRead(file: string): Promise<StateStore & { close(): Promise<void> }> {
  if (!existsSync(file)) fail(`no state file ${file}: store a run first (npm run backtest -- ... --store [--state FILE]) or give --state FILE`);
  const { SqliteStateStore } = await import('../../infra/state/sqlite.js');
  return new SqliteStateStore({ file });
}
