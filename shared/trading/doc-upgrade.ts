/**
 * Stored trading documents (`trading/{accountId}`, shared/trading/store.ts TradingDoc) in older shapes,
 * brought to the current one on read. Types only: safe to import from any reader (the bot, execution).
 */
import type { TradingDoc } from './store.js';
import type { EntryOrder, Position } from './model.js';

/**
 * 2: positions carry their cost rates as `costs` (maker / taker / slippage / profile) and entries
 * their `slippage` and `liquidity` (issue 10); version-1 documents are upgraded on read (upgradeTradingDoc).
 */
export const TRADING_SCHEMA_VERSION = 2;

/** A version-1 position: one flat fee rate for every fill, slippage on every fill. */
type PositionV1 = Omit<Position, 'costs'> & { feeRate: number; slippageRate: number };

/**
 * A stored trading document in the current shape. Version-1 positions (`feeRate`, `slippageRate`)
 * were opened under the flat rule, so they keep it: profile `conservative` with maker = taker =
 * feeRate and their slippage rate, i.e. they fill and close exactly as they would have. Their filled
 * simulated entries get the slippage cost they paid, |fillPrice - limit| x qty (the flat rule filled
 * at limit x (1 +/- s)); external (exchange) entries 0. Documents already current are returned as is.
 */
export function upgradeTradingDoc(doc: TradingDoc): TradingDoc;
export function upgradeTradingDoc(doc: TradingDoc | undefined): TradingDoc | undefined;
export function upgradeTradingDoc(doc: TradingDoc | undefined): TradingDoc | undefined {
  if (!doc || doc.schemaVersion >= TRADING_SCHEMA_VERSION) return doc;
  const positions = doc.state.account.positions.map((raw): Position => {
    const p = raw as unknown as Partial<PositionV1> & Position;
    if (p.costs) return p;
    const { feeRate, slippageRate, ...rest } = p as PositionV1;
    if (!(Number.isFinite(feeRate) && Number.isFinite(slippageRate))) {
      throw new Error(`trading document ${doc.state.account.accountId}: position ${p.groupId} has neither costs nor feeRate/slippageRate`);
    }
    const entries: EntryOrder[] = rest.entries.map((e) => {
      const old = e as Partial<EntryOrder> & Omit<EntryOrder, 'slippage' | 'liquidity'>;
      const filled = old.fillPrice !== null && old.filledQty > 0 && rest.external === null;
      return { ...old, slippage: old.slippage ?? (filled ? Math.abs((old.fillPrice as number) - old.price) * old.filledQty : 0), liquidity: old.liquidity ?? null };
    });
    return { ...rest, entries, costs: { profile: 'conservative', makerFeeRate: feeRate, takerFeeRate: feeRate, slippageRate } };
  });
  return { ...doc, schemaVersion: TRADING_SCHEMA_VERSION, state: { ...doc.state, account: { ...doc.state.account, positions } } };
}

