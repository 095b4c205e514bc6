/**
 * `npm run bench`: every benchmark, each measured against a baseline taken in the same run, each
 * printing one final JSON line (`{"bench": ..., ...}`). `npm run bench -- ingest` runs one.
 */
import { runIngestBench } from './ingest.js';
import { runScalpBench } from './scalp.js';
import { runChartBench } from './charts.js';
import { runPipelineBench } from './pipeline.js';
import { runBacktestBench } from './backtest.js';
import { runColdStartBench } from './cold-start.js';

const BENCHES: Record<string, () => Promise<unknown>> = {
  ingest: () => runIngestBench({ print: true }),
  scalp: async () => runScalpBench({ print: true }),
  charts: () => runChartBench({ print: true }),
  pipeline: () => runPipelineBench({ print: true }),
  backtest: () => runBacktestBench({ print: true }),
  'cold-start': () => runColdStartBench({ print: true }),
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const unknown = wanted.filter((w) => !(w in BENCHES));
if (unknown.length > 0) {
  process.stderr.write(`unknown bench: ${unknown.join(', ')}; available: ${Object.keys(BENCHES).join(', ')}\n`);
  process.exit(2);
}
for (const name of wanted.length > 0 ? wanted : Object.keys(BENCHES)) {
  process.stderr.write(`# ${name}\n`);
  await BENCHES[name]!();
}
