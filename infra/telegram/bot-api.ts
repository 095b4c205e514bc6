/**
 * TelegramApi on node-telegram-bot-api 2.x (`Api`, one method per Bot API method). Photos are passed
 * as the library's `InputFile` wrapping the PNG bytes with a filename (multipart upload); a bare
 * Buffer is never handed over. The library's own 429 retry is switched off (`maxRetries: 0`): the
 * outbox waits `retry_after` on its clock and resends once, and its rate limiter keeps the limits.
 */
import { Api, InputFile, TelegramApiError as LibApiError } from 'node-telegram-bot-api';
import {
  TelegramApiError,
  TelegramRateLimitError,
  type ChatId,
  type InlineKeyboard,
  type MediaItem,
  type MessageOptions,
  type PhotoFile,
  type SentMessage,
  type TelegramApi,
} from '../../shared/ports/telegram.js';

interface BotApiOptions {
  /** API origin (default https://api.telegram.org); the local server in tests. */
  apiRoot?: string;
  timeoutMs?: number;
}

/** Default client timeout for one Bot API call. */
const DEFAULT_TIMEOUT_MS = 30_000;

function inputFile(p: PhotoFile): InputFile {
  return new InputFile(new Uint8Array(p.source.buffer, p.source.byteOffset, p.source.byteLength), { filename: p.filename, contentType: p.contentType ?? 'image/png' });
}

function markup(k: InlineKeyboard | undefined) {
  return k && k.length ? { reply_markup: { inline_keyboard: k } } : {};
}

function common(o: MessageOptions | undefined) {
  return {
    ...(o?.parseMode ? { parse_mode: o.parseMode } : {}),
    ...(o?.messageThreadId !== undefined ? { message_thread_id: o.messageThreadId } : {}),
    ...markup(o?.replyMarkup),
  };
}

export class BotApiTelegram implements TelegramApi {
  private readonly api: Api;

  constructor(token: string, opts: BotApiOptions = {}) {
    this.api = new Api(token, {
      ...(opts.apiRoot ? { apiRoot: opts.apiRoot } : {}),
      timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      maxRetries: 0,
    });
  }

  private async call<T>(method: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof LibApiError) {
        if (e.errorCode === 429) throw new TelegramRateLimitError(method, Math.max(1, e.retryAfter ?? 1) * 1000);
        throw new TelegramApiError(method, e.errorCode, e.description);
      }
      throw e;
    }
  }

  async sendMessage(chatId: ChatId, text: string, opts?: MessageOptions): Promise<SentMessage> {
    const m = await this.call('sendMessage', () =>
      this.api.sendMessage({ chat_id: chatId, text, ...common(opts), ...(opts?.disablePreview ? { link_preview_options: { is_disabled: true } } : {}) }),
    );
    return { chatId: m.chat.id, messageId: m.message_id };
  }

  async sendPhoto(chatId: ChatId, photo: PhotoFile, opts?: MessageOptions & { caption?: string }): Promise<SentMessage> {
    const m = await this.call('sendPhoto', () =>
      this.api.sendPhoto({ chat_id: chatId, photo: inputFile(photo), ...(opts?.caption !== undefined ? { caption: opts.caption } : {}), ...common(opts) }),
    );
    return { chatId: m.chat.id, messageId: m.message_id };
  }

  async sendMediaGroup(chatId: ChatId, media: MediaItem[], opts?: { messageThreadId?: number }): Promise<SentMessage[]> {
    const ms = await this.call('sendMediaGroup', () =>
      this.api.sendMediaGroup({
        chat_id: chatId,
        media: media.map((m) => ({
          type: 'photo' as const,
          media: inputFile(m.photo),
          ...(m.caption !== undefined ? { caption: m.caption } : {}),
          ...(m.parseMode ? { parse_mode: m.parseMode } : {}),
        })),
        ...(opts?.messageThreadId !== undefined ? { message_thread_id: opts.messageThreadId } : {}),
      }),
    );
    return ms.map((m) => ({ chatId: m.chat.id, messageId: m.message_id }));
  }

  async editMessageText(chatId: ChatId, messageId: number, text: string, opts?: Omit<MessageOptions, 'messageThreadId'>): Promise<void> {
    await this.call('editMessageText', () =>
      this.api.editMessageText({
        chat_id: chatId,
        message_id: messageId,
        text,
        ...(opts?.parseMode ? { parse_mode: opts.parseMode } : {}),
        ...markup(opts?.replyMarkup),
        ...(opts?.disablePreview ? { link_preview_options: { is_disabled: true } } : {}),
      }),
    );
  }

  async editMessageCaption(chatId: ChatId, messageId: number, caption: string, opts?: Omit<MessageOptions, 'messageThreadId' | 'disablePreview'>): Promise<void> {
    await this.call('editMessageCaption', () =>
      this.api.editMessageCaption({ chat_id: chatId, message_id: messageId, caption, ...(opts?.parseMode ? { parse_mode: opts.parseMode } : {}), ...markup(opts?.replyMarkup) }),
    );
  }

  async editMessageMedia(chatId: ChatId, messageId: number, photo: PhotoFile, opts?: { caption?: string; parseMode?: 'HTML'; replyMarkup?: InlineKeyboard }): Promise<void> {
    await this.call('editMessageMedia', () =>
      this.api.editMessageMedia({
        chat_id: chatId,
        message_id: messageId,
        media: { type: 'photo', media: inputFile(photo), ...(opts?.caption !== undefined ? { caption: opts.caption } : {}), ...(opts?.parseMode ? { parse_mode: opts.parseMode } : {}) },
        ...markup(opts?.replyMarkup),
      }),
    );
  }

  async answerCallbackQuery(callbackQueryId: string, opts?: { text?: string; showAlert?: boolean }): Promise<void> {
    await this.call('answerCallbackQuery', () =>
      this.api.answerCallbackQuery({ callback_query_id: callbackQueryId, ...(opts?.text ? { text: opts.text } : {}), ...(opts?.showAlert ? { show_alert: true } : {}) }),
    );
  }

  async createForumTopic(chatId: ChatId, name: string): Promise<{ messageThreadId: number }> {
    const t = await this.call('createForumTopic', () => this.api.createForumTopic({ chat_id: chatId, name }));
    return { messageThreadId: t.message_thread_id };
  }

  /** The webhook URL Telegram has for the bot ('' when none). */
  async getWebhookInfo(): Promise<{ url: string }> {
    const info = await this.call('getWebhookInfo', () => this.api.getWebhookInfo());
    return { url: info.url };
  }

  async setWebhook(url: string, secretToken: string, opts?: { allowedUpdates?: string[]; dropPendingUpdates?: boolean }): Promise<void> {
    await this.call('setWebhook', () =>
      this.api.setWebhook({
        url,
        secret_token: secretToken,
        ...(opts?.allowedUpdates ? { allowed_updates: opts.allowedUpdates } : {}),
        ...(opts?.dropPendingUpdates ? { drop_pending_updates: true } : {}),
      }),
    );
  }
}
