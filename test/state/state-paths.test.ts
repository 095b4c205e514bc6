/**
 * The state-paths catalog (shared/state-paths.ts) is the one list of what the state store holds.
 *
 * 1. Layout: every entry, called with sample ids, gives the exact path the stored data already uses
 *    (renaming a path would strand the documents of every deployed store), the paths are distinct,
 *    and each is a valid Firestore path: no empty segment, an even number of segments for a document
 *    and an odd one for a collection. An id that contains `/` (hostile or sloppy data) never adds a
 *    segment. Every export is listed here, so a new entry cannot skip these checks.
 * 2. One place: no module of shared/, infra/, functions/ or scripts/ outside the catalog builds a state
 *    path from a literal. The scan parses each file (TypeScript AST, comments ignored) and flags
 *    (a) a call `.get/.set/.merge/.delete/.query/.create(first, ...)` whose first argument is a string
 *        or template literal containing `/` (a path written on the spot), and
 *    (b) any string or template literal that starts with `{root}/`, `root` being a top-level
 *        collection of the catalog (`'config/system'`, `` `trading/${id}/applied` ``).
 *    It does not follow values through variables, and a bare collection name (`'tg_users'`) passed
 *    to `query` is not flagged; both are rare and reviewed by hand.
 */
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
import { tsFilesUnder } from '../source-files.js';
import { describe, expect, it } from 'vitest';
import * as P from '../../shared/state-paths.js';
import type { Candle } from '../../shared/model/market.js';

type Kind = 'doc' | 'collection';
interface Entry {
  kind: Kind;
  /** The path for the sample ids. */
  path: string;
  /** The same entry with every string id replaced by one containing `/` (same segment count expected). */
  hostile?: string;
}

const candle: Pick<Candle, 'venue' | 'symbol' | 'interval' | 'openTime'> = { venue: 'bybit', symbol: 'BTCUSDT', interval: '1m', openTime: 1_700_000_000_000 };
const X = 'x/y';
const hostileCandle = { ...candle, symbol: X };

