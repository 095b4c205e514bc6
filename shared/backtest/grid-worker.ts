/**
 * Grid worker process (child_process.fork with IPC): receives the series once ('init'), builds the
 * market once, then runs the combinations the pool sends, one message each, and exits on 'stop'.
 * See grid.ts.
 */
import { createMarket, type BacktestMarket } from './market.js';
import { runCombo, type WorkerInit, type WorkerReply, type WorkerRequest } from './grid.js';
import { unpackSeries } from './packed-series.js';

if (!process.send) throw new Error('grid-worker.ts runs only as a forked worker process');
const reply = (m: WorkerReply) => process.send?.(m);
let init: WorkerInit | null = null;
let market: BacktestMarket | null = null;
process.on('message', (req: WorkerRequest) => {
  try {
    if (req.type === 'init') {
      init = req.init;
      market = createMarket({ series: init.series.map(unpackSeries), from: init.from, to: init.to });
      reply({ type: 'ready' });
    } else if (req.type === 'run') {
      if (!init || !market) throw new Error('run before init');
      const r = runCombo(market, init.config, req.combo, init.indicators);
      reply({ type: 'result', combo: req.combo, metrics: r.metrics, wallMs: r.wallMs, cpuMs: r.cpuMs });
    } else {
      process.disconnect();
    }
  } catch (e) {
    reply({ type: 'error', message: (e as Error).stack ?? String(e) });
  }
});
