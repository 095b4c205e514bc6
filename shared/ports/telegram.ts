/**
 * Telegram port: the subset of the Bot API this system uses (SPEC 9). Images always travel as a
 * `PhotoFile` ({ source: Buffer, filename }) which adapters turn into a real multipart upload (the
 * library's InputFile); a bare Buffer is never handed to a client library.
 *
 * Adapters: infra/telegram/bot-api.ts (node-telegram-bot-api 2.x, also against the local server
 * infra/replay/telegram-server.ts) and infra/telegram/console.ts (no token configured: messages to the
 * console, PNGs to a local folder).
 *
 * Errors: a 429 surfaces as `TelegramRateLimitError` with `retryAfterMs` (the outbox waits it out,
 * adapters must NOT retry it themselves); other API refusals as `TelegramApiError` (`permanent` for
 * 4xx that can never succeed, e.g. "chat not found", "message is not modified").
 */

export type ChatId = number;

export interface PhotoFile {
  source: Buffer;
  /** With the extension: Telegram sees only the name (`chart.png`). */
  filename: string;
  contentType?: string;
}

/**
 * One inline button: exactly one action. `web_app` opens a Telegram Mini App (an https URL) and the Bot
 * API accepts it ONLY in private chats (a group answers 400 BUTTON_TYPE_INVALID): the outbox sender
 * replaces it for other chats (keyboards.ts keyboardForChat).
 */
export type InlineButton =
  | {
      text: string;
      /** <= 64 bytes (Bot API limit). */
      callback_data: string;
    }
  | { text: string; url: string }
  | { text: string; web_app: { url: string } };
export type InlineKeyboard = InlineButton[][];

export interface MessageOptions {
  parseMode?: 'HTML';
  replyMarkup?: InlineKeyboard;
  /** Forum topic of a supergroup. */
  messageThreadId?: number;
  disablePreview?: boolean;
}

export interface SentMessage {
  chatId: ChatId;
  messageId: number;
}

export interface MediaItem {
  photo: PhotoFile;
  caption?: string;
  parseMode?: 'HTML';
}

export interface TelegramApi {
  sendMessage(chatId: ChatId, text: string, opts?: MessageOptions): Promise<SentMessage>;
  sendPhoto(chatId: ChatId, photo: PhotoFile, opts?: MessageOptions & { caption?: string }): Promise<SentMessage>;
  /** 2-10 photos as one album (no inline keyboard on albums: a Bot API rule). */
  sendMediaGroup(chatId: ChatId, media: MediaItem[], opts?: { messageThreadId?: number }): Promise<SentMessage[]>;
  editMessageText(chatId: ChatId, messageId: number, text: string, opts?: Omit<MessageOptions, 'messageThreadId'>): Promise<void>;
  editMessageCaption(chatId: ChatId, messageId: number, caption: string, opts?: Omit<MessageOptions, 'messageThreadId' | 'disablePreview'>): Promise<void>;
  editMessageMedia(
    chatId: ChatId,
    messageId: number,
    photo: PhotoFile,
    opts?: { caption?: string; parseMode?: 'HTML'; replyMarkup?: InlineKeyboard },
  ): Promise<void>;
  answerCallbackQuery(callbackQueryId: string, opts?: { text?: string; showAlert?: boolean }): Promise<void>;
  createForumTopic(chatId: ChatId, name: string): Promise<{ messageThreadId: number }>;
  setWebhook(url: string, secretToken: string, opts?: { allowedUpdates?: string[]; dropPendingUpdates?: boolean }): Promise<void>;
}

/** HTTP 429 from Telegram: wait `retryAfterMs`, then send the same request again (it was not delivered). */
export class TelegramRateLimitError extends Error {
  override readonly name = 'TelegramRateLimitError';
  constructor(
    readonly method: string,
    readonly retryAfterMs: number,
  ) {
    super(`Telegram 429 on ${method}: retry after ${retryAfterMs} ms`);
  }
}

/** Telegram refused the request. `permanent`: a 4xx (other than 429) that retrying cannot fix. */
export class TelegramApiError extends Error {
  override readonly name = 'TelegramApiError';
  constructor(
    readonly method: string,
    readonly code: number,
    readonly description: string,
  ) {
    super(`Telegram ${method} failed: ${code} ${description}`);
  }
  get permanent(): boolean {
    return this.code >= 400 && this.code < 500 && this.code !== 429;
  }
  /** Editing with identical content: Telegram says "message is not modified" (treat as done). */
  get notModified(): boolean {
    return this.code === 400 && /message is not modified/i.test(this.description);
  }
}
