/**
 * The month replay's checks (`scripts/replay-month.ts --check`, `--duplicate`; test/pipeline/invariants.test.ts):
 * an InvariantMonitor that watches EVERY committed transaction on the paper account document over a
 * whole run (through AccountWriteTap, a StateStore decorator given to ReplayOptions.wrapState) and
 * asserts: open scalp risk never above `risk.scalp.totalRiskPct` % of equity; no group placed while
 * the BTC regime is PANIC; none on a symbol in cooldown; and at the end the sum of the closed trades'
 * P&L (`paper_trades`) equals the account's realized P&L and the equity change. `compareRuns` lists
 * what differs between a normal run and a run with every message delivered twice; `stressProtections`
 * is the CI day test's tightened thresholds (PANIC at -1.5 % in 1h / -3 % in 4h, CAUTION at -0.8 %,
 * cooldown after every stop) so the PANIC and cooldown invariants are exercised, not vacuous.
 */
import type { Clock, ManualClock } from '../../shared/ports/clock.js';
import type { DocData, DocSnapshot, Query, StateStore, Transaction, WriteOp } from '../../shared/ports/state.js';
import type { Row } from '../../shared/ports/warehouse.js';
import { protectionsConfigSchema, type StrategyConfigs } from '../../shared/config/strategy.js';
import { accountEquity, openRisk } from '../../shared/trading/account.js';
import { cooldownUntil } from '../../shared/protection/limiter.js';
import type { TradingDoc } from '../../shared/trading/store.js';
import { tradingDocPath } from '../../shared/state-paths.js';
import { PAPER_ACCOUNT_ID } from '../../shared/model/trading.js';
import type { ReplayResult } from './month-replay.js';

/** Relative tolerance of the risk cap (float sums of |entry - stop| x qty). */
const RISK_CAP_TOLERANCE = 1e-9;
/** Absolute tolerance (USD) of P&L sums over a month of trades. */
const PNL_TOLERANCE_USD = 1e-6;
/** Violations kept verbatim in the report (all are counted). */
const MAX_VIOLATIONS_KEPT = 50;

/** One committed write of the paper account document. */
export interface AccountWrite {
  now: number;
  before: TradingDoc | undefined;
  after: TradingDoc;
  /** Signal markers written in the same transaction (decisions). */
  markers: DocData[];
}

/**
 * A StateStore decorator that hands every COMMITTED write of one account document (the document
 * before, after, and the signal markers of the same transaction) to `observe`. Only the final attempt
 * of a retried transaction counts (earlier attempts wrote nothing).
 */
export class AccountWriteTap implements StateStore {
  private readonly docPath: string;

  constructor(
    private readonly inner: StateStore,
    private readonly clock: Clock,
    private readonly observe: (w: AccountWrite) => void,
    accountId = PAPER_ACCOUNT_ID,
  ) {
    this.docPath = tradingDocPath(accountId);
  }

  get<T = DocData>(path: string): Promise<T | undefined> {
    return this.inner.get<T>(path);
  }
  async set(path: string, data: DocData): Promise<void> {
    if (path === this.docPath) throw new Error('invariant: the trading document is written outside a transaction');
    await this.inner.set(path, data);
  }
  merge(path: string, data: DocData): Promise<void> {
    if (path === this.docPath) throw new Error('invariant: the trading document is merged outside a transaction');
    return this.inner.merge(path, data);
  }
  delete(path: string): Promise<void> {
    return this.inner.delete(path);
  }
  query<T = DocData>(collection: string, q?: Query): Promise<DocSnapshot<T>[]> {
    return this.inner.query<T>(collection, q);
  }
  batch(ops: WriteOp[]): Promise<void> {
    if (ops.some((o) => o.path === this.docPath)) throw new Error('invariant: the trading document is written in a batch');
    return this.inner.batch(ops);
  }
  create(path: string, data: DocData): Promise<boolean> {
    return this.inner.create(path, data);
  }
  close(): Promise<void> {
    return this.inner.close();
  }

  async runTransaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    type Attempt = { before: TradingDoc | undefined; after: TradingDoc | undefined; markers: DocData[] };
    let attempt: Attempt | undefined;
    const docPath = this.docPath;
    const markerPrefix = `${docPath}/applied/`;
    const result = await this.inner.runTransaction(async (tx) => {
      const cur: Attempt = { before: undefined, after: undefined, markers: [] };
      attempt = cur;
      const wrapped: Transaction = {
        async get<U = DocData>(path: string) {
          const v = await tx.get<U>(path);
          if (path === docPath) cur.before = v as unknown as TradingDoc | undefined;
          return v;
        },
        query: (c, q) => tx.query(c, q),
        set(path, data) {
          // the core never mutates a state it returned: keeping the reference is safe (no clone)
          if (path === docPath) cur.after = data as unknown as TradingDoc;
          else if (path.startsWith(markerPrefix)) cur.markers.push(data);
          tx.set(path, data);
        },
        merge(path, data) {
          if (path === docPath) throw new Error('invariant: the trading document is merged, not set');
          tx.merge(path, data);
        },
        delete: (p) => tx.delete(p),
      };
      return fn(wrapped);
    });
    if (attempt?.after) this.observe({ now: this.clock.now(), before: attempt.before, after: attempt.after, markers: attempt.markers });
    return result;
  }
}

