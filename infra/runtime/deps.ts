/**
 * Each function's deps, from the ports of a composition root (infra/runtime/root.ts builds them once
 * per root and keeps them: the per-instance caches of micro-scalp and execution, the Kraken clients,
 * live for the root's life). Types only from the pipeline modules, and what a builder needs beyond the
 * root's ports is imported when that function's deps are first built, so the entry of one function
 * loads nothing of another.
 */
import type { SystemConfig } from '../../shared/config/system.js';
import type { KrakenMarketData } from '../../shared/ports/kraken.js';
import type { Deps as DashboardDeps } from '../../shared/pipeline/dashboard.js';
import type { Deps as CandleIngestDeps } from '../../shared/pipeline/candle-ingest.js';
import type { Deps as ConfigCheckDeps } from '../../shared/pipeline/config-check.js';
import type { Deps as ExecutionDeps } from '../../shared/pipeline/execution.js';
import type { Deps as HealthCheckDeps } from '../../shared/pipeline/health-check.js';
import type { Deps as KrakenPullDeps } from '../../shared/pipeline/kraken-pull.js';
import type { Deps as MacroAnalysisDeps } from '../../shared/pipeline/macro-analysis.js';
import type { Deps as MicroScalpDeps } from '../../shared/pipeline/micro-scalp.js';
import type { Deps as NotifierDeps } from '../../shared/pipeline/notifier.js';
import type { Deps as ReportsDeps } from '../../shared/pipeline/reports.js';
import type { Deps as RetrainDeps } from '../../shared/pipeline/retrain.js';
import type { Deps as RetentionCleanupDeps } from '../../shared/pipeline/retention-cleanup.js';
import type { Deps as TelegramWebhookDeps } from '../../shared/pipeline/telegram-webhook.js';
import type { Deps as TickArchiveDeps } from '../../shared/pipeline/tick-archive.js';
import type { Root } from './root.js';
import { systemClock } from '../../shared/ports/clock.js';

/** Every function's deps by function name. */
export interface FunctionDeps {
  'candle-ingest': CandleIngestDeps;
  'tick-archive': TickArchiveDeps;
  'micro-scalp': MicroScalpDeps;
  execution: ExecutionDeps;
  notifier: NotifierDeps;
  'kraken-pull': KrakenPullDeps;
  'macro-analysis': MacroAnalysisDeps;
  'health-check': HealthCheckDeps;
  'config-check': ConfigCheckDeps;
  'retention-cleanup': RetentionCleanupDeps;
  reports: ReportsDeps;
  retrain: RetrainDeps;
  'telegram-webhook': TelegramWebhookDeps;
  dashboard: DashboardDeps;
}

export type FunctionName = keyof FunctionDeps;

/** The root's ports (what most functions need and nothing more). */
function ports(root: Root) {
  const { state, bus, warehouse, clock, log, config } = root;
  return { state, bus, warehouse, clock, log, config };
}

/** What the Telegram functions need: the Telegram side for the config in force. */
function telegramDeps(root: Root) {
  return { clock: root.clock, log: root.log, telegram: () => root.telegram() };
}

/**
 * One Kraken client per client settings for the root's life (its confirmed pair keys). Every client
 * shares the process's one request line for the Kraken host (infra/http/host-limiter.ts).
 */
async function krakenClients(root: Root): Promise<(cfg: SystemConfig['kraken']) => KrakenMarketData> {
  const { krakenClientFromConfig, krakenClientSettings } = await import('../kraken/client.js');
  const clients = new Map<string, KrakenMarketData>();
  const log = root.log.child({ component: 'kraken-client' });
  return (cfg) => {
    const key = JSON.stringify(krakenClientSettings(cfg));
    let client = clients.get(key);
    if (!client) {
      client = krakenClientFromConfig(root.endpoints.krakenRest, cfg, root.clock, log);
      clients.set(key, client);
    }
    return client;
  };
}

export const DEPS_BUILDERS: { [N in FunctionName]: (root: Root) => Promise<FunctionDeps[N]> } = {
  'candle-ingest': async (root) => ports(root),
  'tick-archive': async (root) => ports(root),
  'micro-scalp': async (root) => ({ ...ports(root), cache: (await import('../../shared/pipeline/micro-scalp.js')).createMicroCache() }),
  execution: async (root) => ({
    ...ports(root),
    cache: (await import('../../shared/pipeline/execution.js')).createExecutionCache(),
    liveVenue: () => root.liveVenue(),
  }),
  notifier: async (root) => telegramDeps(root),
  'kraken-pull': async (root) => ({ ...ports(root), kraken: await krakenClients(root) }),
  'macro-analysis': async (root) => ports(root),
  'health-check': async (root) => ports(root),
  'config-check': async (root) => ports(root),
  'retention-cleanup': async (root) => ports(root),
  reports: async (root) => telegramDeps(root),
  retrain: async (root) => ({ ...ports(root), telegram: () => root.telegram() }),
  'telegram-webhook': async (root) => telegramDeps(root),
  dashboard: async (root) => ({ ...telegramDeps(root), authClock: systemClock, assets: (await import('../dashboard/assets.js')).fileAssets() }),
};
