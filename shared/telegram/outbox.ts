/**
 * The persisted outbox (SPEC 9): every outbound Telegram call is first written to state, then sent by
 * ONE drainer at a time within Telegram's limits.
 *
 *   tg_outbox/{id}   idempotency record per message key: { status: queued | sent | failed | skipped,
 *                    result }. `enqueue` creates it in the same transaction as the queue entry, so an
 *                    event replayed by the bus never queues (or sends) a message twice.
 *   tg_queue/{id}    the pending entries (deleted when done). Each carries its chat's sequence number
 *                    `chatSeq` and a sort time `sortAt` (>= enqueue time, strictly increasing per chat),
 *                    both allocated in the enqueue transaction from
 *   tg_chat_seq/{chatId}  the chat's next sequence number and last sort time.
 *                    The sender reads the queue by `sortAt` in pages; because a chat's `sortAt` values
 *                    are strictly increasing, every page prefix holds each chat's entries as a prefix of
 *                    its sequence, so each chat receives its messages in the order they were queued,
 *                    across pages, instances and restarts (no process-local counter, no text key).
 *   tg_files/{id}    PNG bytes of a queued photo (base64), deleted with the entry.
 *   tg_outbox_lock/drain  the drain lease plus the rate limiter's windows: a restarted (or another)
 *                    instance continues inside the same windows and never sends alongside a live drainer.
 *
 * A drained message is marked sent right after Telegram answers, so a restart resends nothing that
 * was confirmed and loses nothing that was queued. A 429 is waited out (`retry_after`, the chat is
 * blocked until then) and the same message is sent again, once. With a long queue, photos are shrunk.
 * Three or more queued photos of one cycle (`groupTag`) to one chat go out as media groups (<= 10).
 */
import type { Clock } from '../ports/clock.js';
import type { DocData, StateStore } from '../ports/state.js';
import { safeId } from '../ports/state.js';
import type { ChartRenderer } from '../ports/charts.js';
import {
  TelegramApiError,
  TelegramRateLimitError,
  type InlineKeyboard,
  type MediaItem,
  type PhotoFile,
  type SentMessage,
  type TelegramApi,
} from '../ports/telegram.js';
import type { TelegramConfig } from '../config/telegram.js';
import { LOG_EVENTS, type Logger } from '../log.js';
import { NO_CHAT, RateLimiter, type LimiterSnapshot } from './ratelimit.js';
import { keyboardForChat } from './keyboards.js';
import {
  alertRecordPath,
  chatSeqPath,
  editRankPath,
  forumTopicPath,
  OUTBOX_LOCK_DOC,
  outboxFilePath,
  outboxPath,
  queuePath,
  TG_QUEUE_COLLECTION,
} from '../state-paths.js';

export type OutboxOp =
  | { type: 'text'; text: string; keyboard?: InlineKeyboard | null }
  | { type: 'photo'; fileId: string; caption: string; keyboard?: InlineKeyboard | null }
  /** Edit the message sent for outbox key `originalKey` (an alert) in this chat. */
  | { type: 'edit'; originalKey: string; rank: number; text: string; fileId?: string | null; keyboard?: InlineKeyboard | null }
  /** Edit a known message (paging / refresh of a list the user is looking at). */
  | { type: 'edit_message'; messageId: number; text: string; keyboard?: InlineKeyboard | null }
  | { type: 'answer_callback'; callbackQueryId: string; text: string; showAlert?: boolean };

export interface EnqueueItem {
  /** Idempotency key: the same key is queued (and sent) once, ever. */
  key: string;
  chatId: number;
  op: OutboxOp;
  /** PNG for `photo` ops (and for `edit` ops that replace the chart). */
  photo?: PhotoFile;
  /** Photos sharing a tag (one signal cycle) to one chat may go as one album. */
  groupTag?: string | null;
  /** Post into this symbol's forum topic when the chat is a forum. */
  topicSymbol?: string | null;
  forum?: boolean;
  /** Reply inside this forum topic (a command sent from a topic). */
  threadId?: number | null;
  /** Earliest send time (gathering an album's siblings). */
  notBefore?: number;
  /** Trade-group alert record to note the sent message ids in (`tg_alerts/{alertKey}`). */
  alertKey?: string | null;
}

