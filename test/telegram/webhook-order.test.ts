/**
 * The webhook's order (issue 8): the secret header first, then the body size cap, then parsing; refusals
 * are fixed plain answers (no stack, no path, no parser text); an update whose handler died is handled
 * again on Telegram's retry. Against the webhook as `npm start` serves it (front + functions-framework)
 * and as its deployed Cloud Run service serves it (functions/telegram-webhook/server.ts); the service's
 * real process entry is tested in webhook-service.test.ts.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_TELEGRAM_CONFIG } from '../../shared/config/telegram.js';
import { TG_UPDATES_COLLECTION, updateMarkerPath } from '../../shared/state-paths.js';
import { makeHarness, MB, OWNER, postPartial as post, postRaw, SECRET, textsTo, textUpdate, WEBHOOK_SERVINGS, type Harness } from './helpers.js';

describe.each(WEBHOOK_SERVINGS)('served by %s', (serve) => {
  let h: Harness;
  beforeEach(async () => {
    h = await makeHarness({ candles: false, serve });
  });
  afterEach(async () => {
    await h.close();
  });

  const raw = (body: string, secret: string | undefined) => postRaw(h.webhookUrl, body, secret);

  describe('webhook order: secret, then size, then parsing', () => {
    it('refuses a wrong secret with a 5 MB body from the headers alone: nothing read, nothing parsed', async () => {
      // Only the first 64 KB of the declared 5 MB are ever sent: the answer cannot wait for the body.
      const r = await post(h.webhookUrl, { 'x-telegram-bot-api-secret-token': 'wrong' }, 5 * MB, { writeAtMost: 64 * 1024 });
      expect(r.status).toBe(401);
      expect(JSON.parse(r.text)).toEqual({ error: 'unauthorized' });
      expect(await h.state.query(TG_UPDATES_COLLECTION)).toHaveLength(0);
    }, 10_000);

    it('refuses an authenticated body over the cap: by its declared length, and by counting a chunked one', async () => {
      const declared = await post(h.webhookUrl, { 'x-telegram-bot-api-secret-token': SECRET }, 5 * MB, { writeAtMost: 64 * 1024 });
      expect(declared.status).toBe(413);
      // Chunked (no declared length): the front counts, and answers once the cap is passed; the client
      // sends a little more than the cap and then waits.
      const cap = DEFAULT_TELEGRAM_CONFIG.webhook.maxBodyBytes;
      const chunked = await post(h.webhookUrl, { 'x-telegram-bot-api-secret-token': SECRET }, 5 * MB, { chunked: true, writeAtMost: cap + 128 * 1024 });
      expect(chunked.status).toBe(413);
      expect(JSON.parse(chunked.text)).toEqual({ error: 'body too large' });
    }, 10_000);

    it('answers a malformed body with a plain 400 (no stack, no path, no parser text); without the secret, 401', async () => {
      for (const body of ['{"update_id": 1, "message": ', 'not json at all', '']) {
        const r = await raw(body, SECRET);
        expect(r.status).toBe(400);
        expect(JSON.parse(r.text)).toEqual({ error: 'malformed JSON body' });
      }
      const r = await raw('{"update_id": 1, ', undefined);
      expect(r.status).toBe(401);
      expect(r.text).not.toMatch(/SyntaxError|JSON|at |\/work|node_modules/);
      expect(await h.state.query(TG_UPDATES_COLLECTION)).toHaveLength(0);
    });

    it('still handles a normal update (the front hands the parsed body to the function)', async () => {
      const r = await h.deliver(textUpdate(OWNER, '/help'));
      expect(r).toEqual({ status: 200, body: { ok: true, handled: expect.any(String) } });
      expect(textsTo(h.server, OWNER)).toHaveLength(1);
    });
  });

  describe('an update whose handling did not finish is handled again on retry', () => {
    it('a marker left "processing" by a crashed handler: 503 while young, handled once it is older than the timeout', async () => {
      const u = textUpdate(OWNER, '/help');
      const id = u.update_id as number;
      // What a handler that died after taking the marker leaves behind (and nothing else).
      await h.state.create(updateMarkerPath(id), { updateId: id, receivedAt: h.clock.now(), status: 'processing', attempts: 1 });

      // Telegram retries at once: the marker may belong to a live handler, so "later", not "duplicate".
      const early = await h.deliver(u);
      expect(early.status).toBe(503);
      expect(textsTo(h.server, OWNER)).toHaveLength(0);

      // Telegram retries again after the processing timeout: handled, exactly once.
      h.clock.advance(DEFAULT_TELEGRAM_CONFIG.webhook.processingTimeoutMs);
      const retry = await h.deliver(u);
      expect(retry.status).toBe(200);
      expect(retry.body).toMatchObject({ ok: true, handled: expect.any(String) });
      expect(textsTo(h.server, OWNER)).toHaveLength(1);
      expect(await h.state.get(updateMarkerPath(id))).toMatchObject({ status: 'done', attempts: 2 });

      // A later retry is now a duplicate.
      expect(await h.deliver(u)).toEqual({ status: 200, body: { ok: true, duplicate: true } });
      expect(textsTo(h.server, OWNER)).toHaveLength(1);
    });
  });
});
