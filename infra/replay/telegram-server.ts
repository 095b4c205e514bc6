/**
 * A local HTTP server speaking the Telegram Bot API subset this system uses (SPEC 9 tests, offline
 * demos): `POST /bot{token}/{method}` with urlencoded, JSON or multipart/form-data bodies (file parts
 * are parsed and kept), answering with Telegram's `{ ok, result }` / `{ ok: false, error_code,
 * description, parameters }` envelopes.
 *
 * - Records EVERY request: method, chat id, string fields, file parts (name, filename, bytes), the
 *   time on the injected clock, and the HTTP status it got.
 * - Enforces Telegram's limits on the same clock, with a 429 + `retry_after` when exceeded: at most one
 *   message per `perChatIntervalMs` per chat, `perGroupMax` per `perGroupWindowMs` per group (chat id
 *   < 0), `globalMax` per `globalWindowMs` overall; an album of n photos counts n messages.
 * - `inject429` makes the next matching request fail with a given `retry_after` (and keeps refusing
 *   that chat until it has passed), to test that clients wait it out.
 * - Keeps the messages per chat so edits can be checked ("message to edit not found", "message is not
 *   modified" like Telegram), and refuses a photo that is not an uploaded file, a file_id or a URL.
 * - Checks inline keyboards like Telegram: each button has a text and exactly one action
 *   (`callback_data` <= 64 bytes, `url`, or `web_app` with an https URL); a `web_app` button outside a
 *   private chat (chat id < 0) is refused with 400 BUTTON_TYPE_INVALID, as the Bot API does.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Clock } from '../../shared/ports/clock.js';
import { systemClock } from '../../shared/ports/clock.js';

export interface ServerLimits {
  perChatIntervalMs: number;
  perGroupMax: number;
  perGroupWindowMs: number;
  globalMax: number;
  globalWindowMs: number;
}

/** Telegram's published limits (about 1/s per chat, 20/min per group, 30/s overall). */
export const TELEGRAM_LIMITS: ServerLimits = { perChatIntervalMs: 1_000, perGroupMax: 20, perGroupWindowMs: 60_000, globalMax: 30, globalWindowMs: 1_000 };

interface RecordedFile {
  field: string;
  filename: string;
  contentType: string;
  bytes: Buffer;
}

export interface RecordedRequest {
  seq: number;
  method: string;
  chatId: number | null;
  fields: Record<string, string>;
  files: RecordedFile[];
  at: number;
  status: number;
  /** The error description when refused. */
  error: string | null;
}

interface StoredMessage {
  chatId: number;
  messageId: number;
  text: string | null;
  caption: string | null;
  /** Bytes of the current photo (after editMessageMedia: the new one). */
  photo: Buffer | null;
  threadId: number | null;
  replyMarkup: string | null;
  edits: number;
}

interface Inject429 {
  method?: string;
  chatId?: number;
  retryAfterSec: number;
  /** How many matching requests get it (default 1). */
  times?: number;
}

interface TelegramServerOptions {
  token: string;
  clock?: Clock;
  limits?: ServerLimits | null;
  port?: number;
}

const CHAT_METHODS_WITH_WEIGHT = new Set(['sendMessage', 'sendPhoto', 'sendMediaGroup', 'editMessageText', 'editMessageCaption', 'editMessageMedia', 'createForumTopic']);

/** Tags Telegram's HTML parse mode accepts. */
const HTML_TAGS = new Set(['b', 'strong', 'i', 'em', 'u', 'ins', 's', 'strike', 'del', 'a', 'code', 'pre', 'tg-spoiler', 'span', 'blockquote', 'tg-emoji']);

/**
 * Telegram's HTML parse-mode rules: only the supported tags, properly nested; `<`, `>` and `&` only as
 * entities (`&lt;` `&gt;` `&amp;` `&quot;` or numeric). Returns the problem, or null when it parses.
 */