interface QueueDoc {
  key: string;
  id: string;
  chatId: number;
  op: OutboxOp;
  groupTag: string | null;
  topicSymbol: string | null;
  forum: boolean;
  threadId: number | null;
  notBefore: number;
  enqueuedAt: number;
  /** Position in the chat's sequence (0, 1, 2, ... per chat). */
  chatSeq: number;
  /** Sort key of the queue: >= enqueuedAt, strictly increasing within a chat. */
  sortAt: number;
  attempts: number;
  alertKey: string | null;
}

interface OutboxRecord {
  key: string;
  chatId: number;
  status: 'queued' | 'sent' | 'failed' | 'skipped';
  kind: OutboxOp['type'];
  messageIds: number[];
  /** How the message is shown (photo -> edits go to the caption / media). */
  shownAs: 'text' | 'photo' | null;
  threadId: number | null;
  enqueuedAt: number;
  doneAt: number | null;
  error: string | null;
}

interface LockDoc {
  holder: string;
  leaseUntil: number;
  limiter: LimiterSnapshot | null;
}

interface FileDoc {
  b64: string;
  filename: string;
}

const outboxId = (key: string) => safeId(key);

interface ChatSeqDoc {
  chatId: number;
  next: number;
  lastSortAt: number;
}

const asDoc = (x: unknown) => JSON.parse(JSON.stringify(x)) as DocData;

/** Queue order: by sort time, then (same chat) by sequence. */
const byQueueOrder = (a: QueueDoc, b: QueueDoc) => a.sortAt - b.sortAt || a.chatSeq - b.chatSeq || a.chatId - b.chatId;

export async function readOutboxRecord(state: StateStore, key: string): Promise<OutboxRecord | undefined> {
  return state.get<OutboxRecord>(outboxPath(key));
}

/**
 * Queues messages. Returns the keys actually queued (a key seen before is skipped: idempotent).
 * Each item is its own transaction (record + queue entry), written after its photo file.
 */
export async function enqueue(state: StateStore, items: EnqueueItem[], now: number): Promise<string[]> {
  const queued: string[] = [];
  for (const it of items) {
    const id = outboxId(it.key);
    if (await state.get(outboxPath(it.key))) continue;
    let op = it.op;
    if (it.photo) {
      const fid = `${id}.png`;
      await state.set(outboxFilePath(fid), { b64: it.photo.source.toString('base64'), filename: it.photo.filename });
      if (op.type === 'photo' || op.type === 'edit') op = { ...op, fileId: fid };
    }
    const q: QueueDoc = {
      key: it.key,
      id,
      chatId: it.chatId,
      op,
      groupTag: it.groupTag ?? null,
      topicSymbol: it.topicSymbol ?? null,
      forum: it.forum ?? false,
      threadId: it.threadId ?? null,
      notBefore: it.notBefore ?? now,
      enqueuedAt: now,
      chatSeq: 0,
      sortAt: now,
      attempts: 0,
      alertKey: it.alertKey ?? null,
    };
    const rec: OutboxRecord = {
      key: it.key,
      chatId: it.chatId,
      status: 'queued',
      kind: op.type,
      messageIds: [],
      shownAs: null,
      threadId: null,
      enqueuedAt: now,
      doneAt: null,
      error: null,
    };
    const created = await state.runTransaction(async (tx) => {
      if (await tx.get(outboxPath(it.key))) return false;
      const seq = await tx.get<ChatSeqDoc>(chatSeqPath(it.chatId));
      const chatSeq = seq?.next ?? 0;
      const sortAt = Math.max(now, (seq?.lastSortAt ?? -Infinity) + 1);
      tx.set(outboxPath(it.key), asDoc(rec));
      tx.set(queuePath(id), asDoc({ ...q, chatSeq, sortAt }));
      tx.set(chatSeqPath(it.chatId), asDoc({ chatId: it.chatId, next: chatSeq + 1, lastSortAt: sortAt } satisfies ChatSeqDoc));
      return true;
    });
    if (created) queued.push(it.key);
  }
  return queued;
}