export interface InvariantReport {
  ok: boolean;
  /** Committed writes of the account document that were checked. */
  transactions: number;
  placements: number;
  /** Highest open scalp risk seen, % of equity, and the cap. */
  maxScalpRiskPct: number;
  riskCapPct: number;
  /** Committed writes per BTC regime in force after them. */
  regimeWrites: Record<string, number>;
  /** Signal decisions: accepted and each rejection reason. */
  decisions: Record<string, number>;
  violationCount: number;
  violations: string[];
  pnl: { trades: number; tradePnlSum: number; realizedPnl: number; equityChange: number; ok: boolean };
  duplicate?: { identical: boolean; differences: string[] };
}

/** Checks the risk cap, PANIC and cooldown rules on every committed account write; P&L at the end. */
export class InvariantMonitor {
  private transactions = 0;
  private placements = 0;
  private maxRiskFraction = 0;
  private violationCount = 0;
  private readonly violations: string[] = [];
  private readonly regimeWrites: Record<string, number> = {};
  private readonly decisions: Record<string, number> = {};
  private readonly cap: number;

  constructor(strategies: StrategyConfigs) {
    this.cap = strategies.risk.scalp.totalRiskPct / 100;
  }

  /** For ReplayOptions.wrapState. */
  readonly wrap = (state: StateStore, clock: ManualClock): StateStore => new AccountWriteTap(state, clock, (w) => this.observe(w));

  private violation(msg: string): void {
    this.violationCount++;
    if (this.violations.length < MAX_VIOLATIONS_KEPT) this.violations.push(msg);
  }

  observe(w: AccountWrite): void {
    this.transactions++;
    const acct = w.after.state.account;
    const prot = w.after.state.protections;
    const regime = prot.regime.current;
    this.regimeWrites[regime] = (this.regimeWrites[regime] ?? 0) + 1;
    const equity = accountEquity(acct);
    const risk = openRisk(acct, 'SCALP');
    if (risk / equity > this.maxRiskFraction) this.maxRiskFraction = risk / equity;
    const iso = new Date(w.now).toISOString();
    if (risk > equity * this.cap * (1 + RISK_CAP_TOLERANCE)) this.violation(`${iso}: open scalp risk ${risk.toFixed(4)} > ${this.cap * 100} % of equity ${equity.toFixed(2)}`);
    const beforeIds = new Set((w.before?.state.account.positions ?? []).map((p) => p.groupId));
    for (const p of acct.positions) {
      if (beforeIds.has(p.groupId)) continue;
      this.placements++;
      if (regime === 'PANIC') this.violation(`${iso}: ${p.groupId} placed during PANIC`);
      const cd = cooldownUntil(prot, p.symbol, w.now);
      if (cd !== null) this.violation(`${iso}: ${p.groupId} placed while ${p.symbol} cools down until ${new Date(cd).toISOString()}`);
    }
    for (const m of w.markers) {
      const d = m.decision as { accepted?: boolean; reason?: string } | undefined;
      if (!d) continue;
      const key = d.accepted ? 'accepted' : String(d.reason);
      this.decisions[key] = (this.decisions[key] ?? 0) + 1;
    }
  }

  /** The report of a finished run (P&L identity from its warehouse rows and account). */
  report(r: ReplayResult): InvariantReport {
    const tradePnlSum = r.paperTrades.reduce((a, row) => a + Number(row.pnl), 0);
    const realizedPnl = r.account?.realizedPnl ?? 0;
    const pnlOk = Math.abs(tradePnlSum - realizedPnl) <= PNL_TOLERANCE_USD && Math.abs(tradePnlSum - r.equity.change) <= PNL_TOLERANCE_USD;
    if (!pnlOk) this.violation(`P&L: closed trades sum ${tradePnlSum} vs realized ${realizedPnl} vs equity change ${r.equity.change}`);
    if ((this.decisions.accepted ?? 0) !== this.placements) this.violation(`accepted decisions ${this.decisions.accepted ?? 0} != placements ${this.placements}`);
    return {
      ok: this.violationCount === 0,
      transactions: this.transactions,
      placements: this.placements,
      maxScalpRiskPct: this.maxRiskFraction * 100,
      riskCapPct: this.cap * 100,
      regimeWrites: { ...this.regimeWrites },
      decisions: { ...this.decisions },
      violationCount: this.violationCount,
      violations: [...this.violations],
      pnl: { trades: r.trades.find((t) => t.strategy === 'all')?.trades ?? 0, tradePnlSum, realizedPnl, equityChange: r.equity.change, ok: pnlOk },
    };
  }
}

