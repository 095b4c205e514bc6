/**
 * Heavy work the webhook hands off on the `telegram-jobs` topic (the catalog's `telegramJobSchema`;
 * the webhook answers Telegram at once, the notifier renders): the large chart of an alert, /last with
 * a chart per trade, /equity, /analyze, the chart of /shadow.
 * Every outbox key derives from the request key (the update id), so a redelivered job sends nothing twice.
 */
import type { Candle } from '../model/market.js';
import { ema, last as lastValue, macd, rsi } from '../indicators/tulind.js';
import { horizontalLevels } from '../strategies/levels.js';
import { seriesFromCandles } from '../strategies/series.js';
import type { StoredBias } from '../pipeline/macro-analysis.js';
import { alertRecordPath, biasPath } from '../state-paths.js';
import { isBiasActive } from '../strategies/macro/bias.js';
import { buildTradeChartInput, candlesUntil } from './chart-data.js';
import type { TelegramDeps } from './deps.js';
import { readAccount } from './deps.js';
import { alertCaption, tradeCaption, type AlertRecord } from './format.js';
import { escapeHtml, fmtPct, fmtPrice, fmtTimeUtc, html, MAX_CAPTION_CHARS, truncateHtml } from './html.js';
import { enqueue, type EnqueueItem } from './outbox.js';
import { equityCaption, equityPoints } from './reports.js';
import { Notifier } from './notifier.js';
import { shadowChartItem } from './research.js';
import { alertKeyOf } from './keyboards.js';
import type { TelegramJob } from '../messages.js';

/** Indicator periods of the /analyze card (proposed config: telegram.analyze). */
export const ANALYZE = { interval: '15m' as const, candles: 200, rsiPeriod: 14, emaFast: 20, emaSlow: 50, macd: [12, 26, 9] as const };

type ChatJob = Exclude<TelegramJob, { kind: 'drain' }>;

function target(j: ChatJob): Pick<EnqueueItem, 'chatId' | 'threadId'> {
  return { chatId: j.chatId, threadId: j.threadId };
}

export async function runJob(d: TelegramDeps, job: TelegramJob): Promise<number> {
  const now = d.clock.now();
  const text = (key: string, j: ChatJob, t: string): EnqueueItem => ({ key, ...target(j), op: { type: 'text', text: t } });
  switch (job.kind) {
    case 'drain':
      return 0;
    case 'chart': {
      const rec = await d.state.get<AlertRecord>(alertRecordPath(job.alertKey));
      if (!rec) return (await enqueue(d.state, [text(`job:${job.requestKey}`, job, 'That alert is no longer available.')], now)).length;
      const photo = await new Notifier(d).tradeChart(rec, 'large');
      const item: EnqueueItem = photo
        ? { key: `job:${job.requestKey}`, ...target(job), op: { type: 'photo', fileId: '', caption: alertCaption(rec) }, photo }
        : text(`job:${job.requestKey}`, job, `No candles stored for ${escapeHtml(rec.symbol)} around this trade.`);
      return (await enqueue(d.state, [item], now)).length;
    }
    case 'last': {
      const trades = await d.trades.latest(job.n);
      if (trades.length === 0) return (await enqueue(d.state, [text(`job:${job.requestKey}`, job, 'No closed trades yet.')], now)).length;
      const n = new Notifier(d);
      const items: EnqueueItem[] = [];
      for (const [i, t] of trades.entries()) {
        const rec: AlertRecord = {
          alertKey: `last-${i}`,
          groupId: t.groupId,
          signalId: t.groupId,
          symbol: t.symbol,
          strategy: t.strategy,
          engine: t.strategy === 'v52_divergence' || t.strategy === 'levels_exhaustion' ? 'SCALP' : 'SWING',
          direction: t.direction,
          entry: t.avgEntry,
          stopLoss: t.avgEntry,
          takeProfit: t.avgEntry,
          confidence: null,
          ts: t.entryTime,
          candleTime: t.entryTime,
          reasons: [],
          status: 'closed',
          fill: { price: t.avgEntry, qty: t.qty, time: t.entryTime },
          exit: { price: t.exitPrice, time: t.exitTime, reason: t.exitReason, pnl: t.pnl, pnlPct: t.pnlPct },
        };
        const ar = await d.state.get<AlertRecord>(alertRecordPath(alertKeyOf(t.groupId)));
        if (ar) Object.assign(rec, { stopLoss: ar.stopLoss, takeProfit: ar.takeProfit, engine: ar.engine });
        const photo = await n.tradeChart(rec, 'alert');
        const key = `job:${job.requestKey}:${i}`;
        items.push(photo ? { key, ...target(job), op: { type: 'photo', fileId: '', caption: tradeCaption(t) }, photo } : text(key, job, tradeCaption(t)));
      }
      return (await enqueue(d.state, items, now)).length;
    }
    case 'equity': {
      const account = await readAccount(d);
      const from = now - job.periodMs;
      const trades = await d.trades.closedBetween(from, now + 1);
      const points = equityPoints(account, trades, from, now);
      const title = `Equity ${job.periodLabel}`;
      const png = await d.charts.renderEquityChart({ points, title, size: 'large', from, to: now });
      return (
        await enqueue(
          d.state,
          [{ key: `job:${job.requestKey}`, ...target(job), op: { type: 'photo', fileId: '', caption: equityCaption(title, points) }, photo: { source: png.png, filename: 'equity.png', contentType: 'image/png' } }],
          now,
        )
      ).length;
    }
    case 'analyze':
      return enqueue(d.state, [await analyzeItem(d, job)], now).then((k) => k.length);
    case 'shadow': {
      const item = await shadowChartItem(d, job.periodHours, `job:${job.requestKey}`, target(job));
      return item ? (await enqueue(d.state, [item], now)).length : 0;
    }
  }
}