export interface DrainResult {
  /** false when another drainer holds the lease. */
  ran: boolean;
  sent: number;
  failed: number;
  rateLimited: number;
  /** Entries still queued when the run ended. */
  remaining: number;
  /**
   * The run stopped because the next send comes due later than `SenderDeps.maxWaitMs`: the rest waits
   * for the next drain (a later notifier message), not for a re-published drain job.
   */
  deferred: boolean;
  /**
   * Why the run ended: `lease_held` (another drainer holds the lease; it sends what is queued),
   * `empty` (nothing left), `deferred` (see `deferred`), `deadline` (it used its whole `maxDrainMs`,
   * sending or waiting for the next send to come due, with work left: only then does a further run
   * make progress, so only then is a drain job re-published).
   */
  stopped: 'lease_held' | 'empty' | 'deferred' | 'deadline';
  /** When the next queued entry may go, as last seen by this run (null: none seen / queue empty). */
  nextDueAt: number | null;
}

interface SenderDeps {
  state: StateStore;
  api: TelegramApi;
  clock: Clock;
  cfg: TelegramConfig;
  charts?: ChartRenderer;
  log?: Logger;
  /** Identifies this drainer in the lease (instance id). */
  holder?: string;
  /**
   * The longest one drain sleeps in-process for the next send to come due (default: up to its
   * deadline). A replay on a manual clock, which only moves between bus deliveries, sets 0: a sleep on
   * that clock would never end. What is due is sent; the rest goes out on a later drain.
   */
  maxWaitMs?: number;
  /**
   * The bot's username (without @): outside private chats a web_app button (allowed only in private
   * chats) becomes a url button to the bot's dashboard deep link; without it, the button is dropped.
   */
  botUsername?: string;
}

type Step = { kind: 'sent' } | { kind: 'wait'; until: number } | { kind: 'empty' };

/**
 * Drains the outbox. Each `drain()` call is its own lease holder with its own rate limiter restored
 * from the lease document, so concurrent invocations in one process behave like separate instances:
 * one drains, the others see the lease held and return.
 */
export class OutboxSender {
  private runs = 0;
  private readonly holder: string;

  constructor(private readonly d: SenderDeps) {
    this.holder = d.holder ?? `drainer-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  }

  drain(opts: { maxMs?: number } = {}): Promise<DrainResult> {
    return new OutboxRun(this.d, `${this.holder}#${++this.runs}`).drain(opts);
  }
}

class OutboxRun {
  private limiter: RateLimiter;

  constructor(
    private readonly d: SenderDeps,
    private readonly holder: string,
  ) {
    this.limiter = new RateLimiter(d.cfg.limits);
  }

  /** Sends until the queue is empty or `maxDrainMs` has passed. Only one drainer runs at a time. */
  async drain(opts: { maxMs?: number } = {}): Promise<DrainResult> {
    const { clock, cfg } = this.d;
    const res: DrainResult = { ran: false, sent: 0, failed: 0, rateLimited: 0, remaining: 0, deferred: false, stopped: 'empty', nextDueAt: null };
    const start = clock.now();
    const deadline = start + (opts.maxMs ?? cfg.outbox.maxDrainMs);
    // One sleep never outlasts the lease (renewed before every step), so a waiting run keeps it.
    const maxSleep = Math.max(1, Math.floor(cfg.outbox.leaseMs / 2));
    for (;;) {
      if (!(await this.acquire())) {
        res.remaining = await this.queueLength(1);
        res.stopped = 'lease_held';
        return res;
      }
      res.ran = true;
      let emptied = false;
      try {
        for (;;) {
          await this.renew();
          const step = await this.step(res);
          if (step.kind === 'empty') {
            emptied = true;
            res.nextDueAt = null;
            break;
          }
          if (step.kind === 'wait') {
            res.nextDueAt = step.until;
            const now = clock.now();
            // Waits for the next send to come due, up to the deadline: a run whose next send lies
            // beyond it waits out its time and stops AT the deadline, so every run that asks for a
            // successor has moved the clock by `maxDrainMs` (a chain of drain jobs follows time, it
            // never spins at one instant re-publishing runs that can send nothing).
            const until = Math.min(step.until, deadline);
            if (until - now > (this.d.maxWaitMs ?? Number.POSITIVE_INFINITY)) {
              res.deferred = true;
              break;
            }
            if (until > now) await clock.sleep(Math.min(until - now, maxSleep));
          }
          if (clock.now() >= deadline) break;
        }
      } finally {
        await this.release();
      }
      res.remaining = await this.queueLength(cfg.outbox.scanLimit);
      res.stopped = res.remaining === 0 ? 'empty' : res.deferred ? 'deferred' : 'deadline';
      // Only when this run found the queue empty can something have arrived after its last look (while
      // other instances saw the lease held and left): then take the lease again. Otherwise the run
      // stopped at its deadline (or deferred) and the caller decides about the next one.
      if (!emptied || res.remaining === 0 || clock.now() >= deadline) return res;
    }
  }

