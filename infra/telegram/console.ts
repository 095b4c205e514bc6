/**
 * No bot token configured (the embedded default, SPEC 11): the same messages go to the log/console
 * and every PNG is written to a local folder, so a local run shows exactly what Telegram would.
 * Message ids are assigned locally so edits can name the message they change.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChatId, InlineKeyboard, MediaItem, PhotoFile, SentMessage, TelegramApi } from '../../shared/ports/telegram.js';

/**
 * The local default chat: with no bot token and no owner configured, every alert, report and owner
 * message is addressed here and printed (with its PNG path), as the README promises.
 */
export const CONSOLE_CHAT_ID = 1;

interface ConsoleEntry {
  method: string;
  chatId: ChatId | null;
  messageId: number | null;
  text: string;
  file: string | null;
  keyboard: InlineKeyboard | null;
}

interface ConsoleTelegramOptions {
  /** PNGs are written here (created on demand). */
  dir: string;
  /** Where lines go (default: stdout). */
  print?: (line: string) => void;
}

/** Telegram HTML to plain console text. */
function htmlToText(s: string): string {
  return s.replace(/<[^>]+>/g, '').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&amp;/g, '&');
}

export class ConsoleTelegram implements TelegramApi {
  private nextId = 1;
  private nextThread = 1;
  private fileSeq = 0;
  readonly entries: ConsoleEntry[] = [];
  private readonly print: (line: string) => void;

  constructor(private readonly opts: ConsoleTelegramOptions) {
    this.print = opts.print ?? ((l) => process.stdout.write(l + '\n'));
  }

  private save(p: PhotoFile, chatId: ChatId, messageId: number): string {
    mkdirSync(this.opts.dir, { recursive: true });
    const name = `${String(++this.fileSeq).padStart(5, '0')}_chat${chatId}_msg${messageId}_${p.filename.replace(/[^A-Za-z0-9._-]/g, '_')}`;
    const file = join(this.opts.dir, name);
    writeFileSync(file, p.source);
    return file;
  }

  private log(e: ConsoleEntry): void {
    this.entries.push(e);
    const kb = e.keyboard ? ` [${e.keyboard.flat().map((b) => ('url' in b ? `${b.text} ${b.url}` : 'web_app' in b ? `${b.text} ${b.web_app.url}` : b.text)).join(' | ')}]` : '';
    this.print(`[telegram:${e.method}] chat ${e.chatId ?? '-'} msg ${e.messageId ?? '-'}${e.file ? ` png ${e.file}` : ''}\n${htmlToText(e.text)}${kb}`);
  }

  async sendMessage(chatId: ChatId, text: string, opts?: { replyMarkup?: InlineKeyboard }): Promise<SentMessage> {
    const messageId = this.nextId++;
    this.log({ method: 'sendMessage', chatId, messageId, text, file: null, keyboard: opts?.replyMarkup ?? null });
    return { chatId, messageId };
  }

  async sendPhoto(chatId: ChatId, photo: PhotoFile, opts?: { caption?: string; replyMarkup?: InlineKeyboard }): Promise<SentMessage> {
    const messageId = this.nextId++;
    this.log({ method: 'sendPhoto', chatId, messageId, text: opts?.caption ?? '', file: this.save(photo, chatId, messageId), keyboard: opts?.replyMarkup ?? null });
    return { chatId, messageId };
  }

  async sendMediaGroup(chatId: ChatId, media: MediaItem[]): Promise<SentMessage[]> {
    const out: SentMessage[] = [];
    for (const m of media) {
      const messageId = this.nextId++;
      this.log({ method: 'sendMediaGroup', chatId, messageId, text: m.caption ?? '', file: this.save(m.photo, chatId, messageId), keyboard: null });
      out.push({ chatId, messageId });
    }
    return out;
  }

  async editMessageText(chatId: ChatId, messageId: number, text: string, opts?: { replyMarkup?: InlineKeyboard }): Promise<void> {
    this.log({ method: 'editMessageText', chatId, messageId, text, file: null, keyboard: opts?.replyMarkup ?? null });
  }

  async editMessageCaption(chatId: ChatId, messageId: number, caption: string, opts?: { replyMarkup?: InlineKeyboard }): Promise<void> {
    this.log({ method: 'editMessageCaption', chatId, messageId, text: caption, file: null, keyboard: opts?.replyMarkup ?? null });
  }

  async editMessageMedia(chatId: ChatId, messageId: number, photo: PhotoFile, opts?: { caption?: string; replyMarkup?: InlineKeyboard }): Promise<void> {
    this.log({ method: 'editMessageMedia', chatId, messageId, text: opts?.caption ?? '', file: this.save(photo, chatId, messageId), keyboard: opts?.replyMarkup ?? null });
  }

  async answerCallbackQuery(callbackQueryId: string, opts?: { text?: string }): Promise<void> {
    this.log({ method: 'answerCallbackQuery', chatId: null, messageId: null, text: `${callbackQueryId}: ${opts?.text ?? ''}`, file: null, keyboard: null });
  }

  async createForumTopic(chatId: ChatId, name: string): Promise<{ messageThreadId: number }> {
    const messageThreadId = this.nextThread++;
    this.log({ method: 'createForumTopic', chatId, messageId: null, text: name, file: null, keyboard: null });
    return { messageThreadId };
  }

  async setWebhook(url: string): Promise<void> {
    this.log({ method: 'setWebhook', chatId: null, messageId: null, text: url, file: null, keyboard: null });
  }
}
