/**
 * notifier (Pub/Sub): trade events (trade-events: each signal's one outcome, then its trade), system
 * alerts (system-alerts) and the webhook's hand-off jobs (telegram-jobs) become Telegram messages in
 * the persisted outbox, which is then drained within Telegram's limits. Routed by the message's topic
 * (its payload was validated against that topic's schema on the way in), never by its shape.
 */
import type { Logger } from '../log.js';
import { routeByTopic, type BusMessage } from '../messages.js';
import type { TelegramDeps, TelegramSide } from '../telegram/deps.js';
import { drainAndContinue } from '../telegram/dispatch.js';
import { runJob } from '../telegram/jobs.js';
import { Notifier } from '../telegram/notifier.js';
import { TOPICS } from '../topics.js';

export const FUNCTION_NAME = 'notifier';

export interface Deps {
  log: Logger;
  /** The Telegram side for the config in force (infra/telegram/runtime.ts). */
  telegram(): Promise<TelegramSide>;
}

/** Queues what one message says, then drains the outbox. */
async function queueAndDrain(deps: Deps, kind: string, queue: (d: TelegramDeps) => Promise<number>): Promise<void> {
  const side = await deps.telegram();
  const d = { ...side.deps, log: deps.log };
  const queued = await queue(d);
  const r = await drainAndContinue(d, side.sender);
  deps.log.info('notifier done', { kind, queued, sent: r.sent, remaining: r.remaining, drained: r.ran, stopped: r.stopped });
}

export const handle = routeByTopic(FUNCTION_NAME, {
  [TOPICS.tradeEvents]: async (deps: Deps, msg: BusMessage<typeof TOPICS.tradeEvents>) =>
    queueAndDrain(deps, 'trade_event', (d) => new Notifier(d).onTradeEvent(msg.payload)),
  [TOPICS.alerts]: async (deps: Deps, msg: BusMessage<typeof TOPICS.alerts>) =>
    queueAndDrain(deps, 'alert', (d) => new Notifier(d).onSystemAlert(msg.payload)),
  [TOPICS.telegramJobs]: async (deps: Deps, msg: BusMessage<typeof TOPICS.telegramJobs>) => queueAndDrain(deps, 'job', (d) => runJob(d, msg.payload)),
});