  private async acquire(): Promise<boolean> {
    const now = this.d.clock.now();
    const lock = await this.d.state.runTransaction(async (tx) => {
      const cur = await tx.get<LockDoc>(OUTBOX_LOCK_DOC);
      if (cur && cur.holder !== this.holder && cur.leaseUntil > now) return null;
      const next: LockDoc = { holder: this.holder, leaseUntil: now + this.d.cfg.outbox.leaseMs, limiter: cur?.limiter ?? null };
      tx.set(OUTBOX_LOCK_DOC, asDoc(next));
      return next;
    });
    if (!lock) return false;
    this.limiter = RateLimiter.restore(this.d.cfg.limits, lock.limiter);
    await this.migrateLegacy();
    return true;
  }

  private async renew(): Promise<void> {
    const now = this.d.clock.now();
    await this.d.state.set(OUTBOX_LOCK_DOC, asDoc({ holder: this.holder, leaseUntil: now + this.d.cfg.outbox.leaseMs, limiter: this.limiter.snapshot(now) }));
  }

  private async release(): Promise<void> {
    const now = this.d.clock.now();
    await this.d.state.set(OUTBOX_LOCK_DOC, asDoc({ holder: this.holder, leaseUntil: 0, limiter: this.limiter.snapshot(now) }));
  }

  /**
   * The head of the queue: page `p` holds the first `scanLimit` entries with `sortAt` >= the last
   * page's highest `sortAt` (inclusive, so an entry tied at a page boundary is never skipped). The
   * union is a prefix of the queue order, so it holds each chat's entries as a prefix of its sequence.
   * `more` says whether pages beyond it exist.
   */
  private async scanPage(from: number | null): Promise<{ docs: QueueDoc[]; more: boolean }> {
    const limit = this.d.cfg.outbox.scanLimit;
    const docs = await this.d.state.query<QueueDoc>(TG_QUEUE_COLLECTION, {
      ...(from !== null ? { where: [{ field: 'sortAt', op: '>=', value: from }] } : {}),
      orderBy: { field: 'sortAt', direction: 'asc' },
      limit,
    });
    return { docs: docs.map((x) => x.data), more: docs.length === limit };
  }

  private async queueLength(limit: number): Promise<number> {
    return (await this.d.state.query(TG_QUEUE_COLLECTION, { orderBy: { field: 'sortAt' }, limit })).length;
  }

  /** Entries queued by an earlier version (no `sortAt`) get one, in their old order, so they are sent too. */
  private async migrateLegacy(): Promise<void> {
    const old = await this.d.state.query<QueueDoc & { order?: number }>(TG_QUEUE_COLLECTION, { orderBy: { field: 'enqueuedAt', direction: 'asc' }, limit: 500 });
    const legacy = old.map((x) => x.data).filter((q) => typeof q.sortAt !== 'number');
    if (legacy.length === 0) return;
    legacy.sort((a, b) => a.enqueuedAt - b.enqueuedAt || (a.order ?? 0) - (b.order ?? 0));
    for (const [i, q] of legacy.entries()) await this.d.state.merge(queuePath(q.id), { sortAt: q.enqueuedAt, chatSeq: -legacy.length + i });
  }