export function htmlProblem(text: string): string | null {
  const stack: string[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '<') {
      const m = /^<(\/?)([a-z-]+)(\s[^<>]*)?>/.exec(text.slice(i));
      if (!m) return `Unsupported start tag at byte offset ${i}`;
      const tag = m[2] as string;
      if (!HTML_TAGS.has(tag)) return `Unsupported start tag "${tag}" at byte offset ${i}`;
      if (m[1]) {
        if (stack.pop() !== tag) return `Unmatched end tag at byte offset ${i}, expected "</${stack.at(-1) ?? ''}>", found "</${tag}>"`;
      } else stack.push(tag);
      i += m[0].length;
    } else if (ch === '>') {
      return `Character '>' is reserved at byte offset ${i}`;
    } else if (ch === '&') {
      const m = /^&(lt|gt|amp|quot|#\d{1,7}|#x[0-9a-fA-F]{1,6});/.exec(text.slice(i));
      if (!m) return `Character '&' is reserved and must be escaped at byte offset ${i}`;
      i += m[0].length;
    } else i++;
  }
  return stack.length ? `Can't find end tag corresponding to start tag "${stack.at(-1)}"` : null;
}

class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly description: string,
    readonly parameters?: Record<string, number>,
  ) {
    super(description);
  }
}

export class TelegramTestServer {
  readonly requests: RecordedRequest[] = [];
  private readonly messages = new Map<number, Map<number, StoredMessage>>();
  private readonly forums = new Set<number>();
  private readonly injected: Array<Inject429 & { left: number }> = [];
  private readonly lastByChat = new Map<number, number>();
  private readonly groupSends = new Map<number, number[]>();
  private readonly globalSends: number[] = [];
  private readonly blocks = new Map<number, number>();
  private nextMessageId = 1000;
  private nextThreadId = 50;
  private server: Server | undefined;
  private readonly clock: Clock;
  private readonly limits: ServerLimits | null;
  /** Base for clients: `apiRoot` (requests go to `${apiRoot}/bot${token}/${method}`). */
  apiRoot = '';
  /** The URL of the last setWebhook (getWebhookInfo answers it). */
  webhookUrl = '';

