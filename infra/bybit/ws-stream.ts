/**
 * BybitStream adapter on bybit-api v4 `WebsocketClient` (market 'v5', linear public connection).
 *
 * - `wsUrl` points the client at live Bybit (`wss://stream.bybit.com/v5/public/linear`) or at the
 *   local replay server (`ws://127.0.0.1:PORT/v5/public/linear`); bybit-api uses it for every key.
 * - Heartbeat: bybit-api sends `{"op":"ping"}` every `pingIntervalMs` (SPEC: 20 s) and reconnects when
 *   no pong arrives within `pongTimeoutMs`.
 * - Reconnect: bybit-api reconnects after `reconnectTimeout` and re-sends the subscriptions it tracks.
 *   It has a fixed delay, so this adapter turns it into exponential back-off (min -> max, doubling on
 *   every failed attempt, reset on success) by adjusting the client's `reconnectTimeout` option from a
 *   subclass (the option is `protected` in bybit-api's types).
 * - Messages arrive already parsed by bybit-api (`update` event) and are handed to the holder as is.
 * - bybit-api 4.7 only settles pending requests on `op: "subscribe"` acks, so an unsubscribe request
 *   would stay pending forever and block the next subscribe of the same topics ("duplicate request
 *   ID": the request id is the topic list). The subclass settles it on the `op: "unsubscribe"` ack.
 */
import { WebsocketClient, WS_KEY_MAP, type DefaultLogger, type WSClientConfigurableOptions } from 'bybit-api';
import type { BybitStream, BybitStreamHandlers, StreamState } from '../../shared/ports/bybit.js';
import type { Logger } from '../../shared/log.js';

const LINEAR = 'linear';
/** Bound on how long close() waits for the socket to report closed. */
const CLOSE_WAIT_MS = 2_000;
/** Bound on how long unsubscribe() waits for the exchange's ack. */
const UNSUBSCRIBE_ACK_TIMEOUT_MS = 5_000;

class BackoffWebsocketClient extends WebsocketClient {
  setReconnectDelay(ms: number): void {
    this.options.reconnectTimeout = ms;
  }

  /** Settles the pending unsubscribe request that an `op: "unsubscribe"` ack answers. */
  settleUnsubscribe(ack: { req_id?: string; success?: boolean }): void {
    if (typeof ack.req_id !== 'string' || ack.req_id === '') return;
    this.updatePendingTopicSubscriptionStatus(WS_KEY_MAP.v5LinearPublic, ack.req_id, ack, ack.success === true);
  }
}

interface WsStreamOptions {
  wsUrl: string;
  pingIntervalMs: number;
  pongTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  log: Logger;
}

function libraryLogger(log: Logger): DefaultLogger {
  const text = (params: unknown[]): string => params.filter((p) => typeof p === 'string').join(' ');
  return {
    trace: () => undefined,
    info: (...params: unknown[]) => log.debug(`bybit-api: ${text(params)}`),
    // bybit-api logs every failed reconnect attempt as an error; the adapter reports state changes.
    error: (...params: unknown[]) => log.debug(`bybit-api error: ${text(params)}`),
  };
}

export class BybitWsStream implements BybitStream {
  private readonly client: BackoffWebsocketClient;
  private handlers: BybitStreamHandlers = {};
  private st: StreamState = 'idle';
  private delay: number;
  private everConnected = false;

  constructor(private readonly o: WsStreamOptions) {
    this.delay = o.reconnectMinMs;
    const options: WSClientConfigurableOptions = {
      market: 'v5',
      wsUrl: o.wsUrl,
      pingInterval: o.pingIntervalMs,
      pongTimeout: o.pongTimeoutMs,
      reconnectTimeout: o.reconnectMinMs,
      promiseSubscribeRequests: true,
    };
    this.client = new BackoffWebsocketClient(options, libraryLogger(o.log));
    this.client.on('open', () => {
      this.connected();
      this.everConnected = true;
      this.handlers.onOpen?.();
    });
    this.client.on('reconnected', () => {
      this.connected();
      if (this.everConnected) this.handlers.onReconnected?.();
      else {
        this.everConnected = true;
        this.handlers.onOpen?.();
      }
    });
    this.client.on('reconnect', () => {
      const wasConnected = this.st === 'connected';
      this.st = 'reconnecting';
      // the delay of the attempt just scheduled was the current one; the next one doubles
      this.delay = Math.min(this.o.reconnectMaxMs, this.delay * 2);
      this.client.setReconnectDelay(this.delay);
      if (wasConnected) this.handlers.onDisconnect?.('connection lost');
    });
    this.client.on('close', () => {
      this.st = 'closed';
    });
    this.client.on('update', (msg: unknown) => this.handlers.onMessage?.(msg));
    this.client.on('response', (r: { op?: string; success?: boolean; ret_msg?: string; req_id?: string }) => {
      if ((r?.op === 'subscribe' || r?.op === 'unsubscribe') && r.success === false) {
        this.handlers.onSubscribeFailed?.([], r.ret_msg ?? 'rejected');
      }
      if (r?.op === 'unsubscribe') this.client.settleUnsubscribe(r);
    });
    this.client.on('exception', (e: unknown) => {
      if (this.st === 'connected') this.o.log.warn('bybit websocket exception', { error: String((e as { message?: string })?.message ?? e) });
    });
  }

  private connected(): void {
    this.st = 'connected';
    this.delay = this.o.reconnectMinMs;
    this.client.setReconnectDelay(this.delay);
  }

  setHandlers(handlers: BybitStreamHandlers): void {
    this.handlers = handlers;
  }

  state(): StreamState {
    return this.st;
  }

  async connect(): Promise<void> {
    if (this.st === 'connected' || this.st === 'connecting') return;
    this.st = 'connecting';
    await this.client.connect(WS_KEY_MAP.v5LinearPublic);
  }

  async subscribe(topics: string[]): Promise<void> {
    if (topics.length === 0) return;
    await Promise.all(this.client.subscribeV5(topics, LINEAR));
  }

  async unsubscribe(topics: string[]): Promise<void> {
    if (topics.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), UNSUBSCRIBE_ACK_TIMEOUT_MS);
    });
    try {
      const r = await Promise.race([Promise.all(this.client.unsubscribeV5(topics, LINEAR)), timeout]);
      if (r === 'timeout') this.o.log.warn('no unsubscribe ack from bybit; continuing', { topics });
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    if (this.st === 'closed' || this.st === 'idle') {
      this.st = 'closed';
      return;
    }
    const closed = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, CLOSE_WAIT_MS);
      this.client.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.client.closeAll(true);
    await closed;
    this.st = 'closed';
  }
}
