/**
 * Data-freshness check (SPEC 1 health checks, issue: "no candle for 10 minutes on a symbol raises one
 * alert event, not one per minute").
 *
 * For every enabled symbol the newest candle CLOSE time over its configured series (Bybit 1m, and the
 * smallest Kraken interval when the symbol has a Kraken pair) is compared with now. A symbol whose
 * newest data is older than `SystemConfig.dataQuality.staleAfterMs` is STALE. The status lives in
 * `health/{symbol}` and changes only in a transaction, so exactly one `data_stale` alert is
 * published per fresh->stale transition (repeated and concurrent checks find the status already
 * stale) and one `data_fresh` on recovery. A symbol that never had a candle gets a grace period of
 * `staleAfterMs` from its first check (a fresh system is not stale at once).
 */
import type { Bus } from '../ports/bus.js';
import type { DocData, StateStore } from '../ports/state.js';
import type { SymbolConfig, SystemConfig } from '../config/system.js';
import { INTERVAL_MS, INTERVALS, type Interval, type Venue } from '../model/market.js';
import { latestHotCandle } from '../market/hot-store.js';
import { createLogger, LOG_EVENTS, type Logger } from '../log.js';
import { alertAttributes } from '../alerts.js';
import { publish, type Alert } from '../messages.js';
import { TOPICS } from '../topics.js';
import { healthPath } from '../state-paths.js';

type FreshnessStatus = 'fresh' | 'stale';

/** `health/{symbol}`. */
export interface HealthDoc {
  symbol: string;
  status: FreshnessStatus;
  /** When the current status began (the check that made the transition). */
  since: number;
  /** First check of this symbol: start of the grace period when it never had data. */
  watchedSince: number;
  /** Newest candle close time seen at the last transition (null: none). */
  lastDataAt: number | null;
  updatedAt: number;
}

interface FreshnessSeries {
  venue: Venue;
  interval: Interval;
}

interface FreshnessTransition {
  symbol: string;
  to: FreshnessStatus;
  lastDataAt: number | null;
  /** How long the symbol had no data (to stale) or had been stale (to fresh), ms. */
  durationMs: number;
}

interface FreshnessResult {
  checked: number;
  stale: string[];
  transitions: FreshnessTransition[];
}

interface FreshnessDeps {
  state: StateStore;
  bus: Bus;
  log?: Logger;
}

/** The series whose newest candle counts for a symbol: Bybit 1m, plus the smallest Kraken interval. */
export function freshnessSeries(cfg: SystemConfig, s: SymbolConfig): FreshnessSeries[] {
  const series: FreshnessSeries[] = [{ venue: 'bybit', interval: '1m' }];
  if (s.krakenPair) {
    const smallest = INTERVALS.find((i) => cfg.kraken.intervals.includes(i));
    if (smallest) series.push({ venue: 'kraken', interval: smallest });
  }
  return series;
}

/** Newest candle close time (open time + interval) over the series, or null when there is none. */
export async function lastDataTime(state: StateStore, symbol: string, series: FreshnessSeries[]): Promise<number | null> {
  const times = await Promise.all(
    series.map(async ({ venue, interval }) => {
      const c = await latestHotCandle(state, venue, symbol, interval);
      return c ? c.openTime + INTERVAL_MS[interval] : null;
    }),
  );
  const known = times.filter((t): t is number => t !== null);
  return known.length > 0 ? Math.max(...known) : null;
}

/** Stale when the newest data (or, without any, the start of watching) is older than `staleAfterMs`. */
export function freshnessStatus(now: number, reference: number, staleAfterMs: number): FreshnessStatus {
  return now - reference > staleAfterMs ? 'stale' : 'fresh';
}

function minutes(ms: number): string {
  return `${Math.round(ms / 60_000)} min`;
}

export async function checkFreshness(
  deps: FreshnessDeps,
  cfg: SystemConfig,
  now: number,
  seriesFor: (cfg: SystemConfig, s: SymbolConfig) => FreshnessSeries[] = freshnessSeries,
): Promise<FreshnessResult> {
  const log = (deps.log ?? createLogger()).child({ component: 'freshness' });
  const staleAfter = cfg.dataQuality.staleAfterMs;
  const result: FreshnessResult = { checked: 0, stale: [], transitions: [] };

  for (const s of cfg.symbols.filter((x) => x.enabled)) {
    result.checked++;
    const series = seriesFor(cfg, s);
    const lastDataAt = await lastDataTime(deps.state, s.symbol, series);
    const path = healthPath(s.symbol);
    const transition = await deps.state.runTransaction(async (tx) => {
      const h = await tx.get<HealthDoc>(path);
      const watchedSince = h?.watchedSince ?? now;
      const reference = lastDataAt ?? watchedSince;
      const status = freshnessStatus(now, reference, staleAfter);
      if (h && h.status === status) return { status, changed: false, prevSince: h.since, reference };
      const doc: HealthDoc = { symbol: s.symbol, status, since: now, watchedSince, lastDataAt, updatedAt: now };
      tx.set(path, doc as unknown as DocData);
      // A first check that finds the symbol fresh is not a transition worth an alert.
      return { status, changed: h !== undefined || status === 'stale', prevSince: h?.since ?? now, reference };
    });
    if (transition.status === 'stale') result.stale.push(s.symbol);
    if (!transition.changed) continue;

    const seriesText = series.map((x) => `${x.venue} ${x.interval}`).join(' / ');
    if (transition.status === 'stale') {
      const durationMs = now - transition.reference;
      const message =
        lastDataAt === null
          ? `${s.symbol}: no candle received (${seriesText}) for ${minutes(durationMs)}`
          : `${s.symbol}: no candle for ${minutes(durationMs)} (newest ${seriesText} candle closed ${new Date(lastDataAt).toISOString()})`;
      result.transitions.push({ symbol: s.symbol, to: 'stale', lastDataAt, durationMs });
      log.warn(message, { event: LOG_EVENTS.dataStale, symbol: s.symbol, lastDataAt, staleAfterMs: staleAfter });
      const alert: Alert = {
        alertId: `data_stale:${s.symbol}:${now}`,
        kind: 'data_stale',
        severity: 'warning',
        subject: s.symbol,
        message,
        ts: now,
        details: { lastDataAt, staleAfterMs: staleAfter, series: seriesText },
      };
      await publish(deps.bus, TOPICS.alerts, alert, { attributes: alertAttributes(alert) });
    } else {
      const durationMs = now - transition.prevSince;
      const message = `${s.symbol}: data fresh again after ${minutes(durationMs)} stale`;
      result.transitions.push({ symbol: s.symbol, to: 'fresh', lastDataAt, durationMs });
      log.notice(message, { event: LOG_EVENTS.dataFresh, symbol: s.symbol, lastDataAt });
      const alert: Alert = {
        alertId: `data_fresh:${s.symbol}:${now}`,
        kind: 'data_fresh',
        severity: 'info',
        subject: s.symbol,
        message,
        ts: now,
        details: { lastDataAt, staleForMs: durationMs },
      };
      await publish(deps.bus, TOPICS.alerts, alert, { attributes: alertAttributes(alert) });
    }
  }
  return result;
}