/** The /analyze card: indicators, nearest levels, macro bias, with a chart. */
async function analyzeItem(d: TelegramDeps, job: Extract<TelegramJob, { kind: 'analyze' }>): Promise<EnqueueItem> {
  const now = d.clock.now();
  const key = `job:${job.requestKey}`;
  const candles: Candle[] = await candlesUntil(d.state, 'bybit', job.symbol, ANALYZE.interval, now, ANALYZE.candles, d.tg.alerts.resampleBaseCandles);
  if (candles.length === 0) return { key, ...target(job), op: { type: 'text', text: html`No ${ANALYZE.interval} candles stored for ${job.symbol} yet.` } };
  const s = seriesFromCandles(candles);
  const price = candles[candles.length - 1]!.close;
  const r = lastValue(rsi(s.close, ANALYZE.rsiPeriod));
  const e1 = lastValue(ema(s.close, ANALYZE.emaFast));
  const e2 = lastValue(ema(s.close, ANALYZE.emaSlow));
  const m = macd(s.close, ANALYZE.macd[0], ANALYZE.macd[1], ANALYZE.macd[2]);
  const hist = lastValue(m.histogram);
  const lv = (await d.config.strategies()).scalp.levels_exhaustion.levels;
  const levels = horizontalLevels(s, s.length, lv.horizontal, price);
  const support = levels.filter((l) => l.kind === 'support').sort((a, b) => b.price - a.price)[0];
  const resistance = levels.filter((l) => l.kind === 'resistance').sort((a, b) => a.price - b.price)[0];
  const bias = await d.state.get<StoredBias>(biasPath(job.symbol));
  const num = (v: number, f: (x: number) => string) => (Number.isFinite(v) ? f(v) : 'n/a');
  const lines = [
    html`🔎 <b>${job.symbol}</b> · ${fmtPrice(price)} · ${fmtTimeUtc(candles[candles.length - 1]!.openTime)}`,
    html`RSI${ANALYZE.rsiPeriod} ${num(r, (x) => x.toFixed(1))} · EMA${ANALYZE.emaFast} ${num(e1, fmtPrice)} · EMA${ANALYZE.emaSlow} ${num(e2, fmtPrice)}`,
    html`MACD hist ${num(hist, (x) => x.toPrecision(3))} · trend ${Number.isFinite(e1) && Number.isFinite(e2) ? (e1 > e2 ? 'up' : 'down') : 'n/a'}`,
    support ? html`Support ${fmtPrice(support.price)} (${support.touches} touches, ${fmtPct(((support.price - price) / price) * 100)})` : 'Support: none found',
    resistance ? html`Resistance ${fmtPrice(resistance.price)} (${resistance.touches} touches, ${fmtPct(((resistance.price - price) / price) * 100)})` : 'Resistance: none found',
    bias
      ? html`Macro bias ${isBiasActive(bias, now) ? bias.bias : 'expired'} · confidence ${bias.confidence}` +
        (bias.components?.length ? '\n' + bias.components.map((c) => html`· ${c.name} ${c.score.toFixed(2)} × ${c.weight}`).join('\n') : '')
      : 'Macro bias: none yet',
  ];
  const caption = truncateHtml(lines.join('\n'), MAX_CAPTION_CHARS);
  const input = await buildTradeChartInput(d.state, { symbol: job.symbol, engine: 'SCALP', time: now, size: 'large', candles: d.tg.alerts.chartCandles, resampleBaseCandles: d.tg.alerts.resampleBaseCandles }, { horizontal: lv.horizontal, trendLines: lv.trendLines });
  if (!input) return { key, ...target(job), op: { type: 'text', text: caption } };
  input.title = { symbol: job.symbol, interval: input.title.interval, strategy: 'analyze' };
  const png = await d.charts.renderTradeChart(input);
  return { key, ...target(job), op: { type: 'photo', fileId: '', caption }, photo: { source: png.png, filename: `${job.symbol}-analyze.png`, contentType: 'image/png' } };
}