  /** One scheduling step: send the first entry the limits allow, or say when the next one may go. */
  private async step(res: DrainResult): Promise<Step> {
    const now = this.d.clock.now();
    const { scanPages } = this.d.cfg.outbox;
    const seen = new Map<string, QueueDoc>();
    // Chats whose head entry cannot go now: their later entries wait behind it (per-chat order).
    const heldChats = new Set<number>();
    let wake = Infinity;
    let from: number | null = null;
    let longQueue = false;
    for (let page = 0; page < scanPages; page++) {
      const { docs, more } = await this.scanPage(from);
      const fresh = docs.filter((q) => !seen.has(q.id));
      for (const q of fresh) seen.set(q.id, q);
      if (page === 0) {
        if (docs.length === 0) return { kind: 'empty' };
        longQueue = docs.length > this.d.cfg.outbox.shrinkQueueLength;
      }
      // The scanned set so far, in queue order (an entry of a later page never precedes one of its chat here).
      const queue = [...seen.values()].sort(byQueueOrder);
      for (const q of queue) {
        if (heldChats.has(q.chatId)) continue;
        if (q.notBefore > now) {
          wake = Math.min(wake, q.notBefore);
          heldChats.add(q.chatId);
          continue;
        }
        const batch = this.albumBatch(q, queue);
        const chat = q.op.type === 'answer_callback' ? NO_CHAT : q.chatId;
        const weight = batch ? batch.length : 1;
        const at = this.limiter.earliest(chat, now, weight);
        if (at > now) {
          wake = Math.min(wake, at);
          heldChats.add(q.chatId);
          continue;
        }
        await this.send(q, batch, chat, weight, longQueue, res);
        return { kind: 'sent' };
      }
      const last = docs.at(-1);
      // No further page, or no progress (a whole page tied on one sort time): stop looking.
      if (!more || fresh.length === 0 || !last) break;
      from = last.sortAt;
    }
    return { kind: 'wait', until: wake === Infinity ? now + this.d.cfg.outbox.retryBackoffMs : wake };
  }

  /**
   * The album this entry leads: the photos of its cycle that directly follow it in its chat's sequence
   * (a message queued between them breaks the run, so nothing overtakes it), when there are enough.
   */
  private albumBatch(q: QueueDoc, queue: QueueDoc[]): QueueDoc[] | null {
    if (q.op.type !== 'photo' || !q.groupTag) return null;
    const chatQueue = queue.filter((x) => x.chatId === q.chatId);
    const run: QueueDoc[] = [];
    for (const x of chatQueue.slice(chatQueue.indexOf(q))) {
      if (x.op.type !== 'photo' || x.groupTag !== q.groupTag || run.length >= this.d.cfg.alerts.mediaGroupMax) break;
      run.push(x);
    }
    return run.length >= this.d.cfg.alerts.mediaGroupMin ? run : null;
  }

  private async send(q: QueueDoc, batch: QueueDoc[] | null, chat: number, weight: number, longQueue: boolean, res: DrainResult): Promise<void> {
    const { clock, log } = this.d;
    const entries = batch ?? [q];
    try {
      const threadId = q.forum && q.topicSymbol && this.d.cfg.alerts.forumTopics ? await this.topic(q.chatId, q.topicSymbol) : q.threadId;
      this.limiter.record(chat, clock.now(), weight);
      const out = batch ? await this.sendAlbum(batch, threadId, longQueue) : await this.sendOne(q, threadId, longQueue);
      if (out === 'postpone') {
        await this.d.state.merge(queuePath(q.id), { notBefore: clock.now() + this.d.cfg.outbox.retryBackoffMs });
        return;
      }
      for (const [i, e] of entries.entries()) {
        const m = out.messages[i];
        const ids = batch ? (m ? [m.messageId] : []) : out.messages.map((x) => x.messageId);
        await this.finish(e, out.status, ids, out.shownAs, threadId, null);
      }
      res.sent += out.status === 'sent' ? entries.length : 0;
    } catch (e) {
      if (e instanceof TelegramRateLimitError) {
        res.rateLimited++;
        this.limiter.block(chat, clock.now() + e.retryAfterMs);
        log?.warn('telegram 429: waiting retry_after', { event: LOG_EVENTS.telegram429, chatId: q.chatId, method: e.method, retryAfterMs: e.retryAfterMs });
        return;
      }
      const permanent = e instanceof TelegramApiError && e.permanent;
      const attempts = q.attempts + 1;
      if (permanent || attempts >= this.d.cfg.outbox.maxAttempts) {
        log?.error('telegram message failed', { key: q.key, chatId: q.chatId, error: e as Error });
        for (const x of entries) await this.finish(x, 'failed', [], null, null, (e as Error).message);
        res.failed += entries.length;
        return;
      }
      log?.warn('telegram send failed; will retry', { key: q.key, attempts, error: e as Error });
      const backoff = this.d.cfg.outbox.retryBackoffMs * 2 ** (attempts - 1);
      for (const x of entries) await this.d.state.merge(queuePath(x.id), { attempts, notBefore: clock.now() + backoff });
    }
  }