/** Every path export of the catalog: what it gives for sample ids (the stored layout). */
const CATALOG: Record<string, { entry: Entry; expected: string }> = {
  barsCollection: { entry: { kind: 'collection', path: P.barsCollection('bybit', 'BTCUSDT', '1m'), hostile: P.barsCollection('bybit', X, '1m') }, expected: 'candles/bybit:BTCUSDT:1m/bars' },
  candlePath: { entry: { kind: 'doc', path: P.candlePath(candle), hostile: P.candlePath(hostileCandle) }, expected: 'candles/bybit:BTCUSDT:1m/bars/1700000000000' },
  gateDocPath: { entry: { kind: 'doc', path: P.gateDocPath(candle), hostile: P.gateDocPath(hostileCandle) }, expected: 'gate/bybit:BTCUSDT:1m' },
  KRAKEN_CURSORS_COLLECTION: { entry: { kind: 'collection', path: P.KRAKEN_CURSORS_COLLECTION }, expected: 'cursors' },
  krakenCursorPath: { entry: { kind: 'doc', path: P.krakenCursorPath('XBTUSD', '5m'), hostile: P.krakenCursorPath(X, '5m') }, expected: 'cursors/kraken:XBTUSD:5m' },
  holderCursorPath: { entry: { kind: 'doc', path: P.holderCursorPath('BTCUSDT'), hostile: P.holderCursorPath(X) }, expected: 'holder/bybit/cursors/BTCUSDT' },
  HEALTH_COLLECTION: { entry: { kind: 'collection', path: P.HEALTH_COLLECTION }, expected: 'health' },
  healthPath: { entry: { kind: 'doc', path: P.healthPath('BTCUSDT'), hostile: P.healthPath(X) }, expected: 'health/BTCUSDT' },
  BIAS_COLLECTION: { entry: { kind: 'collection', path: P.BIAS_COLLECTION }, expected: 'bias' },
  biasPath: { entry: { kind: 'doc', path: P.biasPath('BTCUSDT'), hostile: P.biasPath(X) }, expected: 'bias/BTCUSDT' },
  SWING_PUBLISHED_COLLECTION: { entry: { kind: 'collection', path: P.SWING_PUBLISHED_COLLECTION }, expected: 'macro_swing_published' },
  swingPublishedPath: { entry: { kind: 'doc', path: P.swingPublishedPath('sig1'), hostile: P.swingPublishedPath(X) }, expected: 'macro_swing_published/sig1' },
  tradingDocPath: { entry: { kind: 'doc', path: P.tradingDocPath('paper'), hostile: P.tradingDocPath(X) }, expected: 'trading/paper' },
  signalMarkersCollection: { entry: { kind: 'collection', path: P.signalMarkersCollection('paper'), hostile: P.signalMarkersCollection(X) }, expected: 'trading/paper/applied' },
  signalMarkerPath: { entry: { kind: 'doc', path: P.signalMarkerPath('paper', 'sig1'), hostile: P.signalMarkerPath(X, X) }, expected: 'trading/paper/applied/sig1' },
  externalMarkersCollection: { entry: { kind: 'collection', path: P.externalMarkersCollection('paper'), hostile: P.externalMarkersCollection(X) }, expected: 'trading/paper/external' },
  externalMarkerPath: { entry: { kind: 'doc', path: P.externalMarkerPath('paper', 'o1:2'), hostile: P.externalMarkerPath(X, X) }, expected: 'trading/paper/external/o1:2' },
  commandMarkerPath: { entry: { kind: 'doc', path: P.commandMarkerPath('paper', 'tg:7'), hostile: P.commandMarkerPath(X, X) }, expected: 'trading/paper/commands/tg:7' },
  liveNoticePath: { entry: { kind: 'doc', path: P.liveNoticePath('paper', 'no_keys'), hostile: P.liveNoticePath(X, X) }, expected: 'trading/paper/notices/no_keys' },
  liveCollection: { entry: { kind: 'collection', path: P.liveCollection('paper'), hostile: P.liveCollection(X) }, expected: 'trading/paper/live' },
  liveGroupPath: { entry: { kind: 'doc', path: P.liveGroupPath('paper', 'tg:sig1'), hostile: P.liveGroupPath(X, X) }, expected: 'trading/paper/live/tg:sig1' },
  TRADING_MODE_DOC: { entry: { kind: 'doc', path: P.TRADING_MODE_DOC }, expected: 'trading/mode' },
  TRADING_MODE_CHANGES: { entry: { kind: 'collection', path: P.TRADING_MODE_CHANGES }, expected: 'trading/mode/changes' },
  modeChangePath: { entry: { kind: 'doc', path: P.modeChangePath(3) }, expected: 'trading/mode/changes/000003' },
  CONFIG_COLLECTION: { entry: { kind: 'collection', path: P.CONFIG_COLLECTION }, expected: 'config' },
  configPath: { entry: { kind: 'doc', path: P.configPath('system'), hostile: P.configPath(X) }, expected: 'config/system' },
  CONFIG_STATE_COLLECTION: { entry: { kind: 'collection', path: P.CONFIG_STATE_COLLECTION }, expected: 'config_state' },
  configStatePath: { entry: { kind: 'doc', path: P.configStatePath('risk'), hostile: P.configStatePath(X) }, expected: 'config_state/risk' },
  CONFIG_CHANGES_COLLECTION: { entry: { kind: 'collection', path: P.CONFIG_CHANGES_COLLECTION }, expected: 'config_changes' },
  configChangePath: { entry: { kind: 'doc', path: P.configChangePath('risk-000001-ab'), hostile: P.configChangePath(X) }, expected: 'config_changes/risk-000001-ab' },
  BACKTESTS_COLLECTION: { entry: { kind: 'collection', path: P.BACKTESTS_COLLECTION }, expected: 'backtests' },
  backtestPath: { entry: { kind: 'doc', path: P.backtestPath('bt_1'), hostile: P.backtestPath(X) }, expected: 'backtests/bt_1' },
  backtestTrialsCollection: { entry: { kind: 'collection', path: P.backtestTrialsCollection('bt_1'), hostile: P.backtestTrialsCollection(X) }, expected: 'backtests/bt_1/trials' },
  backtestTrialPath: { entry: { kind: 'doc', path: P.backtestTrialPath('bt_1', 42), hostile: P.backtestTrialPath(X, 42) }, expected: 'backtests/bt_1/trials/000042' },
  SUGGESTIONS_COLLECTION: { entry: { kind: 'collection', path: P.SUGGESTIONS_COLLECTION }, expected: 'suggestions' },
  suggestionPath: { entry: { kind: 'doc', path: P.suggestionPath('s1'), hostile: P.suggestionPath(X) }, expected: 'suggestions/s1' },
  ML_SUGGESTIONS_COLLECTION: { entry: { kind: 'collection', path: P.ML_SUGGESTIONS_COLLECTION }, expected: 'ml_suggestions' },
  mlSuggestionPath: { entry: { kind: 'doc', path: P.mlSuggestionPath('s1-1'), hostile: P.mlSuggestionPath(X) }, expected: 'ml_suggestions/s1-1' },
  MODELS_COLLECTION: { entry: { kind: 'collection', path: P.MODELS_COLLECTION }, expected: 'models' },
  modelPath: { entry: { kind: 'doc', path: P.modelPath('v52_divergence'), hostile: P.modelPath(X) }, expected: 'models/v52_divergence' },
  modelVersionsCollection: { entry: { kind: 'collection', path: P.modelVersionsCollection('dca'), hostile: P.modelVersionsCollection(X) }, expected: 'models/dca/versions' },
  modelVersionPath: { entry: { kind: 'doc', path: P.modelVersionPath('dca', 7), hostile: P.modelVersionPath(X, 7) }, expected: 'models/dca/versions/000007' },
  learningStatePath: { entry: { kind: 'doc', path: P.learningStatePath('dca'), hostile: P.learningStatePath(X) }, expected: 'learning/dca' },
  SHADOW_LATEST_PATH: { entry: { kind: 'doc', path: P.SHADOW_LATEST_PATH }, expected: 'shadow/latest' },
  SHADOW_RUNS_COLLECTION: { entry: { kind: 'collection', path: P.SHADOW_RUNS_COLLECTION }, expected: 'shadow_runs' },
  shadowRunPath: { entry: { kind: 'doc', path: P.shadowRunPath('sh_1'), hostile: P.shadowRunPath(X) }, expected: 'shadow_runs/sh_1' },
  ADJUSTMENTS_COLLECTION: { entry: { kind: 'collection', path: P.ADJUSTMENTS_COLLECTION }, expected: 'threshold_adjustments' },
  adjustmentPath: { entry: { kind: 'doc', path: P.adjustmentPath('s1-1'), hostile: P.adjustmentPath(X) }, expected: 'threshold_adjustments/s1-1' },
  TG_OUTBOX_COLLECTION: { entry: { kind: 'collection', path: P.TG_OUTBOX_COLLECTION }, expected: 'tg_outbox' },
  outboxPath: { entry: { kind: 'doc', path: P.outboxPath('alert:1'), hostile: P.outboxPath(X) }, expected: 'tg_outbox/alert:1' },
  TG_QUEUE_COLLECTION: { entry: { kind: 'collection', path: P.TG_QUEUE_COLLECTION }, expected: 'tg_queue' },
  queuePath: { entry: { kind: 'doc', path: P.queuePath('alert:1'), hostile: P.queuePath(X) }, expected: 'tg_queue/alert:1' },
  TG_CHAT_SEQ_COLLECTION: { entry: { kind: 'collection', path: P.TG_CHAT_SEQ_COLLECTION }, expected: 'tg_chat_seq' },
  chatSeqPath: { entry: { kind: 'doc', path: P.chatSeqPath(-100) }, expected: 'tg_chat_seq/-100' },
  TG_FILES_COLLECTION: { entry: { kind: 'collection', path: P.TG_FILES_COLLECTION }, expected: 'tg_files' },
  outboxFilePath: { entry: { kind: 'doc', path: P.outboxFilePath('alert:1.png'), hostile: P.outboxFilePath(X) }, expected: 'tg_files/alert:1.png' },
  OUTBOX_LOCK_DOC: { entry: { kind: 'doc', path: P.OUTBOX_LOCK_DOC }, expected: 'tg_outbox_lock/drain' },
  TG_EDIT_RANKS_COLLECTION: { entry: { kind: 'collection', path: P.TG_EDIT_RANKS_COLLECTION }, expected: 'tg_edit_ranks' },
  editRankPath: { entry: { kind: 'doc', path: P.editRankPath('alert:1'), hostile: P.editRankPath(X) }, expected: 'tg_edit_ranks/alert:1' },
  TG_TOPICS_COLLECTION: { entry: { kind: 'collection', path: P.TG_TOPICS_COLLECTION }, expected: 'tg_topics' },
  forumTopicPath: { entry: { kind: 'doc', path: P.forumTopicPath(-100, 'BTCUSDT'), hostile: P.forumTopicPath(-100, X) }, expected: 'tg_topics/-100_BTCUSDT' },
  TG_ALERTS_COLLECTION: { entry: { kind: 'collection', path: P.TG_ALERTS_COLLECTION }, expected: 'tg_alerts' },
  alertRecordPath: { entry: { kind: 'doc', path: P.alertRecordPath('a1'), hostile: P.alertRecordPath(X) }, expected: 'tg_alerts/a1' },
  TG_SYSTEM_STATE_COLLECTION: { entry: { kind: 'collection', path: P.TG_SYSTEM_STATE_COLLECTION }, expected: 'tg_system_state' },
  systemStatePath: { entry: { kind: 'doc', path: P.systemStatePath('data', 'BTCUSDT'), hostile: P.systemStatePath(X, X) }, expected: 'tg_system_state/data_BTCUSDT' },
  TG_TRADES_COLLECTION: { entry: { kind: 'collection', path: P.TG_TRADES_COLLECTION }, expected: 'tg_trades' },
  tradeRecordPath: { entry: { kind: 'doc', path: P.tradeRecordPath('tg:sig1'), hostile: P.tradeRecordPath(X) }, expected: 'tg_trades/tg:sig1' },
  TG_TRADES_VERSION_DOC: { entry: { kind: 'doc', path: P.TG_TRADES_VERSION_DOC }, expected: 'tg_trades_meta/version' },
  TG_MUTES_COLLECTION: { entry: { kind: 'collection', path: P.TG_MUTES_COLLECTION }, expected: 'tg_mutes' },
  mutePath: { entry: { kind: 'doc', path: P.mutePath(42, 'BTCUSDT'), hostile: P.mutePath(42, X) }, expected: 'tg_mutes/42_BTCUSDT' },
  TG_CONTROL_DOC: { entry: { kind: 'doc', path: P.TG_CONTROL_DOC }, expected: 'tg_control/trading' },
  TG_USERS_COLLECTION: { entry: { kind: 'collection', path: P.TG_USERS_COLLECTION }, expected: 'tg_users' },
  userPath: { entry: { kind: 'doc', path: P.userPath(42) }, expected: 'tg_users/42' },
  TG_GROUPS_COLLECTION: { entry: { kind: 'collection', path: P.TG_GROUPS_COLLECTION }, expected: 'tg_groups' },
  groupPath: { entry: { kind: 'doc', path: P.groupPath(-100) }, expected: 'tg_groups/-100' },
  TG_INVITES_COLLECTION: { entry: { kind: 'collection', path: P.TG_INVITES_COLLECTION }, expected: 'tg_invites' },
  invitePath: { entry: { kind: 'doc', path: P.invitePath('123456'), hostile: P.invitePath(X) }, expected: 'tg_invites/123456' },
  TG_VERIFY_COLLECTION: { entry: { kind: 'collection', path: P.TG_VERIFY_COLLECTION }, expected: 'tg_verify' },
  verifyPath: { entry: { kind: 'doc', path: P.verifyPath(42) }, expected: 'tg_verify/42' },
  DASHBOARD_LOGINS_COLLECTION: { entry: { kind: 'collection', path: P.DASHBOARD_LOGINS_COLLECTION }, expected: 'dashboard_logins' },
  dashboardLoginPath: { entry: { kind: 'doc', path: P.dashboardLoginPath('n1'), hostile: P.dashboardLoginPath(X) }, expected: 'dashboard_logins/n1' },
  DASHBOARD_ACTIONS_COLLECTION: { entry: { kind: 'collection', path: P.DASHBOARD_ACTIONS_COLLECTION }, expected: 'dashboard_actions' },
  dashboardActionPath: { entry: { kind: 'doc', path: P.dashboardActionPath('dash:a1'), hostile: P.dashboardActionPath(X) }, expected: 'dashboard_actions/dash:a1' },
  PROTECTION_ALERTS_COLLECTION: { entry: { kind: 'collection', path: P.PROTECTION_ALERTS_COLLECTION }, expected: 'protection_alerts' },
  protectionAlertPath: { entry: { kind: 'doc', path: P.protectionAlertPath('regime_changed:market:1'), hostile: P.protectionAlertPath(X) }, expected: 'protection_alerts/regime_changed:market:1' },
  TG_UPDATES_COLLECTION: { entry: { kind: 'collection', path: P.TG_UPDATES_COLLECTION }, expected: 'tg_updates' },
  updateMarkerPath: { entry: { kind: 'doc', path: P.updateMarkerPath(9001) }, expected: 'tg_updates/9001' },
};
/** Exports that are not paths (a parser). */
const HELPERS = new Set(['configNameOf']);

