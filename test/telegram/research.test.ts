/**
 * The learning loop in Telegram: /models, /shadow (phone-width table + P&L bar chart PNG), the models
 * line of /status, the daily research summary (owner only, once per Los Angeles day), and the ML line
 * of trade alerts. Commands go through the real webhook to the local Bot API server (test/telegram/
 * helpers.ts); stored documents are written through the state port as the retraining and shadow runs
 * write them, valid, absent and corrupt.
 */
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildBarChart } from '../../shared/charts/bar-chart.js';
import { DARK_THEME } from '../../shared/charts/theme.js';
import { renderBarChart } from '../../infra/charts/render.js';
import { htmlProblem } from '../../infra/replay/telegram-server.js';
import { learningStatePath, modelPath, SHADOW_LATEST_PATH } from '../../shared/state-paths.js';
import type { DocData } from '../../shared/ports/state.js';
import {
  abbreviate,
  mlAlertLine,
  queueResearchSummary,
  researchSlot,
  researchSummary,
  sendResearchSummary,
  SHADOW_TABLE_WIDTH,
  shadowChartInput,
  shadowPeriodHours,
  shadowRows,
  shadowTableLines,
} from '../../shared/telegram/research.js';
import { alertCaption, type AlertRecord } from '../../shared/telegram/format.js';
import type { AccessControl } from '../../shared/telegram/access.js';
import { DEFAULT_SHADOW_VARIATIONS } from '../../shared/config/strategy.js';
import { makeHarness, OWNER, PNG_SIGNATURE, textsTo, textUpdate, type Harness } from './helpers.js';
import { modelRuns, shadowResults, storedModel } from './research-fixtures.js';

const NOW = 1_750_600_800_000; // 2025-06-22 14:00 UTC (the harness clock)

describe('shadow table and period', () => {
  const r = shadowResults(NOW);

  it('fits a phone: every line of the <pre> table is at most 40 characters, even with extreme figures', () => {
    for (const hours of r.periodsHours) {
      const lines = shadowTableLines(shadowRows(r, hours).rows, r.significanceP);
      expect(lines.length).toBe(1 + 8); // header + champion + 7 challengers that ran
      for (const l of lines) expect(l.length, l).toBeLessThanOrEqual(SHADOW_TABLE_WIDTH);
    }
    // extreme figures still fit
    const rows = shadowRows(r, 720).rows.map((x) => (x.name === 'CONFIDENCE_55' ? { ...x, stats: { ...x.stats, trades: 49_380, wins: 24_000, winRate: 24_000 / 49_380, pnl: -493_827.12, profitFactor: 0.953, pValue: 0.0004 } } : x));
    const month = shadowTableLines(rows, r.significanceP);
    expect(month.find((l) => l.startsWith('CONFIDE_55'))).toBe('CONFIDE_55  49k  49 0.95   -494k <.001*');
    const huge = shadowTableLines([{ name: 'A_VERY_LONG_CHALLENGER_NAME_2', champion: false, stats: { trades: 9999, wins: 9999, winRate: 1, profitFactor: 1234.5, pnl: 99_999.99, meanPnlPct: 1, pValue: 1 } }], 0.1);
    expect(huge[1]).toBe('A_VERY_LO. 9999 100  >99 +100000 1.000');
    for (const l of [...month, ...huge]) expect(l.length, l).toBeLessThanOrEqual(SHADOW_TABLE_WIDTH);
  });

  it('sorts by P&L, marks the champion, and marks p < significanceP', () => {
    const { rows, failed } = shadowRows(r, 168);
    expect(rows.map((x) => x.name)).toEqual(['AGGRESSIVE', 'CONSERVATIVE', 'CHAMPION', 'DCA_DROP_4', 'VOLATILITY_SIZED', 'ML_TRUST', 'QUICK_EXITS', 'CONFIDENCE_55']);
    expect(failed).toEqual([{ name: 'BREAKOUT_2', error: 'unknown config path macro.setups.SWING.breakoutPct' }]);
    const lines = shadowTableLines(rows, r.significanceP);
    expect(lines[0]).toBe('variation     n win   PF   P&L $     p');
    expect(lines[2]).toBe('CONSERVAT.   31  65 1.90   +48.9 0.040*');
    expect(lines[3]).toBe('>CHAMPION    40  55 1.31   +35.5  base');
    expect(lines[1]).toBe('AGGRESSIVE   40  53 1.28   +61.3 0.310');
  });

  it('abbreviates names word by word, keeping numbers', () => {
    expect(DEFAULT_SHADOW_VARIATIONS.map((v) => abbreviate(v.name, 10))).toEqual([
      'AGGRESSIVE', 'CONSERVAT.', 'ML_TRUST', 'QUICK_EXIT', 'DCA_DROP_4', 'CONFIDE_55', 'VOLAT_SIZE', 'BREAKOUT_2',
    ]);
  });

  it('takes 24h / 3d / 7d / 30d (default 7d), only when the run has the period', () => {
    expect(shadowPeriodHours(undefined, r.periodsHours)).toBe(168);
    expect(shadowPeriodHours('24h', r.periodsHours)).toBe(24);
    expect(shadowPeriodHours('3d', r.periodsHours)).toBe(72);
    expect(shadowPeriodHours('1w', r.periodsHours)).toBe(168);
    expect(shadowPeriodHours('30d', r.periodsHours)).toBe(720);
    expect(shadowPeriodHours('5d', r.periodsHours)).toBeNull();
    expect(shadowPeriodHours('soon', r.periodsHours)).toBeNull();
    expect(shadowPeriodHours(undefined, [24, 72])).toBeNull();
  });
});

