/**
 * A rotated secret reaches running instances without a redeploy: Secret Manager's `latest` is read
 * again after SECRET_REFRESH_MS, and the Telegram side rebuilds its bot client when the bot token or
 * the webhook secret it was built with changed. A failed refresh keeps the value read before.
 */
import { describe, expect, it } from 'vitest';
import { SECRET_REFRESH_MS, secretManagerSecrets, type SecretAccessClient } from '../../infra/secrets.js';
import { createRoot } from '../../infra/runtime/root.js';
import { embeddedEnv } from '../kraken/helpers.js';
import { staticConfig } from '../../shared/config/source.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { ManualClock } from '../../shared/ports/clock.js';

describe('secret rotation', () => {
  it('re-reads latest after the refresh time; a failed refresh keeps the old value', async () => {
    let now = 0;
    const values: Record<string, string> = { 'telegram-bot-token': '111:old-token-value' };
    let fail = false;
    const client: SecretAccessClient = {
      async accessSecretVersion({ name }) {
        if (fail) throw Object.assign(new Error('UNAVAILABLE'), { code: 14 });
        const v = values[name.split('/')[3]!];
        if (v === undefined) throw Object.assign(new Error('NOT_FOUND'), { code: 5 });
        return [{ payload: { data: v } }];
      },
    };
    const s = secretManagerSecrets('proj', client, { now: () => now });
    expect(await s.get('telegram-bot-token')).toBe('111:old-token-value');
    values['telegram-bot-token'] = '111:new-token-value';
    now = SECRET_REFRESH_MS - 1;
    expect(await s.get('telegram-bot-token')).toBe('111:old-token-value'); // still cached
    now = SECRET_REFRESH_MS;
    expect(await s.get('telegram-bot-token')).toBe('111:new-token-value');
    fail = true;
    now = 2 * SECRET_REFRESH_MS;
    expect(await s.get('telegram-bot-token')).toBe('111:new-token-value'); // Secret Manager down: keep it
  });

  it('the Telegram side rebuilds its bot client with the rotated token and webhook secret', async () => {
    const env = await embeddedEnv();
    try {
      let now = 0;
      const values: Record<string, string> = { 'telegram-bot-token': '222:first-token', 'telegram-webhook-secret': 'first-secret' };
      const client: SecretAccessClient = {
        async accessSecretVersion({ name }) {
          const v = values[name.split('/')[3]!];
          if (v === undefined) throw Object.assign(new Error('NOT_FOUND'), { code: 5 });
          return [{ payload: { data: v } }];
        },
      };
      const root = createRoot(
        { state: env.state, bus: env.bus, warehouse: env.warehouse, clock: new ManualClock(0), log: env.log, config: staticConfig(DEFAULT_SYSTEM_CONFIG), endpoints: { krakenRest: 'http://127.0.0.1:1', bybitRest: 'http://127.0.0.1:1', bybitWs: 'ws://127.0.0.1:1' } },
        { secrets: secretManagerSecrets('proj', client, { now: () => now }), env: {} },
      );
      const first = await root.telegram();
      expect(first.deps.dashboard?.botToken).toBe('222:first-token');
      expect(first.webhookSecret).toBe('first-secret');
      expect(await root.telegram()).toBe(first); // nothing changed: the same runtime

      values['telegram-bot-token'] = '222:rotated-token';
      values['telegram-webhook-secret'] = 'rotated-secret';
      expect(await root.telegram()).toBe(first); // not re-read yet
      now = SECRET_REFRESH_MS;
      const second = await root.telegram();
      expect(second).not.toBe(first);
      expect(second.api).not.toBe(first.api);
      expect(second.deps.dashboard?.botToken).toBe('222:rotated-token');
      expect(second.webhookSecret).toBe('rotated-secret');
    } finally {
      await env.close();
    }
  });
});