  private async photo(fileId: string, longQueue: boolean): Promise<PhotoFile> {
    const f = await this.d.state.get<FileDoc>(outboxFilePath(fileId));
    if (!f) throw new TelegramApiError('outbox', 400, `photo ${fileId} is missing from the outbox`);
    let source: Buffer = Buffer.from(f.b64, 'base64');
    if (longQueue && this.d.charts) source = (await this.d.charts.shrink(source, this.d.cfg.outbox.shrinkMaxWidth)).png;
    return { source, filename: f.filename, contentType: 'image/png' };
  }

  private async sendAlbum(batch: QueueDoc[], threadId: number | null, longQueue: boolean): Promise<SendOutcome> {
    const media: MediaItem[] = [];
    for (const e of batch) {
      const op = e.op as Extract<OutboxOp, { type: 'photo' }>;
      media.push({ photo: await this.photo(op.fileId, longQueue), caption: op.caption, parseMode: 'HTML' });
    }
    const sent = await this.d.api.sendMediaGroup(batch[0]!.chatId, media, threadId !== null ? { messageThreadId: threadId } : {});
    return { status: 'sent', messages: sent, shownAs: 'photo' };
  }

  private async sendOne(q: QueueDoc, threadId: number | null, longQueue: boolean): Promise<SendOutcome | 'postpone'> {
    const { api } = this.d;
    const thread = threadId !== null ? { messageThreadId: threadId } : {};
    const kb = (k: InlineKeyboard | null | undefined) => this.markup(q.chatId, k);
    const op = q.op;
    switch (op.type) {
      case 'text': {
        const m = await api.sendMessage(q.chatId, op.text, { parseMode: 'HTML', disablePreview: true, ...thread, ...kb(op.keyboard) });
        return { status: 'sent', messages: [m], shownAs: 'text' };
      }
      case 'photo': {
        const m = await api.sendPhoto(q.chatId, await this.photo(op.fileId, longQueue), { caption: op.caption, parseMode: 'HTML', ...thread, ...kb(op.keyboard) });
        return { status: 'sent', messages: [m], shownAs: 'photo' };
      }
      case 'answer_callback':
        await api.answerCallbackQuery(op.callbackQueryId, { text: op.text, showAlert: op.showAlert ?? false });
        return { status: 'sent', messages: [], shownAs: null };
      case 'edit_message':
        try {
          await api.editMessageText(q.chatId, op.messageId, op.text, { parseMode: 'HTML', disablePreview: true, ...kb(op.keyboard) });
        } catch (e) {
          if (!(e instanceof TelegramApiError && e.notModified)) throw e;
        }
        return { status: 'sent', messages: [{ chatId: q.chatId, messageId: op.messageId }], shownAs: 'text' };
      case 'edit':
        return this.sendEdit(q, op, thread, longQueue);
    }
  }

  /** The keyboard as this chat may receive it (no web_app button outside private chats: keyboards.ts). */
  private markup(chatId: number, k: InlineKeyboard | null | undefined): { replyMarkup?: InlineKeyboard } {
    const out = k && k.length ? keyboardForChat(k, chatId, this.d.botUsername) : [];
    return out.length ? { replyMarkup: out } : {};
  }

