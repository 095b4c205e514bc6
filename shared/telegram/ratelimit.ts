/**
 * Telegram's sending limits (SPEC 9) as a pure, clock-free scheduler: about one message per second per
 * chat, `perGroupMax` per `perGroupWindowMs` per group (chat id < 0), `globalMax` per
 * `globalWindowMs` overall, and a per-chat (or global) block after a 429 until `retry_after` has passed.
 *
 * `earliest(chat, now, weight)` says when a send of `weight` messages (an album of n photos counts n)
 * may go; `record` books it. The state can be snapshotted to JSON and restored, so the next drain run
 * (another instance, after a restart) continues inside the same windows.
 */
import type { TelegramConfig } from '../config/telegram.js';

type Limits = TelegramConfig['limits'];

/** Chat id used for calls that belong to no chat (answerCallbackQuery, setWebhook). */
export const NO_CHAT = 0;

export interface LimiterSnapshot {
  [k: string]: unknown;
  lastByChat: Record<string, number>;
  groupSends: Record<string, number[]>;
  global: number[];
  blocks: Record<string, number>;
}

function isGroupChat(chatId: number): boolean {
  return chatId < 0;
}

export class RateLimiter {
  private lastByChat = new Map<number, number>();
  private groupSends = new Map<number, number[]>();
  private global: number[] = [];
  /** chat -> blocked until; key NO_CHAT = every chat. */
  private blocks = new Map<number, number>();

  constructor(private readonly limits: Limits) {}

  /** Earliest time at which `weight` messages may be sent to `chatId`. */
  earliest(chatId: number, now: number, weight = 1): number {
    const l = this.limits;
    let t = now;
    const allBlock = this.blocks.get(NO_CHAT);
    if (allBlock !== undefined) t = Math.max(t, allBlock);
    if (chatId !== NO_CHAT) {
      const block = this.blocks.get(chatId);
      if (block !== undefined) t = Math.max(t, block);
      const last = this.lastByChat.get(chatId);
      if (last !== undefined) t = Math.max(t, last + l.perChatIntervalMs);
      if (isGroupChat(chatId)) t = Math.max(t, windowSlot(this.groupSends.get(chatId) ?? [], l.perGroupMax, l.perGroupWindowMs, weight, t));
    }
    return Math.max(t, windowSlot(this.global, l.globalMax, l.globalWindowMs, weight, t));
  }

  /** Books a send of `weight` messages at `t` (call right before the request goes out). */
  record(chatId: number, t: number, weight = 1): void {
    const l = this.limits;
    for (let i = 0; i < weight; i++) this.global.push(t);
    prune(this.global, t - l.globalWindowMs);
    if (chatId === NO_CHAT) return;
    // An album of n messages occupies the chat for n intervals.
    this.lastByChat.set(chatId, t + (weight - 1) * l.perChatIntervalMs);
    if (isGroupChat(chatId)) {
      const arr = this.groupSends.get(chatId) ?? [];
      for (let i = 0; i < weight; i++) arr.push(t);
      prune(arr, t - l.perGroupWindowMs);
      this.groupSends.set(chatId, arr);
    }
  }

  /** A 429 for `chatId` (NO_CHAT: for everything): nothing goes there before `until`. */
  block(chatId: number, until: number): void {
    this.blocks.set(chatId, Math.max(until, this.blocks.get(chatId) ?? 0));
  }

  snapshot(now: number): LimiterSnapshot {
    const l = this.limits;
    const lastByChat: Record<string, number> = {};
    for (const [c, t] of this.lastByChat) if (t + l.perChatIntervalMs > now) lastByChat[c] = t;
    const groupSends: Record<string, number[]> = {};
    for (const [c, arr] of this.groupSends) {
      const kept = arr.filter((t) => t > now - l.perGroupWindowMs);
      if (kept.length) groupSends[c] = kept;
    }
    const blocks: Record<string, number> = {};
    for (const [c, t] of this.blocks) if (t > now) blocks[c] = t;
    return { lastByChat, groupSends, global: this.global.filter((t) => t > now - l.globalWindowMs), blocks };
  }

  static restore(limits: Limits, snap: LimiterSnapshot | undefined | null): RateLimiter {
    const r = new RateLimiter(limits);
    if (!snap) return r;
    for (const [c, t] of Object.entries(snap.lastByChat ?? {})) r.lastByChat.set(Number(c), t);
    for (const [c, arr] of Object.entries(snap.groupSends ?? {})) r.groupSends.set(Number(c), [...arr].sort((a, b) => a - b));
    r.global = [...(snap.global ?? [])].sort((a, b) => a - b);
    for (const [c, t] of Object.entries(snap.blocks ?? {})) r.blocks.set(Number(c), t);
    return r;
  }
}

/** Drops entries at or before `cutoff` from a sorted array. */
function prune(arr: number[], cutoff: number): void {
  let k = 0;
  while (k < arr.length && (arr[k] as number) <= cutoff) k++;
  if (k) arr.splice(0, k);
}

/**
 * Earliest t' >= t such that the sliding window (t' - window, t'] holds at most max - weight earlier
 * sends: the send that must have left the window is the (len - (max - weight))-th oldest.
 */
function windowSlot(sends: readonly number[], max: number, windowMs: number, weight: number, t: number): number {
  const w = Math.min(weight, max);
  const live = sends.filter((s) => s > t - windowMs);
  const excess = live.length - (max - w);
  if (excess <= 0) return t;
  return Math.max(t, (live[excess - 1] as number) + windowMs);
}