const segments = (p: string) => p.split('/');

describe('state-paths catalog', () => {
  it('lists every export of the catalog', () => {
    const exported = Object.keys(P).filter((k) => !HELPERS.has(k)).sort();
    expect(Object.keys(CATALOG).sort()).toEqual(exported);
  });

  it('keeps the stored layout', () => {
    const actual = Object.fromEntries(Object.entries(CATALOG).map(([k, v]) => [k, v.entry.path]));
    const expected = Object.fromEntries(Object.entries(CATALOG).map(([k, v]) => [k, v.expected]));
    expect(actual).toEqual(expected);
  });

  it('gives valid Firestore paths: no empty segment, even segments for documents, odd for collections', () => {
    const bad: string[] = [];
    for (const [name, { entry }] of Object.entries(CATALOG)) {
      for (const p of [entry.path, entry.hostile].filter((x): x is string => x !== undefined)) {
        const segs = segments(p);
        if (segs.some((s) => s.length === 0)) bad.push(`${name}: empty segment in '${p}'`);
        const even = segs.length % 2 === 0;
        if (entry.kind === 'doc' ? !even : even) bad.push(`${name}: ${segs.length} segments in ${entry.kind} path '${p}'`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('makes ids safe: an id with a slash never adds a segment', () => {
    const bad = Object.entries(CATALOG)
      .filter(([, { entry }]) => entry.hostile !== undefined && segments(entry.hostile).length !== segments(entry.path).length)
      .map(([name, { entry }]) => `${name}: '${entry.hostile}'`);
    expect(bad).toEqual([]);
  });

  it('gives distinct paths', () => {
    const byPath = new Map<string, string[]>();
    for (const [name, { entry }] of Object.entries(CATALOG)) byPath.set(entry.path, [...(byPath.get(entry.path) ?? []), name]);
    expect([...byPath.values()].filter((names) => names.length > 1)).toEqual([]);
  });

  it('parses config paths back to their document name', () => {
    expect(P.configNameOf(P.configPath('risk'))).toBe('risk');
    expect(P.configNameOf('risk')).toBeNull();
    expect(P.configNameOf(P.configStatePath('risk'))).toBeNull();
  });
});

// ---------- the one-place rule ----------

const ROOT = join(import.meta.dirname, '..', '..');
const SCANNED = ['shared', 'infra', 'functions', 'scripts'];
const CATALOG_FILE = join('shared', 'state-paths.ts');
const STATE_METHODS = new Set(['get', 'set', 'merge', 'delete', 'query', 'create']);


/** The literal text of a string or template literal (a template's text parts joined with `${}`). */
function literalText(node: ts.Node): string | null {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
  if (ts.isTemplateExpression(node)) return node.head.text + node.templateSpans.map((s) => '${}' + s.literal.text).join('');
  return null;
}

function scan(file: string, roots: ReadonlySet<string>): string[] {
  const src = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const flaggedArgs = new Set<ts.Node>();
  const where = (n: ts.Node) => `${relative(ROOT, file)}:${src.getLineAndCharacterOfPosition(n.getStart()).line + 1}`;
  const visit = (n: ts.Node): void => {
    if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression) && STATE_METHODS.has(n.expression.name.text)) {
      const first = n.arguments[0];
      const text = first ? literalText(first) : null;
      if (first && text !== null && text.includes('/')) {
        found.push(`${where(n)} ${n.expression.name.text}(${first.getText()})`);
        flaggedArgs.add(first);
      }
    }
    const text = literalText(n);
    if (text !== null && !flaggedArgs.has(n) && !ts.isImportDeclaration(n.parent) && !ts.isExportDeclaration(n.parent)) {
      const root = text.split('/')[0] ?? '';
      if (text.includes('/') && roots.has(root)) found.push(`${where(n)} ${n.getText()}`);
    }
    ts.forEachChild(n, visit);
  };
  visit(src);
  return found;
}

describe('state paths come from the catalog only', () => {
  it('no module outside shared/state-paths.ts builds a state path from a literal', () => {
    const roots = new Set(Object.values(CATALOG).map((v) => segments(v.entry.path)[0] as string));
    const offenders = SCANNED.flatMap((d) => tsFilesUnder(join(ROOT, d)))
      .filter((f) => relative(ROOT, f) !== CATALOG_FILE)
      .flatMap((f) => scan(f, roots));
    expect(offenders).toEqual([]);
  });

  it('the scan finds a path written on the spot (self-check)', () => {
    const probe = join(ROOT, 'test', 'state', 'fixtures', 'literal-paths.ts.txt');
    const roots = new Set(['config', 'trading']);
    const hits = scan(probe, roots).map((h) => h.replace(/^.*?:\d+ /, ''));
    expect(hits).toEqual(["set('config/system')", "query(`trading/${accountId}/applied`)", "`trading/${accountId}/applied`", "get(`tg_whatever/${id}`)"]);
  });
});
