/**
 * The cost estimate follows from what the deploy runs: the scheduler's crons, the topology's
 * subscribers, the config's symbols and periods. Hand-checked figures for the default deployment.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { loadSchedule, SCHEDULER_YAML } from '../../shared/schedule/schema.js';
import { dailyInvocations, DEFAULT_ASSUMPTIONS, monthlyCost, PRICES, runsPerDay } from '../../infra/cost/estimate.js';
import { SUBSCRIBERS } from '../../infra/bus/topology.js';
import { TOPICS } from '../../shared/topics.js';
import { run, withSymbols } from '../../scripts/cost-estimate.js';

const schedule = loadSchedule(SCHEDULER_YAML);
const perFn = (lines: ReturnType<typeof dailyInvocations>, fn: string) => lines.filter((l) => l.function === fn).reduce((s, l) => s + l.perDay, 0);

describe('cost estimate', () => {
  it('counts cron runs a day in the job time zone, DST included', () => {
    expect(runsPerDay('* * * * *', 'Etc/UTC')).toBe(1440);
    expect(runsPerDay('*/5 * * * *', 'Etc/UTC')).toBe(288);
    expect(runsPerDay('0 7,19 * * *', 'America/Los_Angeles')).toBe(2);
    expect(runsPerDay('0 19 * * 0', 'America/Los_Angeles')).toBeCloseTo(1 / 7, 10);
  });

  it('derives each function\'s invocations from the schedule, the topology and the config (9 symbols)', () => {
    const lines = dailyInvocations(DEFAULT_SYSTEM_CONFIG, schedule);
    const n = DEFAULT_SYSTEM_CONFIG.symbols.length;
    expect(n).toBe(9);
    expect(perFn(lines, 'kraken-pull')).toBe(1440);
    expect(perFn(lines, 'reports')).toBeCloseTo(2 + 1 / 7, 10); // daily twice + weekly
    // candle-ingest: one push per closed 1m candle per symbol
    expect(perFn(lines, 'candle-ingest')).toBe(1440 * 9);
    // tick-archive: at most one batch per symbol per tickBatchMs (1 s)
    expect(perFn(lines, 'tick-archive')).toBe(86_400 * 9);
    // micro-scalp: 1m candles + 15 s snapshots
    expect(perFn(lines, 'micro-scalp')).toBe(1440 * 9 + 5760 * 9);
    // execution: 1m candles, Kraken closes (5m+15m+1h+4h = 414 a pair), one bias per symbol per macro run, commands and signals
    const exec = lines.filter((l) => l.function === 'execution');
    expect(exec.find((l) => l.source === `topic ${TOPICS.krakenOhlc}`)!.perDay).toBe(414 * 9);
    expect(exec.find((l) => l.source === `topic ${TOPICS.macroBias}`)!.perDay).toBe(288 * 9);
    // every subscriber of every topic is counted once per message
    const pushes = lines.filter((l) => l.source.startsWith('topic '));
    expect(pushes).toHaveLength(Object.values(SUBSCRIBERS).reduce((s, subs) => s + subs.length, 0));
  });

  it('grows linearly with the symbols; the holder and the schedule do not', () => {
    const d = (n: number) => ({ system: withSymbols(DEFAULT_SYSTEM_CONFIG, n), schedule, memory: { retrain: '2GiB' }, alertConditions: 6 });
    const [a, b, c] = [3, 9, 25].map((n) => monthlyCost(d(n)));
    const slope1 = (b!.invocationsPerDay - a!.invocationsPerDay) / 6;
    const slope2 = (c!.invocationsPerDay - b!.invocationsPerDay) / 16;
    expect(slope1).toBeCloseTo(slope2, 6);
    const holder = (e: typeof a) => e!.lines.find((l) => l.item.startsWith('Holder'))!.usd;
    expect(holder(a)).toBe(holder(c));
    // one always-on vCPU for 30 days, less the free 240,000 vCPU-s, at the instance-based price
    expect(holder(a)).toBeCloseTo((2_592_000 - 240_000) * PRICES.runInstance.perVcpuSecond + Math.max(0, 1_296_000 - 450_000) * PRICES.runInstance.perGibSecond, 6);
    expect(c!.totalUsd).toBeGreaterThan(b!.totalUsd);
    expect(b!.totalUsd).toBeGreaterThan(a!.totalUsd);
  });

  it('a longer tick batch cuts the biggest variable line', () => {
    const base = { schedule, memory: {}, alertConditions: 0 };
    const fast = monthlyCost({ ...base, system: DEFAULT_SYSTEM_CONFIG });
    const slow = monthlyCost({ ...base, system: { ...DEFAULT_SYSTEM_CONFIG, bybit: { ...DEFAULT_SYSTEM_CONFIG.bybit, tickBatchMs: 10_000 } } });
    expect(fast.byFunction[0]!.function).toBe('tick-archive');
    expect(fast.invocationsPerDay - slow.invocationsPerDay).toBeCloseTo(86_400 * 9 * 0.9, 6);
    expect(slow.totalUsd).toBeLessThan(fast.totalUsd);
    expect(DEFAULT_ASSUMPTIONS.holder.vcpu).toBeGreaterThanOrEqual(1); // instance-based billing needs a whole vCPU
  });

  it('the CLI prints the arithmetic and refuses a bad symbol count', async () => {
    let out = '';
    expect(await run([], (s) => (out += s))).toBe(0);
    expect(out).toMatch(/^Monthly estimate, 9 symbols: \$\d+\.\d\d/);
    expect(out).toContain('(2,592,000 - 240,000 free) vCPU-s x $0.000018');
    out = '';
    expect(await run(['--symbols', '0'], (s) => (out += s))).toBe(2);
    expect(out).toContain('--symbols takes whole numbers from 1 to 25');
  });
});

describe('the measured Firestore figure', () => {
  it('matches what the candle pipeline does now (6 replayed hours of real candles, scaled to a day)', async () => {
    const { measureCandlePipeline } = await import('../../scripts/cost-estimate.js');
    const m = await measureCandlePipeline(6);
    const want = DEFAULT_ASSUMPTIONS.candlePipelinePerSymbolDay;
    // a change in the pipeline's reads or writes of more than a quarter must update the estimate
    expect(m.reads / want.reads).toBeGreaterThan(0.75);
    expect(m.reads / want.reads).toBeLessThan(1.25);
    expect(m.writes / want.writes).toBeGreaterThan(0.75);
    expect(m.writes / want.writes).toBeLessThan(1.25);
  }, 120_000);
});