  constructor(private readonly opts: TelegramServerOptions) {
    this.clock = opts.clock ?? systemClock;
    this.limits = opts.limits === undefined ? TELEGRAM_LIMITS : opts.limits;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(this.opts.port ?? 0, '127.0.0.1', resolve));
    const port = (this.server.address() as AddressInfo).port;
    this.apiRoot = `http://127.0.0.1:${port}`;
    return this.apiRoot;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }

  setForum(chatId: number): void {
    this.forums.add(chatId);
  }

  inject429(i: Inject429): void {
    this.injected.push({ ...i, left: i.times ?? 1 });
  }

  /** Requests of one method (all statuses), in arrival order. */
  calls(method?: string): RecordedRequest[] {
    return method ? this.requests.filter((r) => r.method === method) : [...this.requests];
  }

  /** Requests that succeeded. */
  ok(method?: string): RecordedRequest[] {
    return this.calls(method).filter((r) => r.status === 200);
  }

  count429(): number {
    return this.requests.filter((r) => r.status === 429).length;
  }

  chatMessages(chatId: number): StoredMessage[] {
    return [...(this.messages.get(chatId)?.values() ?? [])];
  }

  message(chatId: number, messageId: number): StoredMessage | undefined {
    return this.messages.get(chatId)?.get(messageId);
  }

  /** Simulates a user's update being POSTed by Telegram to a webhook. */
  static async deliver(url: string, update: unknown, secret: string | undefined): Promise<{ status: number; body: unknown }> {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(secret !== undefined ? { 'x-telegram-bot-api-secret-token': secret } : {}) },
      body: JSON.stringify(update),
    });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, body };
  }

  // ---------- request handling ----------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const m = /^\/bot([^/]+)\/([A-Za-z]+)$/.exec(req.url ?? '');
    const rec: RecordedRequest = { seq: this.requests.length + 1, method: m?.[2] ?? '(none)', chatId: null, fields: {}, files: [], at: this.clock.now(), status: 200, error: null };
    this.requests.push(rec);
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    try {
      if (!m || req.method !== 'POST') throw new ApiError(404, 'Not Found');
      if (m[1] !== this.opts.token) throw new ApiError(401, 'Unauthorized');
      await this.parseBody(req.headers['content-type'] ?? '', body, rec);
      const chat = rec.fields.chat_id;
      rec.chatId = chat !== undefined && /^-?\d+$/.test(chat) ? Number(chat) : null;
      this.checkLimits(rec);
      const result = this.apply(rec);
      send(200, { ok: true, result });
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError(500, `Internal Server Error: ${(e as Error).message}`);
      rec.status = err.code;
      rec.error = err.description;
      send(err.code, { ok: false, error_code: err.code, description: err.description, ...(err.parameters ? { parameters: err.parameters } : {}) });
    }
  }

  private async parseBody(contentType: string, body: Buffer, rec: RecordedRequest): Promise<void> {
    if (body.length === 0) return;
    if (contentType.startsWith('application/json')) {
      const o = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
      for (const [k, v] of Object.entries(o)) rec.fields[k] = typeof v === 'string' ? v : JSON.stringify(v);
      return;
    }
    if (contentType.startsWith('application/x-www-form-urlencoded')) {
      for (const [k, v] of new URLSearchParams(body.toString('utf8'))) rec.fields[k] = v;
      return;
    }
    if (contentType.startsWith('multipart/form-data')) {
      const form = await new Request('http://local/', { method: 'POST', headers: { 'content-type': contentType }, body }).formData();
      for (const [k, v] of form.entries()) {
        if (typeof v === 'string') rec.fields[k] = v;
        else rec.files.push({ field: k, filename: v.name, contentType: v.type, bytes: Buffer.from(await v.arrayBuffer()) });
      }
      return;
    }
    throw new ApiError(400, `Bad Request: unsupported content type ${contentType}`);
  }

  private weight(rec: RecordedRequest): number {
    if (rec.method !== 'sendMediaGroup') return 1;
    try {
      return Math.max(1, (JSON.parse(rec.fields.media ?? '[]') as unknown[]).length);
    } catch {
      return 1;
    }
  }

  private checkLimits(rec: RecordedRequest): void {
    const now = rec.at;
    const chat = CHAT_METHODS_WITH_WEIGHT.has(rec.method) ? rec.chatId : null;
    const inj = this.injected.find((i) => i.left > 0 && (i.method === undefined || i.method === rec.method) && (i.chatId === undefined || i.chatId === chat));
    if (inj) {
      inj.left--;
      if (chat !== null) this.blocks.set(chat, now + inj.retryAfterSec * 1000);
      throw new ApiError(429, `Too Many Requests: retry after ${inj.retryAfterSec}`, { retry_after: inj.retryAfterSec });
    }
    const refuse = (until: number) => {
      const s = Math.max(1, Math.ceil((until - now) / 1000));
      throw new ApiError(429, `Too Many Requests: retry after ${s}`, { retry_after: s });
    };
    if (chat !== null) {
      const block = this.blocks.get(chat);
      if (block !== undefined && now < block) refuse(block);
    }
    const l = this.limits;
    if (!l) return;
    const w = this.weight(rec);
    const live = this.globalSends.filter((t) => t > now - l.globalWindowMs);
    if (live.length + w > l.globalMax) refuse((live[live.length + w - l.globalMax - 1] as number) + l.globalWindowMs);
    if (chat !== null) {
      const last = this.lastByChat.get(chat);
      if (last !== undefined && now < last + l.perChatIntervalMs) refuse(last + l.perChatIntervalMs);
      if (chat < 0) {
        const g = (this.groupSends.get(chat) ?? []).filter((t) => t > now - l.perGroupWindowMs);
        if (g.length + w > l.perGroupMax) refuse((g[g.length + w - l.perGroupMax - 1] as number) + l.perGroupWindowMs);
        for (let i = 0; i < w; i++) g.push(now);
        this.groupSends.set(chat, g);
      }
      this.lastByChat.set(chat, now + (w - 1) * l.perChatIntervalMs);
    }
    for (let i = 0; i < w; i++) this.globalSends.push(now);
    while (this.globalSends.length && (this.globalSends[0] as number) <= now - l.globalWindowMs) this.globalSends.shift();
  }

  // ---------- methods ----------

  private chatOf(rec: RecordedRequest): number {
    if (rec.chatId === null) throw new ApiError(400, 'Bad Request: chat_id is empty');
    return rec.chatId;
  }

  private file(rec: RecordedRequest, ref: string | undefined, field: string): Buffer | null {
    const direct = rec.files.find((f) => f.field === field);
    if (direct) {
      if (direct.bytes.length === 0) throw new ApiError(400, 'Bad Request: file must be non-empty');
      return direct.bytes;
    }
    if (ref?.startsWith('attach://')) {
      const part = rec.files.find((f) => f.field === ref.slice('attach://'.length));
      if (!part || part.bytes.length === 0) throw new ApiError(400, `Bad Request: file ${ref} not found in the request`);
      return part.bytes;
    }
    if (ref && (/^https?:\/\//.test(ref) || /^[A-Za-z0-9_-]{20,}$/.test(ref))) return null;
    throw new ApiError(400, 'Bad Request: wrong file identifier/HTTP URL specified');
  }

  private store(chatId: number, m: Omit<StoredMessage, 'chatId' | 'messageId' | 'edits'>): StoredMessage {
    const msg: StoredMessage = { chatId, messageId: this.nextMessageId++, edits: 0, ...m };
    let chat = this.messages.get(chatId);
    if (!chat) this.messages.set(chatId, (chat = new Map()));
    chat.set(msg.messageId, msg);
    return msg;
  }

  private wire(m: StoredMessage): Record<string, unknown> {
    const chat = { id: m.chatId, type: m.chatId < 0 ? 'supergroup' : 'private' };
    return {
      message_id: m.messageId,
      date: Math.floor(this.clock.now() / 1000),
      chat,
      ...(m.threadId !== null ? { message_thread_id: m.threadId, is_topic_message: true } : {}),
      ...(m.text !== null ? { text: m.text } : {}),
      ...(m.caption !== null ? { caption: m.caption } : {}),
      ...(m.photo ? { photo: [{ file_id: `photo${m.messageId}x${m.edits}`, file_unique_id: `u${m.messageId}`, width: 640, height: 400, file_size: m.photo.length }] } : {}),
    };
  }

  private editable(rec: RecordedRequest): StoredMessage {
    const chatId = this.chatOf(rec);
    const id = Number(rec.fields.message_id);
    const m = this.messages.get(chatId)?.get(id);
    if (!m) throw new ApiError(400, 'Bad Request: message to edit not found');
    return m;
  }

  /** Refuses text or captions that Telegram's HTML parser would refuse. */
  private checkHtml(rec: RecordedRequest): void {
    const f = rec.fields;
    const parts: string[] = [];
    if (f.parse_mode === 'HTML') parts.push(f.text ?? '', f.caption ?? '');
    for (const key of ['media']) {
      if (!f[key]) continue;
      const media = JSON.parse(f[key] as string) as unknown;
      for (const m of Array.isArray(media) ? media : [media]) {
        const it = m as { parse_mode?: string; caption?: string };
        if (it.parse_mode === 'HTML' && it.caption) parts.push(it.caption);
      }
    }
    for (const p of parts) {
      const problem = htmlProblem(p);
      if (problem) throw new ApiError(400, `Bad Request: can't parse entities: ${problem}`);
    }
  }

  /** Refuses an inline keyboard Telegram would refuse (see the file comment). */
  private checkKeyboard(rec: RecordedRequest): void {
    const raw = rec.fields.reply_markup;
    if (raw === undefined) return;
    let markup: unknown;
    try {
      markup = JSON.parse(raw);
    } catch {
      throw new ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object");
    }
    const rows = (markup as { inline_keyboard?: unknown }).inline_keyboard;
    if (!Array.isArray(rows) || !rows.every(Array.isArray)) throw new ApiError(400, 'Bad Request: field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays');
    for (const b of (rows as unknown[][]).flat() as Array<Record<string, unknown>>) {
      if (typeof b?.text !== 'string' || b.text === '') throw new ApiError(400, 'Bad Request: text buttons are unallowed in the inline keyboard');
      const actions = ['callback_data', 'url', 'web_app'].filter((k) => b[k] !== undefined);
      if (actions.length !== 1) throw new ApiError(400, 'Bad Request: BUTTON_TYPE_INVALID');
      if (b.callback_data !== undefined && (typeof b.callback_data !== 'string' || Buffer.byteLength(b.callback_data) > 64)) throw new ApiError(400, 'Bad Request: BUTTON_DATA_INVALID');
      if (b.url !== undefined && (typeof b.url !== 'string' || !/^(https?|tg):\/\/\S+$/.test(b.url))) throw new ApiError(400, 'Bad Request: BUTTON_URL_INVALID');
      if (b.web_app !== undefined) {
        if (rec.chatId === null || rec.chatId < 0) throw new ApiError(400, 'Bad Request: BUTTON_TYPE_INVALID');
        const url = (b.web_app as { url?: unknown }).url;
        if (typeof url !== 'string' || !/^https:\/\/\S+$/.test(url)) {
          throw new ApiError(400, `Bad Request: inline keyboard button Web App URL '${String(url)}' is invalid: Only HTTPS links are allowed`);
        }
      }
    }
  }

  private apply(rec: RecordedRequest): unknown {
    const f = rec.fields;
    this.checkHtml(rec);
    this.checkKeyboard(rec);
    const thread = f.message_thread_id !== undefined ? Number(f.message_thread_id) : null;
    switch (rec.method) {
      case 'getMe':
        return { id: 1, is_bot: true, first_name: 'CST test bot', username: 'cst_test_bot' };
      case 'setWebhook':
        if (!f.url) throw new ApiError(400, 'Bad Request: bad webhook: an HTTPS URL must be provided for webhook');
        this.webhookUrl = f.url;
        return true;
      case 'getWebhookInfo':
        return { url: this.webhookUrl, has_custom_certificate: false, pending_update_count: 0 };
      case 'sendMessage': {
        const chatId = this.chatOf(rec);
        if (!f.text) throw new ApiError(400, 'Bad Request: message text is empty');
        return this.wire(this.store(chatId, { text: f.text, caption: null, photo: null, threadId: thread, replyMarkup: f.reply_markup ?? null }));
      }
      case 'sendPhoto': {
        const chatId = this.chatOf(rec);
        const bytes = this.file(rec, f.photo, 'photo');
        return this.wire(this.store(chatId, { text: null, caption: f.caption ?? null, photo: bytes, threadId: thread, replyMarkup: f.reply_markup ?? null }));
      }
      case 'sendMediaGroup': {
        const chatId = this.chatOf(rec);
        const media = JSON.parse(f.media ?? '[]') as Array<{ type: string; media: string; caption?: string }>;
        if (media.length < 2 || media.length > 10) throw new ApiError(400, 'Bad Request: wrong number of media in the album (2-10)');
        return media.map((it) => {
          const bytes = this.file(rec, it.media, '\u0000');
          return this.wire(this.store(chatId, { text: null, caption: it.caption ?? null, photo: bytes, threadId: thread, replyMarkup: null }));
        });
      }
      case 'editMessageText': {
        const m = this.editable(rec);
        if (m.text === null) throw new ApiError(400, 'Bad Request: there is no text in the message to edit');
        if (m.text === f.text && (m.replyMarkup ?? null) === (f.reply_markup ?? null)) throw new ApiError(400, 'Bad Request: message is not modified');
        m.text = f.text ?? '';
        m.replyMarkup = f.reply_markup ?? null;
        m.edits++;
        return this.wire(m);
      }
      case 'editMessageCaption': {
        const m = this.editable(rec);
        if (m.photo === null) throw new ApiError(400, 'Bad Request: there is no caption in the message to edit');
        if (m.caption === (f.caption ?? null) && (m.replyMarkup ?? null) === (f.reply_markup ?? null)) throw new ApiError(400, 'Bad Request: message is not modified');
        m.caption = f.caption ?? null;
        m.replyMarkup = f.reply_markup ?? null;
        m.edits++;
        return this.wire(m);
      }
      case 'editMessageMedia': {
        const m = this.editable(rec);
        const media = JSON.parse(f.media ?? '{}') as { type?: string; media?: string; caption?: string };
        if (media.type !== 'photo') throw new ApiError(400, 'Bad Request: media type must be photo');
        const bytes = this.file(rec, media.media, '\u0000');
        m.photo = bytes ?? m.photo;
        m.caption = media.caption ?? null;
        m.replyMarkup = f.reply_markup ?? null;
        m.edits++;
        return this.wire(m);
      }
      case 'answerCallbackQuery':
        if (!f.callback_query_id) throw new ApiError(400, 'Bad Request: query is too old and response timeout expired or query ID is invalid');
        return true;
      case 'createForumTopic': {
        const chatId = this.chatOf(rec);
        if (!this.forums.has(chatId)) throw new ApiError(400, 'Bad Request: the chat is not a forum');
        return { message_thread_id: this.nextThreadId++, name: f.name ?? '', icon_color: 7322096 };
      }
      default:
        throw new ApiError(404, `Not Found: method ${rec.method}`);
    }
  }
}