describe('the shadow bar chart', () => {
  it('renders a real PNG: one bar per variation, the champion in the accent colour, losses left of zero', async () => {
    const input = shadowChartInput(shadowResults(NOW), 168, 'alert')!;
    const svg = buildBarChart(input);
    expect(svg.boxes.map((b) => b.label)).toEqual(['AGGRESSIVE', 'CONSERVATIVE', 'CHAMPION', 'DCA_DROP_4', 'VOLATILITY_SIZED', 'ML_TRUST', 'QUICK_EXITS', 'CONFIDENCE_55']);
    const champ = svg.boxes.find((b) => b.label === 'CHAMPION')!;
    expect(champ.fill).toBe(DARK_THEME.entry);
    const loss = svg.boxes.find((b) => b.label === 'CONFIDENCE_55')!;
    expect(loss.fill).toBe(DARK_THEME.loss);
    expect(loss.x1).toBeCloseTo(svg.zeroX, 5);
    expect(svg.boxes.find((b) => b.label === 'AGGRESSIVE')!.x0).toBeCloseTo(svg.zeroX, 5);

    const png = await renderBarChart(input);
    expect(png.png.subarray(0, 8)).toEqual(PNG_SIGNATURE);
    const meta = await sharp(png.png).metadata();
    expect(meta).toMatchObject({ format: 'png', width: 640, height: svg.height });
    // the champion bar's pixels are the accent colour
    const { data, info } = await sharp(png.png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
    const px = (x: number, y: number) => {
      const i = (Math.round(y) * info.width + Math.round(x)) * info.channels;
      return `#${[data[i]!, data[i + 1]!, data[i + 2]!].map((v) => v.toString(16).padStart(2, '0')).join('')}`;
    };
    expect(px((champ.x0 + champ.x1) / 2, champ.y + champ.h / 2)).toBe(DARK_THEME.entry);
    expect(px((loss.x0 + loss.x1) / 2, loss.y + loss.h / 2)).toBe(DARK_THEME.loss);
  });

  it('refuses an empty or non-finite input with its reason', () => {
    expect(() => buildBarChart({ title: 't', bars: [] })).toThrow(/at least one bar/);
    expect(() => buildBarChart({ title: 't', bars: [{ label: 'x', value: Number.NaN }] })).toThrow(/bars\.0\.value/);
  });
});

describe('the ML line of a trade alert', () => {
  const base: AlertRecord = {
    alertKey: 'k', groupId: 'g', signalId: 's', symbol: 'SOLUSDT', strategy: 'v52_divergence', engine: 'SCALP', direction: 'SHORT', entry: 150.12, stopLoss: 150.57, takeProfit: 149.37,
    confidence: 71, ts: NOW, candleTime: NOW - 60_000, reasons: ['RSI divergence'], status: 'signal', fill: null, exit: null,
  };

  it('shows P(win) and the model version when the signal carries a prediction; nothing without one', () => {
    expect(mlAlertLine(undefined)).toBeNull();
    expect(mlAlertLine({ probability: 0.634, modelVersion: 'v52_divergence@4', featureVersion: 'scan-f1' })).toBe('🤖 ML P(win) <b>0.63</b> · v52_divergence@4');
    expect(mlAlertLine({ probability: null, modelVersion: 'v52_divergence@4', featureVersion: 'scan-f1', error: 'feature rsi is NaN' })).toBe('🤖 ML: no prediction (feature rsi is NaN) · v52_divergence@4');
    const withMl = alertCaption({ ...base, ml: { probability: 0.634, modelVersion: 'v52_divergence@4', featureVersion: 'scan-f1' } });
    expect(withMl).toContain('🤖 ML P(win) <b>0.63</b> · v52_divergence@4');
    expect(htmlProblem(withMl)).toBeNull();
    expect(alertCaption(base)).not.toContain('ML');
  });

  it('a signal the ML filter refused reads as such', () => {
    const c = alertCaption({
      ...base,
      status: 'rejected',
      ml: { probability: 0.41, modelVersion: 'v52_divergence@4', featureVersion: 'scan-f1' },
      rejection: { reason: 'ml_filter', detail: 'model v52_divergence@4 gives P(win) 0.410 < 0.6 (config/ml minConfidence)' },
    });
    expect(c).toContain('🤖 ML P(win) <b>0.41</b> · v52_divergence@4 · ⛔ filtered (filter mode)');
    expect(c).toContain('🚫 <b>NOT TAKEN</b>: ML filter: P(win) below the minimum confidence');
    expect(c).toContain('&lt; 0.6 (config/ml minConfidence)');
    expect(htmlProblem(c)).toBeNull();
    const un = alertCaption({ ...base, status: 'rejected', ml: { probability: null, modelVersion: 'v52_divergence@4', featureVersion: 'scan-f1', error: 'feature rsi missing' }, rejection: { reason: 'ml_unavailable', detail: 'the ML filter fails closed' } });
    expect(un).toContain('🚫 <b>NOT TAKEN</b>: ML filter: the model could not predict');
    expect(un).toContain('🤖 ML: no prediction (feature rsi missing)');
  });
});

describe('the research summary', () => {
  it('lists the runs, the 7d shadow table and the suggestions in valid Telegram HTML', () => {
    const s = researchSummary({
      runs: modelRuns(NOW),
      shadow: shadowResults(NOW),
      suggestions: [{ id: 'sg1', strategy: 'dca', parameter: 'macro.setups.DCA.dropFromHighPct', before: 2.5, after: 2.95, confidence: 'MEDIUM', evidence: 'DCA_DROP_4 vs champion over 7d: 36 trades, P&L -$5.40 <vs> champion, p 0.71' }],
    });
    expect(htmlProblem(s.text)).toBeNull();
    expect(s.text).toContain('🔬 <b>Research summary</b> · 2025-06-22');
    expect(s.text).toContain('✅ <b>v52_divergence</b> v52_divergence@5: replaced · score 0.718 (in force v52_divergence@4 0.705) · 34 new trades · 1.2 s');
    expect(s.text).toContain('🛡 <b>dca</b> dca@2: kept out: the model in force is protected');
    expect(s.text).toContain('⏸ <b>channel</b> none: not trained: too few new trades · 7 new trades');
    expect(s.text).toContain('<b>Shadow test</b> · 7d');
    expect(s.text).toContain('&gt;CHAMPION');
    expect(s.text).toContain('⚠️ BREAKOUT_2 could not run');
    expect(s.text).toContain('Best challenger: <b>AGGRESSIVE</b> +$61.25 vs champion +$35.50 (ahead, not significant)');
    expect(s.text).toContain('<code>macro.setups.DCA.dropFromHighPct</code> 2.5 → <b>2.95</b> · MEDIUM');
    expect(s.text).toContain('&lt;vs&gt;');
    expect(s.chart?.bars).toHaveLength(8);
    const none = researchSummary({ runs: [], shadow: null, suggestions: [] });
    expect(none.text).toContain('No retraining run.');
    expect(none.text).toContain('no shadow run yet');
    expect(none.text).toContain('none today');
    expect(none.chart).toBeNull();
  });

  it('slots by the Los Angeles day', () => {
    expect(researchSlot(Date.UTC(2025, 5, 22, 9, 0))).toBe('2025-06-22'); // 02:00 PDT
    expect(researchSlot(Date.UTC(2025, 5, 22, 6, 59))).toBe('2025-06-21'); // 23:59 PDT the day before
  });
});

describe('in the bot (webhook -> local Bot API server)', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await makeHarness({ candles: false });
  });
  afterEach(async () => {
    await h.close();
  });
  const lastText = () => textsTo(h.server, OWNER).at(-1) ?? '';

  it('/models: a valid model in full, an absent one with its labelled trades, a corrupt one as one clear line', async () => {
    const now = h.clock.now();
    await h.state.set(modelPath('v52_divergence'), storedModel(now) as unknown as DocData);
    await h.state.set(modelPath('levels_exhaustion'), { ...storedModel(now), strategy: 'levels_exhaustion', metrics: { ...storedModel(now).metrics, score: 1.5 } } as unknown as DocData);
    await h.state.set(learningStatePath('dca'), { n: 0, lastRunAt: null, lastRunId: null, lastOutcome: null, tradesSeen: 12, lastExitTime: null, pending: null } as unknown as DocData);
    await h.state.set(learningStatePath('v52_divergence'), { n: 5, lastRunAt: now, lastRunId: 'r1', lastOutcome: 'features_changed', tradesSeen: 200, lastExitTime: now, pending: { version: 'v52_divergence@5', reason: 'features differ: +funding_rate' } } as unknown as DocData);
    await h.deliver(textUpdate(OWNER, '/models'));
    const t = lastText();
    expect(t).toContain('🧠 <b>Models</b> · ML advisory');
    expect(t).toContain('<b>v52_divergence</b> · <code>v52_divergence@4</code> · score <b>0.705</b>');
    expect(t).toContain('acc 0.70 · prec 0.75 · rec 0.60 (40 scored, 20 won)');
    expect(t).toContain('trained 2025-06-22 11:00 UTC (3h 00m ago)');
    expect(t).toContain('window 2025-05-23 → 2025-06-22 · 160 train + 40 scored rows');
    expect(t).toContain("top: rsi 0.40 · volume_z 0.30 · ema_gap 0.20\n   ⏳ v52_divergence@5 waits for the owner's approval: features differ: +funding_rate");
    expect(t).toMatch(/<b>levels_exhaustion<\/b> · ⚠️ stored model unreadable \(metrics\.score: .+\); the next retraining replaces it/);
    expect(t).toContain('<b>dca</b> · no model yet (12 labelled trades, needs 20 new)');
    expect(t).toContain('<b>channel</b> · no model yet (needs 20 new)');

    await h.deliver(textUpdate(OWNER, '/status'));
    expect(lastText()).toContain('<b>Models</b>: ML advisory (min confidence 0.6) · v52_divergence @4 0.70 · levels_exhaustion ⚠️ unreadable · dca none');
  });

  it('/shadow: "no shadow run yet", then a corrupt document as one line, then the table and the chart PNG', async () => {
    await h.deliver(textUpdate(OWNER, '/shadow'));
    expect(lastText()).toContain('No shadow run yet');

    await h.state.set(SHADOW_LATEST_PATH, { ...shadowResults(h.clock.now()), significanceP: 'high' } as unknown as DocData);
    await h.deliver(textUpdate(OWNER, '/shadow'));
    expect(lastText()).toContain('⚠️ The stored shadow results are unreadable (significanceP:');
    expect(h.server.ok('sendPhoto')).toHaveLength(0);

    await h.state.set(SHADOW_LATEST_PATH, shadowResults(h.clock.now()) as unknown as DocData);
    await h.deliver(textUpdate(OWNER, '/shadow 5d'));
    expect(lastText()).toBe('Usage: <code>/shadow 7d</code> (periods of the last run: 24h, 3d, 7d, 30d)');

    await h.deliver(textUpdate(OWNER, '/shadow 24h'));
    const t = lastText();
    expect(t).toContain('🧪 <b>Shadow test</b> · 24h · champion vs 8 challengers');
    const pre = /<pre>([\s\S]*)<\/pre>/.exec(t)![1]!;
    for (const l of pre.split('\n')) expect(l.replace(/&[a-z]+;/g, '_').length).toBeLessThanOrEqual(SHADOW_TABLE_WIDTH);
    expect(t).toContain('⚠️ BREAKOUT_2 could not run: unknown config path');
    const photos = h.server.ok('sendPhoto').filter((r) => r.chatId === OWNER);
    expect(photos).toHaveLength(1);
    expect(photos[0]!.fields.caption).toContain('Shadow P&amp;L</b> · 24h');
    const png = photos[0]!.files[0]!.bytes;
    expect(png.subarray(0, 8)).toEqual(PNG_SIGNATURE);
    expect((await sharp(png).metadata()).width).toBe(1280);
  });

  it('queues the research summary for the owner once per day, however often the run retries', async () => {
    const input = { runs: modelRuns(h.clock.now()), shadow: shadowResults(h.clock.now()), suggestions: [] };
    const slot = researchSlot(h.clock.now());
    expect(await queueResearchSummary(h.rt.deps, input, slot)).toEqual({ queued: 2 });
    expect(await queueResearchSummary(h.rt.deps, input, slot)).toEqual({ queued: 0 });
    await h.rt.sender.drain();
    expect(textsTo(h.server, OWNER).filter((x) => x.includes('Research summary'))).toHaveLength(1);
    const photos = h.server.ok('sendPhoto').filter((r) => r.chatId === OWNER);
    expect(photos).toHaveLength(1);
    expect(photos[0]!.files[0]!.bytes.subarray(0, 8)).toEqual(PNG_SIGNATURE);
    // only the owner: no other chat got anything
    expect(new Set(h.server.ok('sendMessage').map((r) => r.chatId))).toEqual(new Set([OWNER]));
    // the next day is a new summary; sendResearchSummary (what the retraining run calls) queues and sends it
    const nextDay = h.clock.now() + 24 * 3_600_000;
    expect(await sendResearchSummary(h.rt, input, nextDay)).toEqual({ slot: '2025-06-23', queued: 2, sent: 2, remaining: 0 });
    expect(await sendResearchSummary(h.rt, input, nextDay + 3_600_000)).toMatchObject({ slot: '2025-06-23', queued: 0 });
    expect(textsTo(h.server, OWNER).filter((x) => x.includes('Research summary'))).toHaveLength(2);
    // no owner chat: nothing queued, and the reason says why
    const noOwner = { ...h.rt.deps, access: { ownerChat: undefined } as unknown as AccessControl };
    expect(await queueResearchSummary(noOwner, input, '2099-01-01')).toEqual({ queued: 0, reason: expect.stringContaining('no owner chat') });
  });
});
