/**
 * Telegram HTML parse mode (SPEC 9): every dynamic value goes through `escapeHtml` (only `<`, `>` and
 * `&` are special there; `"` is escaped too so values are safe inside attributes). Number formatting
 * for messages lives here as well.
 */

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"]/g, (c) => HTML_ESCAPES[c] as string);
}

/** Tagged template: interpolated values are escaped, the literal parts are trusted markup. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): string {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += escapeHtml(String(values[i])) + (strings[i + 1] ?? '');
  return out;
}

/** Telegram's limits: 4096 characters per message, 1024 per caption. */
export const MAX_MESSAGE_CHARS = 4096;
export const MAX_CAPTION_CHARS = 1024;

/** Cuts text to `max` characters without leaving a broken tag or entity at the cut. */
export function truncateHtml(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = text.slice(0, max - 1);
  const lt = cut.lastIndexOf('<');
  if (lt > cut.lastIndexOf('>')) cut = cut.slice(0, lt);
  const amp = cut.lastIndexOf('&');
  if (amp > cut.lastIndexOf(';')) cut = cut.slice(0, amp);
  // Close tags left open by the cut.
  const open: string[] = [];
  for (const m of cut.matchAll(/<(\/?)([a-z]+)[^>]*>/g)) {
    if (m[1]) open.pop();
    else open.push(m[2] as string);
  }
  return cut + '…' + open.reverse().map((t) => `</${t}>`).join('');
}

/** Price with decimals suited to its size (BTC 2, SOL 3, DOGE 5). */
export function fmtPrice(p: number): string {
  const abs = Math.abs(p);
  const decimals = abs >= 1000 ? 2 : abs >= 100 ? 2 : abs >= 1 ? 3 : abs >= 0.01 ? 5 : 8;
  return p.toFixed(decimals);
}

export function fmtPct(p: number, decimals = 2): string {
  const s = p.toFixed(decimals);
  return p > 0 ? `+${s}%` : `${s === `-${(0).toFixed(decimals)}` ? (0).toFixed(decimals) : s}%`;
}

export function fmtUsd(v: number): string {
  const sign = v < 0 ? '-' : v > 0 ? '+' : '';
  return `${sign}$${Math.abs(v).toFixed(2)}`;
}

export function fmtUsdPlain(v: number): string {
  return `$${v.toFixed(2)}`;
}

/** Duration as `2h 05m` / `3d 4h` / `45s`. */
export function fmtDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

/** `2025-06-22 12:00 UTC`. */
export function fmtTimeUtc(t: number): string {
  return new Date(t).toISOString().slice(0, 16).replace('T', ' ') + ' UTC';
}

/** Local time in a zone: `Jun 22 05:00 PDT`. */
export function fmtTimeIn(t: number, timeZone: string): string {
  return new Intl.DateTimeFormat('en-US', {
    timeZone,
    month: 'short',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    hour12: false,
    timeZoneName: 'short',
  }).format(new Date(t));
}
