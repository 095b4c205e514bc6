/**
 * Secrets port: exchange keys, the Telegram bot token and webhook secret. In the cloud they come
 * from Secret Manager; locally from the environment. Every value read is registered with the logger
 * so it is masked in any log line (shared/log.ts registerSecret).
 */
export const SECRET_NAMES = ['telegram-bot-token', 'telegram-webhook-secret', 'bybit-api-key', 'bybit-api-secret'] as const;
export type SecretName = (typeof SECRET_NAMES)[number];

export interface SecretSource {
  /** The secret's value, or undefined when it is not configured. */
  get(name: SecretName): Promise<string | undefined>;
}

/** Environment variable holding a secret locally: `telegram-bot-token` -> `CST_TELEGRAM_BOT_TOKEN`. */
export function secretEnvVar(name: SecretName): string {
  return `CST_${name.toUpperCase().replace(/-/g, '_')}`;
}
