/**
 * `/analyze SYMBOL` answers from stored data (issue 8): production stores only Bybit 1m candles, so
 * the 15m series is resampled from them. End to end: the update goes through the webhook (front +
 * functions-framework), the job through the bus to the notifier, the card through the outbox to the
 * local Bot API server. Real SOL/BTC/ETH 1m candles of 2025-06-22 (test/fixtures/telegram), checked
 * against Bybit's own 15m candles of the same hours.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeHotCandles } from '../../shared/market/hot-store.js';
import { rsi, last } from '../../shared/indicators/tulind.js';
import { candlesUntil } from '../../shared/telegram/chart-data.js';
import { ANALYZE } from '../../shared/telegram/jobs.js';
import { fmtPrice } from '../../shared/telegram/html.js';
import { loadCandles, makeHarness, MIN, OWNER, textsTo, textUpdate, type Harness } from './helpers.js';

let h: Harness;
beforeEach(async () => {
  // Only what production writes: Bybit 1m candles (no 15m or 1h series for Bybit).
  h = await makeHarness({ candles: false });
  await writeHotCandles(h.state, [
    ...loadCandles('SOLUSDT_1m_2025-06-22T1000_1400.csv', 'SOLUSDT', '1m'),
    ...loadCandles('BTCUSDT_1m_2025-06-22T1000_1400.csv', 'BTCUSDT', '1m'),
    ...loadCandles('ETHUSDT_1m_2025-06-22T1000_1400.csv', 'ETHUSDT', '1m'),
  ]);
});
afterEach(async () => {
  await h.close();
});

/** Bybit's real 15m candles of the hours the 1m fixture covers (10:00-13:45 UTC). */
function bybit15m() {
  const from = Date.UTC(2025, 5, 22, 10, 0);
  return loadCandles('SOLUSDT_15m_to_2025-06-22T1345.csv', 'SOLUSDT', '15m').filter((c) => c.openTime >= from);
}

describe('/analyze from stored 1m candles', () => {
  it('the 15m series resampled from stored 1m equals Bybit\'s own 15m candles; the open bucket is left out', async () => {
    const now = h.clock.now(); // 14:00 UTC: the 13:45 bucket closed with the 13:59 candle
    const got = await candlesUntil(h.state, 'bybit', 'SOLUSDT', '15m', now, ANALYZE.candles);
    const want = bybit15m();
    expect(want).toHaveLength(16);
    expect(got.map((c) => c.openTime)).toEqual(want.map((c) => c.openTime));
    for (const [i, c] of got.entries()) {
      const w = want[i]!;
      expect([c.open, c.high, c.low, c.close]).toEqual([w.open, w.high, w.low, w.close]);
      expect(c.volume).toBeCloseTo(w.volume, 6);
    }
    // Half an hour earlier (13:30:30): only buckets closed by then, none that was still open.
    const earlier = await candlesUntil(h.state, 'bybit', 'SOLUSDT', '15m', now - 29 * MIN - 30_000, ANALYZE.candles);
    expect(earlier.at(-1)!.openTime).toBe(Date.UTC(2025, 5, 22, 13, 15));
  });

  it('/analyze SOL through the webhook answers with the indicators of the resampled series (not "No 15m candles stored")', async () => {
    const r = await h.deliver(textUpdate(OWNER, '/analyze SOL'));
    expect(r.status).toBe(200);
    expect(textsTo(h.server, OWNER).join('\n')).not.toContain('No 15m candles');
    const card = h.server.ok('sendPhoto').filter((c) => c.chatId === OWNER).at(-1);
    expect(card, 'an /analyze card with a chart').toBeDefined();
    const caption = card!.fields.caption!;
    const want = bybit15m();
    const close = want.at(-1)!.close;
    expect(caption).toContain('<b>SOLUSDT</b>');
    expect(caption).toContain(`· ${fmtPrice(close)} ·`);
    expect(caption).toContain('2025-06-22 13:45 UTC');
    // RSI14 of Bybit's real 15m closes of those hours: what the card must say.
    const expected = last(rsi(Float64Array.from(want.map((c) => c.close)), ANALYZE.rsiPeriod));
    expect(Number.isFinite(expected)).toBe(true);
    expect(caption).toContain(`RSI${ANALYZE.rsiPeriod} ${expected.toFixed(1)}`);
  });
});