function sortedBy(rows: readonly Row[], key: string): Row[] {
  return [...rows].sort((a, b) => String(a[key]).localeCompare(String(b[key])));
}

/** Differences between a normal run and a duplicate-delivery run of the same range (empty = identical). */
export function compareRuns(a: ReplayResult, b: ReplayResult): string[] {
  const out: string[] = [];
  const same = (what: string, x: unknown, y: unknown) => {
    if (JSON.stringify(x) !== JSON.stringify(y)) out.push(`${what} differ`);
  };
  same('paper_trades rows', sortedBy(a.paperTrades, 'trade_id'), sortedBy(b.paperTrades, 'trade_id'));
  same('signals rows', sortedBy(a.signalRows, 'signal_id'), sortedBy(b.signalRows, 'signal_id'));
  same('rejected signals rows', sortedBy(a.rejectedRows, 'signal_id'), sortedBy(b.rejectedRows, 'signal_id'));
  same('account realized P&L', a.account?.realizedPnl, b.account?.realizedPnl);
  same('account counters', a.account?.counters, b.account?.counters);
  same('open positions', a.account?.positions, b.account?.positions);
  same('equity', a.equity, b.equity);
  same('trade stats', a.trades, b.trades);
  if (b.deadLetters.length > 0) out.push(`${b.deadLetters.length} dead letters in the duplicate run`);
  return out;
}

/** The CI day test's tightened protections (PANIC and cooldowns really happen on the kit's data). */
export function stressProtections(s: StrategyConfigs): StrategyConfigs {
  const c = structuredClone(s);
  c.protections.regime.panic = { drop1hPct: 1.5, drop4hPct: 3, sizeMultiplier: 0 };
  c.protections.regime.caution.drop1hPct = 0.8;
  c.protections.tradeLimiter.consecutiveStops = 1;
  c.protections = protectionsConfigSchema.parse(c.protections);
  return c;
}

export function formatInvariants(rep: InvariantReport): string {
  const out: string[] = [];
  const mark = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
  const riskOk = !rep.violations.some((v) => v.includes('open scalp risk'));
  const panicOk = !rep.violations.some((v) => v.includes('during PANIC'));
  const cdOk = !rep.violations.some((v) => v.includes('cools down'));
  out.push(`Invariants over ${rep.transactions} committed account transactions (${rep.placements} groups placed):`);
  out.push(`  ${mark(riskOk)} open scalp risk <= ${rep.riskCapPct} % of equity (max seen ${rep.maxScalpRiskPct.toFixed(4)} %)`);
  out.push(`  ${mark(panicOk)} no entry during PANIC (writes by regime: ${Object.entries(rep.regimeWrites).map(([k, n]) => `${k} ${n}`).join(', ')}; regime_panic rejections ${rep.decisions.regime_panic ?? 0})`);
  out.push(`  ${mark(cdOk)} no entry on a symbol in cooldown (symbol_cooldown rejections ${rep.decisions.symbol_cooldown ?? 0})`);
  out.push(`  ${mark(rep.pnl.ok)} sum of ${rep.pnl.trades} closed trades' P&L ${rep.pnl.tradePnlSum.toFixed(6)} = realized P&L ${rep.pnl.realizedPnl.toFixed(6)} = equity change ${rep.pnl.equityChange.toFixed(6)}`);
  if (rep.duplicate) out.push(`  ${mark(rep.duplicate.identical)} every message delivered twice: identical trades, signals, positions, counters, equity${rep.duplicate.identical ? '' : ` (${rep.duplicate.differences.join('; ')})`}`);
  out.push(`  decisions: ${Object.entries(rep.decisions).sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k} ${n}`).join(', ')}`);
  if (rep.violationCount > 0) {
    out.push(`  ${rep.violationCount} violation(s)${rep.violationCount > rep.violations.length ? ` (first ${rep.violations.length})` : ''}:`);
    for (const v of rep.violations) out.push(`    ${v}`);
  }
  out.push(rep.ok && (rep.duplicate?.identical ?? true) ? 'ALL INVARIANTS HOLD' : 'INVARIANTS VIOLATED');
  return out.join('\n');
}
