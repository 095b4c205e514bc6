/**
 * The backtester CLI (SPEC 7): `npm run backtest -- --help`. A thin dispatcher: the first word picks
 * a subcommand from scripts/backtest/ (each a plain `main(args)`); without one it is the backtest run
 * itself (scripts/backtest/run.ts).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** Subcommands: name -> module under scripts/backtest/ exporting `main(args: string[])`. */
const SUBCOMMANDS: Record<string, string> = {
  show: './backtest/show.js',
  compare: './backtest/compare.js',
  lookahead: './backtest/lookahead.js',
  launch: './backtest/launch.js',
  collect: './backtest/collect.js',
  hyperopt: './backtest/hyperopt.js',
  shadow: './backtest/shadow.js',
};

async function dispatch(argv: string[]): Promise<void> {
  const [first, ...rest] = argv;
  const sub = first !== undefined && !first.startsWith('-') ? SUBCOMMANDS[first] : undefined;
  if (first !== undefined && !first.startsWith('-') && sub === undefined) {
    process.stderr.write(`error: unknown subcommand '${first}' (known: ${Object.keys(SUBCOMMANDS).join(', ') || 'none'})\nRun with --help for the options.\n`);
    process.exit(2);
  }
  const mod = (await import(sub ?? './backtest/run.js')) as { main: (args: string[]) => Promise<void> };
  await mod.main(sub ? rest : argv);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  dispatch(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`backtest failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
