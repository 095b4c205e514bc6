/**
 * health-check (Cloud Scheduler, every minute): data freshness per enabled symbol; one `data_stale`
 * alert per transition, one `data_fresh` on recovery (shared/health/freshness.ts), and one
 * `freshness_snapshot` log line with how many symbols are stale now. Then one
 * `account_snapshot` log line of the trading account as stored (marked equity, open positions, the
 * daily drawdown the guard compares): the log-based metrics the monitoring dashboard and the drawdown
 * alert read (infra/monitoring/log-metrics.ts). Nothing is logged before the account's first trade.
 */
import type { Ports } from '../ports/ports.js';
import { checkFreshness } from '../health/freshness.js';
import { LOG_EVENTS } from '../log.js';
import { PAPER_ACCOUNT_ID } from '../model/trading.js';
import { dailyDrawdownPct } from '../protection/guards.js';
import { DAY_MS } from '../protection/model.js';
import { tradingDocPath } from '../state-paths.js';
import { accountEquity, markedEquity } from '../trading/account.js';
import { upgradeTradingDoc } from '../trading/doc-upgrade.js';
import type { TradingDoc } from '../trading/store.js';

export const FUNCTION_NAME = 'health-check';

export type Deps = Pick<Ports, 'state' | 'bus' | 'clock' | 'log' | 'config'>;

export async function handle(deps: Deps, _body?: unknown): Promise<Record<string, unknown>> {
  const cfg = await deps.config.system();
  const now = deps.clock.now();
  const r = await checkFreshness({ state: deps.state, bus: deps.bus, log: deps.log }, cfg, now);
  // the state, not the transition: the "market data stale" alert holds while this stays above 0
  deps.log.info('data freshness', { event: LOG_EVENTS.freshnessSnapshot, checked: r.checked, staleSymbols: r.stale.length, stale: r.stale });
  await logAccountSnapshot(deps, now);
  return { checked: r.checked, stale: r.stale, transitions: r.transitions.map((t) => `${t.symbol}->${t.to}`) };
}

async function logAccountSnapshot(deps: Deps, now: number): Promise<void> {
  const doc = upgradeTradingDoc(await deps.state.get<TradingDoc>(tradingDocPath(PAPER_ACCOUNT_ID)));
  if (!doc) return;
  const { account, protections } = doc.state;
  const equity = markedEquity(account);
  const g = protections.guards;
  deps.log.info('account snapshot', {
    event: LOG_EVENTS.accountSnapshot,
    accountId: account.accountId,
    equity,
    realizedEquity: accountEquity(account),
    openPositions: account.positions.filter((p) => p.filledQty > 0).length,
    openGroups: account.positions.length,
    // a new UTC day the core has not ticked yet starts at 0 (its peak is today's first equity)
    dailyDrawdownPct: now >= g.dayStart + DAY_MS ? 0 : dailyDrawdownPct(g, equity),
  });
}
