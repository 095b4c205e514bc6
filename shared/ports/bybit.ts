/**
 * Ports of the Bybit websocket holder (SPEC 2): the public v5 websocket stream and the REST kline
 * source used to backfill missed 1m candles.
 *
 * Adapters: `infra/bybit/ws-stream.ts` (bybit-api `WebsocketClient`, live Bybit or the local replay
 * server) and `infra/bybit/rest-klines.ts` (bybit-api `RestClientV5`).
 */
import type { Candle } from '../model/market.js';

export type StreamState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed';

export interface BybitStreamHandlers {
  /** First successful connection. */
  onOpen?(): void;
  /**
   * One exchange message (data or control). Adapters that already parsed the frame pass the object,
   * adapters that did not may pass the raw JSON text; the holder accepts both.
   */
  onMessage?(msg: unknown): void;
  /** The connection dropped; the adapter is reconnecting with back-off. */
  onDisconnect?(reason: string): void;
  /** The connection is back and the adapter has re-sent the subscriptions it tracks. */
  onReconnected?(): void;
  /** A subscribe/unsubscribe request was rejected by the exchange. */
  onSubscribeFailed?(topics: string[], reason: string): void;
}

/** The Bybit v5 public websocket (one connection, e.g. `wss://stream.bybit.com/v5/public/linear`). */
export interface BybitStream {
  setHandlers(handlers: BybitStreamHandlers): void;
  connect(): Promise<void>;
  /** Subscribes and remembers the topics, so they are re-subscribed after every reconnect. */
  subscribe(topics: string[]): Promise<void>;
  /** Unsubscribes and forgets the topics. */
  unsubscribe(topics: string[]): Promise<void>;
  /** Closes for good (no reconnect). */
  close(): Promise<void>;
  state(): StreamState;
}

/** Closed 1m candles from Bybit REST `GET /v5/market/kline` (category linear). */
export interface KlineSource {
  /**
   * Closed 1m candles of `symbol` with open time in [fromOpenTime, toOpenTime], ascending, without
   * duplicates. Minutes the exchange has not closed yet are left out (never a forming candle).
   */
  closedKlines1m(symbol: string, fromOpenTime: number, toOpenTime: number): Promise<Candle[]>;
}