  private async sendEdit(
    q: QueueDoc,
    op: Extract<OutboxOp, { type: 'edit' }>,
    thread: { messageThreadId?: number },
    longQueue: boolean,
  ): Promise<SendOutcome | 'postpone'> {
    const { api, state } = this.d;
    const orig = await state.get<OutboxRecord>(outboxPath(op.originalKey));
    if (orig?.status === 'queued') return 'postpone';
    const kb = this.markup(q.chatId, op.keyboard);
    const messageId = orig?.status === 'sent' ? orig.messageIds[0] : undefined;
    if (messageId === undefined) {
      // The original was never shown here: show the update as a message of its own.
      if (op.fileId) {
        const m = await api.sendPhoto(q.chatId, await this.photo(op.fileId, longQueue), { caption: op.text, parseMode: 'HTML', ...thread, ...kb });
        return { status: 'sent', messages: [m], shownAs: 'photo' };
      }
      const m = await api.sendMessage(q.chatId, op.text, { parseMode: 'HTML', ...thread, ...kb });
      return { status: 'sent', messages: [m], shownAs: 'text' };
    }
    const rankPath = editRankPath(op.originalKey);
    const rank = (await state.get<{ rank: number }>(rankPath))?.rank ?? 0;
    if (op.rank <= rank) return { status: 'skipped', messages: [], shownAs: null };
    try {
      if (orig!.shownAs === 'photo' && op.fileId) {
        await api.editMessageMedia(q.chatId, messageId, await this.photo(op.fileId, longQueue), { caption: op.text, parseMode: 'HTML', ...kb });
      } else if (orig!.shownAs === 'photo') {
        await api.editMessageCaption(q.chatId, messageId, op.text, { parseMode: 'HTML', ...kb });
      } else {
        await api.editMessageText(q.chatId, messageId, op.text, { parseMode: 'HTML', ...kb });
      }
    } catch (e) {
      if (!(e instanceof TelegramApiError && e.notModified)) throw e;
    }
    await state.set(rankPath, { rank: op.rank });
    return { status: 'sent', messages: [{ chatId: q.chatId, messageId }], shownAs: orig!.shownAs };
  }

  /** The forum topic of `symbol` in `chatId`, created on first use. */
  private async topic(chatId: number, symbol: string): Promise<number> {
    const path = forumTopicPath(chatId, symbol);
    const known = await this.d.state.get<{ threadId: number }>(path);
    if (known) return known.threadId;
    const at = this.limiter.earliest(chatId, this.d.clock.now());
    if (at > this.d.clock.now()) await this.d.clock.sleep(at - this.d.clock.now());
    this.limiter.record(chatId, this.d.clock.now());
    const { messageThreadId } = await this.d.api.createForumTopic(chatId, symbol);
    await this.d.state.set(path, { chatId, symbol, threadId: messageThreadId });
    // The topic creation used this chat's slot; the message waits for the next one.
    const next = this.limiter.earliest(chatId, this.d.clock.now());
    if (next > this.d.clock.now()) await this.d.clock.sleep(next - this.d.clock.now());
    return messageThreadId;
  }

  private async finish(
    q: QueueDoc,
    status: OutboxRecord['status'],
    messageIds: number[],
    shownAs: OutboxRecord['shownAs'],
    threadId: number | null,
    error: string | null,
  ): Promise<void> {
    const now = this.d.clock.now();
    const fileId = q.op.type === 'photo' || q.op.type === 'edit' ? (q.op.fileId ?? null) : null;
    await this.d.state.runTransaction(async (tx) => {
      const rec = await tx.get<OutboxRecord>(outboxPath(q.key));
      tx.set(outboxPath(q.key), asDoc({ ...(rec ?? {}), key: q.key, chatId: q.chatId, kind: q.op.type, enqueuedAt: q.enqueuedAt, status, messageIds, shownAs, threadId, doneAt: now, error }));
      tx.delete(queuePath(q.id));
      if (fileId) tx.delete(outboxFilePath(fileId));
      if (q.alertKey && status === 'sent' && messageIds.length) {
        tx.merge(alertRecordPath(q.alertKey), { messages: { [String(q.chatId)]: { messageId: messageIds[0]!, key: q.key } } });
      }
    });
  }
}

interface SendOutcome {
  status: 'sent' | 'skipped';
  messages: SentMessage[];
  shownAs: OutboxRecord['shownAs'];
}
