/**
 * Command parsing (SPEC 9): `/stats 24h`, `/last 5`, `/equity 7d`, `/analyze SOL`, `/verify 123456`,
 * `/mute SOL 6h`... Pure functions; handlers validate arguments with these and answer with a usage
 * line on bad input.
 */

const COMMANDS = [
  'start',
  'help',
  'invite',
  'verify',
  'allowgroup',
  'stats',
  'last',
  'equity',
  'positions',
  'config',
  'pause',
  'resume',
  'mute',
  'unmute',
  'status',
  'analyze',
  'mode',
  'suggestions',
  'models',
  'shadow',
  'dashboard',
] as const;
type CommandName = (typeof COMMANDS)[number];

export interface ParsedCommand {
  name: CommandName;
  args: string[];
}

type CommandParse =
  | { kind: 'command'; command: ParsedCommand }
  | { kind: 'unknown'; name: string }
  /** `/cmd@OtherBot` in a group: not for us, ignore silently. */
  | { kind: 'other_bot' }
  | { kind: 'not_command' };

/** Parses a message text. `botUsername` (without @) lets `/stats@MyBot` through and ignores other bots. */
export function parseCommand(text: string | undefined, botUsername?: string): CommandParse {
  if (!text) return { kind: 'not_command' };
  const trimmed = text.trim();
  const m = /^\/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]{3,64}))?(?:\s+([\s\S]*))?$/.exec(trimmed);
  if (!m) return { kind: 'not_command' };
  const name = (m[1] as string).toLowerCase();
  const target = m[2];
  if (target && botUsername && target.toLowerCase() !== botUsername.toLowerCase()) return { kind: 'other_bot' };
  const args = (m[3] ?? '').split(/\s+/).filter((a) => a.length > 0);
  if (!(COMMANDS as readonly string[]).includes(name)) return { kind: 'unknown', name };
  return { kind: 'command', command: { name: name as CommandName, args } };
}

const UNIT_MS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** Longest period a command accepts (a year). */
const MAX_PERIOD_MS = 366 * 86_400_000;

interface Period {
  label: string;
  ms: number;
}

/** `24h`, `7d`, `2w`, `90m`, `all` (= MAX_PERIOD_MS). Returns null for anything else. */
export function parsePeriod(arg: string | undefined, fallback: string): Period | null {
  const raw = (arg ?? fallback).trim().toLowerCase();
  if (raw === 'all') return { label: 'all', ms: MAX_PERIOD_MS };
  const m = /^(\d{1,4})([mhdw])$/.exec(raw);
  if (!m) return null;
  const n = Number(m[1]);
  const ms = n * (UNIT_MS[m[2] as string] as number);
  if (n <= 0 || ms > MAX_PERIOD_MS) return null;
  return { label: raw, ms };
}

/** A positive integer within [1, max]; `fallback` when absent; null when invalid. */
export function parseCount(arg: string | undefined, fallback: number, max: number): number | null {
  if (arg === undefined) return fallback;
  if (!/^\d{1,3}$/.test(arg)) return null;
  const n = Number(arg);
  return n >= 1 && n <= max ? n : null;
}

/** `SOL`, `sol`, `SOLUSDT`, `SOL/USDT` -> `SOLUSDT` when it is one of `known`; else null. */
export function parseSymbol(arg: string | undefined, known: readonly string[]): string | null {
  if (!arg) return null;
  const s = arg.toUpperCase().replace(/[^A-Z0-9]/g, '');
  if (!s) return null;
  const candidates = s.endsWith('USDT') ? [s] : [`${s}USDT`, s];
  for (const c of candidates) if (known.includes(c)) return c;
  return null;
}

/** `/verify 123 456` and `/verify 123456` both give `123456`; anything but 6 digits is null. */
export function parseVerifyCode(args: readonly string[], digits: number): string | null {
  const joined = args.join('');
  return new RegExp(`^\\d{${digits}}$`).test(joined) ? joined : null;
}
