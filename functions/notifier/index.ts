/**
 * notifier (Pub/Sub): trade events (trade-events: each signal's one outcome, then its trade), system
 * alerts (system-alerts) and the webhook's hand-off jobs (telegram-jobs) become Telegram messages in
 * the persisted outbox, which is then drained within Telegram's limits.
 */
import * as ff from '@google-cloud/functions-framework';
import { z } from 'zod';
import { pubsubHandler, type PubsubDomainFn } from '../../infra/functions.js';
import { asCloudEventFunction } from '../../infra/bus/envelope.js';
import { getTelegramRuntime } from '../../infra/telegram/runtime.js';
import { drainAndContinue, notify } from '../../shared/telegram/dispatch.js';

export const FUNCTION_NAME = 'notifier';

export const notifierDomain: PubsubDomainFn<unknown> = async (ctx, msg) => {
  const rt = await getTelegramRuntime(ctx);
  const deps = { ...rt.deps, log: ctx.log };
  const r = await notify(deps, msg.payload);
  const d = await drainAndContinue(deps, rt.sender);
  ctx.log.info('notifier done', { kind: r.kind, queued: r.queued, sent: d.sent, remaining: d.remaining, drained: d.ran, stopped: d.stopped });
};

export const notifier = pubsubHandler(FUNCTION_NAME, z.unknown(), notifierDomain);

ff.cloudEvent(FUNCTION_NAME, asCloudEventFunction(notifier));
