/**
 * Points the bot's webhook at the deployed `telegram-webhook` Cloud Run service, with the secret token
 * Telegram will send back in `X-Telegram-Bot-Api-Secret-Token` (the service answers 401 without it,
 * before reading the body). The URL is the service's:
 *   gcloud run services describe telegram-webhook --region=REGION --project=P --format='value(status.url)'
 *
 *   CST_TELEGRAM_BOT_TOKEN=... CST_TELEGRAM_WEBHOOK_SECRET=... npx tsx scripts/telegram-webhook.ts --url https://telegram-webhook-....run.app
 *   npx tsx scripts/telegram-webhook.ts --project P --url ...     # secrets from Secret Manager
 *
 * `npm run deploy` does this itself (infra/deploy/apis.ts, only when the URL differs); this script is
 * for pointing the bot somewhere by hand.
 */
import { parseArgs } from 'node:util';
import { envSecrets, secretManagerSecrets } from '../infra/secrets.js';
import { BotApiTelegram } from '../infra/telegram/bot-api.js';
import { ALLOWED_UPDATES } from '../infra/deploy/apis.js';

const HELP = `Usage: npx tsx scripts/telegram-webhook.ts --url URL [--project P] [--drop-pending]

Registers URL as the bot's webhook with the webhook secret. Secrets come from CST_TELEGRAM_BOT_TOKEN /
CST_TELEGRAM_WEBHOOK_SECRET, or from Secret Manager (telegram-bot-token, telegram-webhook-secret) with --project.
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      url: { type: 'string' },
      project: { type: 'string' },
      'drop-pending': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return void process.stdout.write(HELP);
  if (!values.url || !/^https:\/\//.test(values.url)) {
    process.stderr.write(`error: --url must be the https URL of the telegram-webhook Cloud Run service (Telegram only calls https)\n\n${HELP}`);
    process.exit(2);
  }
  const secrets = values.project ? secretManagerSecrets(values.project) : envSecrets();
  const [token, secret] = await Promise.all([secrets.get('telegram-bot-token'), secrets.get('telegram-webhook-secret')]);
  if (!token || !secret) {
    process.stderr.write('error: the bot token and the webhook secret are both needed (see --help for where they are read from)\n');
    process.exit(2);
  }
  await new BotApiTelegram(token).setWebhook(values.url, secret, { allowedUpdates: ALLOWED_UPDATES, dropPendingUpdates: values['drop-pending'] });
  process.stdout.write(`webhook set to ${values.url}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`error: ${(e as Error).message}\n`);
  process.exit(1);
});
