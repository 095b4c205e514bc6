/**
 * The deploy steps that go through client libraries or HTTP instead of a CLI: the Cloud Scheduler jobs
 * (infra/scheduler/cloud-sync.ts through its SchedulerClientLike port), Cloud Monitoring
 * (infra/monitoring/apply.ts through its MonitoringApi port) and the Telegram webhook (Bot API
 * getWebhookInfo, setWebhook only when the URL differs). Every client is injected.
 */
import type { SecretName } from '../../shared/ports/secrets.js';
import type { ScheduleFile } from '../../shared/schedule/schema.js';
import { applyMonitoring as realApplyMonitoring, type MonitoringApi } from '../monitoring/apply.js';
import { TELEGRAM_WEBHOOK_SERVICE } from '../runtime/registry.js';
import { applyPlan, DEFAULT_JOB_PREFIX, desiredSpecs, listAllJobs, planSync, type SchedulerClientLike, type SyncTarget } from '../scheduler/cloud-sync.js';
import { BotApiTelegram } from '../telegram/bot-api.js';
import { INVOKER_SA, serviceAccountEmail } from './access.js';
import type { ApiAction, ApiHandlers } from './execute.js';
import type { ApiResource } from './resources.js';

/** The update types the bot handles (messages in chats and groups, button presses). */
export const ALLOWED_UPDATES = ['message', 'callback_query', 'my_chat_member'];

export interface ApiDeps {
  project: string;
  region: string;
  schedule: ScheduleFile;
  scheduler: () => Promise<SchedulerClientLike>;
  monitoring: () => Promise<MonitoringApi>;
  applyMonitoring?: typeof realApplyMonitoring;
  /** A secret's current value (for the bot token and the webhook secret). */
  secret: (name: SecretName) => Promise<string | undefined>;
  /** Bot API base (tests: the local Bot API server); default api.telegram.org. */
  telegramApiRoot?: string;
  /** Where the alert policies notify (infra/monitoring/apply.ts). */
  alertEmail?: string;
  /** Set the webhook even when the URL is the same (the webhook secret was rotated). */
  forceWebhook?: boolean;
}

export function schedulerTarget(project: string, region: string): SyncTarget {
  return { project, location: region, serviceAccountEmail: serviceAccountEmail(INVOKER_SA, project), prefix: DEFAULT_JOB_PREFIX };
}

export function apiHandlers(d: ApiDeps): ApiHandlers {
  return {
    'scheduler-jobs': async () => {
      const client = await d.scheduler();
      const target = schedulerTarget(d.project, d.region);
      const plan = planSync(desiredSpecs(d.schedule, target), await listAllJobs(client, target), target.prefix);
      await applyPlan(client, target, plan);
      return plan.map((p): ApiAction => ({ action: p.action, kind: 'scheduler-job', name: p.id, ...(p.changes.length ? { detail: p.changes.join('; ') } : {}) }));
    },
    monitoring: async () => {
      const report = await (d.applyMonitoring ?? realApplyMonitoring)(await d.monitoring(), { project: d.project, ...(d.alertEmail ? { alertEmail: d.alertEmail } : {}) });
      return report.actions.map((a): ApiAction => ({ action: a.action, kind: a.kind, name: a.name }));
    },
    'telegram-webhook': async (facts) => {
      const url = facts[`url:${TELEGRAM_WEBHOOK_SERVICE}`];
      if (!url) throw new Error(`the URL of the ${TELEGRAM_WEBHOOK_SERVICE} service is not known`);
      const [token, secret] = await Promise.all([d.secret('telegram-bot-token'), d.secret('telegram-webhook-secret')]);
      if (!token || !secret) throw new Error('the bot token and the webhook secret are both needed (secrets telegram-bot-token, telegram-webhook-secret)');
      const bot = new BotApiTelegram(token, d.telegramApiRoot ? { apiRoot: d.telegramApiRoot } : {});
      const current = (await bot.getWebhookInfo()).url;
      if (current === url && !d.forceWebhook) return [{ action: 'unchanged', kind: 'telegram-webhook', name: url }];
      await bot.setWebhook(url, secret, { allowedUpdates: ALLOWED_UPDATES });
      return [{ action: current ? 'update' : 'create', kind: 'telegram-webhook', name: url, ...(current === url ? { detail: 'webhook secret rotated' } : {}) }];
    },
  };
}

/** What the dry run prints for an API-managed resource (contacts nothing). */
export function apiPlanLines(r: ApiResource, o: { project: string; region: string; schedule: ScheduleFile }): string[] {
  if (r.kind !== 'scheduler-jobs') return [];
  return desiredSpecs(o.schedule, schedulerTarget(o.project, o.region)).map(
    (s) => `job ${s.id}  ${s.schedule} (${s.timeZone})  POST ${s.uri}  oidc=${s.oidcServiceAccount} aud=${s.oidcAudience}`,
  );
}
