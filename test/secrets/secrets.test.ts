import { describe, expect, it } from 'vitest';
import { createLogger } from '../../shared/log.js';
import { envSecrets, secretManagerSecrets, type SecretAccessClient } from '../../infra/secrets.js';

describe('secrets', () => {
  it('reads CST_* environment variables and masks their values in every later log line', async () => {
    const token = '123456:AAH-test-token-value';
    const s = envSecrets({ CST_TELEGRAM_BOT_TOKEN: token });
    expect(await s.get('telegram-bot-token')).toBe(token);
    expect(await s.get('bybit-api-key')).toBeUndefined();
    const lines: string[] = [];
    createLogger({}, { sink: (l) => lines.push(l) }).info(`calling https://api.telegram.org/bot${token}/sendMessage`, { url: `/bot${token}/x` });
    expect(lines[0]).not.toContain(token);
    expect(lines[0]).toContain('[REDACTED]');
  });

  it('reads the latest Secret Manager version once, and treats NOT_FOUND as not configured', async () => {
    const calls: string[] = [];
    const client: SecretAccessClient = {
      async accessSecretVersion({ name }) {
        calls.push(name);
        if (name.includes('bybit-api-key')) throw Object.assign(new Error('NOT_FOUND'), { code: 5 });
        return [{ payload: { data: Buffer.from('s3cr3t-webhook') } }];
      },
    };
    const s = secretManagerSecrets('proj', client);
    expect(await s.get('telegram-webhook-secret')).toBe('s3cr3t-webhook');
    expect(await s.get('telegram-webhook-secret')).toBe('s3cr3t-webhook');
    expect(await s.get('bybit-api-key')).toBeUndefined();
    expect(calls).toEqual([
      'projects/proj/secrets/telegram-webhook-secret/versions/latest',
      'projects/proj/secrets/bybit-api-key/versions/latest',
    ]);
  });

  it('names the secret and project when Secret Manager fails, and retries on the next read', async () => {
    let n = 0;
    const client: SecretAccessClient = {
      async accessSecretVersion() {
        n++;
        if (n === 1) throw Object.assign(new Error('PERMISSION_DENIED: no access'), { code: 7 });
        return [{ payload: { data: 'ok-value' } }];
      },
    };
    const s = secretManagerSecrets('proj', client);
    await expect(s.get('bybit-api-secret')).rejects.toThrow("cannot read secret 'bybit-api-secret' in project proj: PERMISSION_DENIED");
    expect(await s.get('bybit-api-secret')).toBe('ok-value');
  });
});
