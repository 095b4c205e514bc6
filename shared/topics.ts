/**
 * Pub/Sub topic names. The first four are the user's (SPEC 1); the rest are what the design needs.
 * Every subscription dead-letters to `${topic}-dlq`.
 */
export const TOPICS = {
  /** Batched raw Bybit trades: at most one message per symbol per second. */
  rawTicks: 'raw-tick-data-bybit',
  /** Closed Kraken candles after each pull. */
  krakenOhlc: 'ohlc-data-kraken',
  macroBias: 'macro-bias-updates',
  microSignals: 'trade-signals-micro',
  /** Closed Bybit 1m candles, exactly once per (symbol, open time), in order per symbol. */
  bybitCandles: 'candles-bybit-1m',
  /** 15-second snapshots (forming candle + book features) per symbol. */
  snapshots: 'snapshots-bybit-15s',
  swingSignals: 'trade-signals-swing',
  tradeEvents: 'trade-events',
  tradeCommands: 'trade-commands',
  /** System alerts: data stale, bad data, config rejected, protections. */
  alerts: 'system-alerts',
  /** Heavy Telegram work handed off by the webhook (charts, lists) and outbox drains. */
  telegramJobs: 'telegram-jobs',
} as const;

export type TopicName = (typeof TOPICS)[keyof typeof TOPICS];

export function deadLetterTopic(topic: string): string {
  return `${topic}-dlq`;
}

export const ALL_TOPICS: string[] = Object.values(TOPICS);
