/**
 * `npm run bench`: every benchmark, each measured against a baseline taken in the same run, each
 * printing one final JSON line (`{"bench": ..., ...}`). `npm run bench -- ingest` runs one.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runIngestBench } from './ingest.js';
import { runScalpBench } from './scalp.js';
import { runChartBench } from './charts.js';
import { runPipelineBench } from './pipeline.js';
import { runBacktestBench } from './backtest.js';
import { runColdStartBench } from './cold-start.js';
import { runShardsBench } from './shards.js';
import { runHyperoptBench } from './hyperopt.js';
import { runLearningBench } from './learning.js';
import { runShadowBench } from './shadow.js';
import { runDashboardBench } from './dashboard.js';

/** The benches that read the data kit's month (../shared/data/bybit_linear); the others use the repository's fixtures. */
const KIT_MONTH = join(import.meta.dirname, '..', '..', 'shared', 'data', 'bybit_linear', 'BTCUSDT_1m.csv');
const NEEDS_KIT = new Set(['scalp', 'pipeline', 'backtest', 'shards', 'hyperopt', 'learning', 'shadow', 'dashboard']);

const BENCHES: Record<string, () => Promise<unknown>> = {
  ingest: () => runIngestBench({ print: true }),
  scalp: async () => runScalpBench({ print: true }),
  charts: () => runChartBench({ print: true }),
  pipeline: () => runPipelineBench({ print: true }),
  backtest: () => runBacktestBench({ print: true }),
  'cold-start': () => runColdStartBench({ print: true }),
  shards: () => runShardsBench({ print: true }),
  hyperopt: () => runHyperoptBench({ print: true }),
  learning: () => runLearningBench({ print: true }),
  shadow: () => runShadowBench({ print: true, macro: !process.argv.includes('--no-macro') }),
  dashboard: () => runDashboardBench({ print: true }),
};

const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const unknown = wanted.filter((w) => !(w in BENCHES));
if (unknown.length > 0) {
  process.stderr.write(`unknown bench: ${unknown.join(', ')}; available: ${Object.keys(BENCHES).join(', ')}\n`);
  process.exit(2);
}
for (const name of wanted.length > 0 ? wanted : Object.keys(BENCHES)) {
  process.stderr.write(`# ${name}\n`);
  if (NEEDS_KIT.has(name) && !existsSync(KIT_MONTH)) {
    // Skipped, never counted: one JSON line that says why, as the tests do.
    console.log(JSON.stringify({ bench: name, skipped: `needs the data kit: ${KIT_MONTH} not found (put the kit at ../shared/data)` }));
    continue;
  }
  await BENCHES[name]!();
}
