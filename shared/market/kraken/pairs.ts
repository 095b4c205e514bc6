/**
 * Kraken pair names <-> system symbols (SPEC 2 and 12). The running system maps pairs through
 * `SystemConfig.symbols[].krakenPair`; this alias table covers the other names Kraken uses for the
 * same USD spot markets (altnames in the downloadable OHLCVT file names, e.g. `XBTUSD_5.csv`, and
 * websocket names), so imports can infer the symbol. Pairs quoted in other currencies (XBTUSDT,
 * XBTUSDC...) are different markets: they are not aliased, the caller names the symbol explicitly.
 */
import type { SystemConfig } from '../../config/system.js';

/** Every known Kraken name (canonical key, altname, wsname) of each system symbol's USD spot pair. */
const KRAKEN_PAIR_NAMES: Record<string, readonly string[]> = {
  BTCUSDT: ['XXBTZUSD', 'XBTUSD', 'XBT/USD', 'BTC/USD'],
  ETHUSDT: ['XETHZUSD', 'ETHUSD', 'ETH/USD'],
  SOLUSDT: ['SOLUSD', 'SOL/USD'],
  XRPUSDT: ['XXRPZUSD', 'XRPUSD', 'XRP/USD'],
  DOGEUSDT: ['XDGUSD', 'XDG/USD', 'DOGE/USD'],
  LINKUSDT: ['LINKUSD', 'LINK/USD'],
  ADAUSDT: ['ADAUSD', 'ADA/USD'],
  SUIUSDT: ['SUIUSD', 'SUI/USD'],
  SEIUSDT: ['SEIUSD', 'SEI/USD'],
};

const ALIAS_TO_SYMBOL: ReadonlyMap<string, string> = new Map(
  Object.entries(KRAKEN_PAIR_NAMES).flatMap(([symbol, names]) => names.map((n) => [n.toUpperCase(), symbol] as const)),
);

/**
 * The system symbol of a Kraken pair name: the config's `krakenPair` first, then the alias table.
 * Returns undefined when the pair is unknown (never guessed).
 */
export function symbolForKrakenPair(pair: string, config?: Pick<SystemConfig, 'symbols'>): string | undefined {
  const p = pair.toUpperCase();
  const fromConfig = config?.symbols.find((s) => s.krakenPair?.toUpperCase() === p);
  if (fromConfig) return fromConfig.symbol;
  const symbol = ALIAS_TO_SYMBOL.get(p);
  if (symbol) return symbol;
  // A configured pair may be spelled differently from the name asked about (XXBTZUSD vs XBTUSD):
  // accept it when both belong to the same alias group.
  for (const s of config?.symbols ?? []) {
    if (s.krakenPair && ALIAS_TO_SYMBOL.get(s.krakenPair.toUpperCase()) === ALIAS_TO_SYMBOL.get(p)) return s.symbol;
  }
  return undefined;
}
