/**
 * ConfigService: the live, validated config. The owner edits documents in the Firestore console
 * (paths in shared/config/documents.ts); every process reads them through this service.
 *
 * - Each document is cached for `SystemConfig.configReloadMs` (<= 60 s), so a valid edit takes
 *   effect without a redeploy within a minute. Time comes from the injected Clock.
 * - Every re-read is validated with zod, strictly and merged over the last valid version
 *   (`validateConfigDocument`, shared/config/strict.ts): an unknown or misspelt key anywhere is an
 *   error naming its path ("kraken.minRequstIntervalMs: unknown key"), every number has bounds, and a
 *   partial document (`{ scalp: { perTradeRiskPct: 0.4 } }`) changes only what it names (arrays are
 *   replaced whole). A VALID document that differs from the one in force becomes current; an INVALID
 *   one is rejected and the last valid config stays in force.
 * - Transitions are recorded ONCE, in a transaction on `config_state/{name}` keyed on the hash of the
 *   raw document: concurrent instances, repeated checks and cold starts see the hash already recorded
 *   and do nothing. The winner writes `config_changes/{id}` (before, after, time) and publishes one
 *   `config_applied` or `config_rejected` alert; a rejection is also logged at ERROR with a message
 *   naming each bad field ("kraken.minRequestIntervalMs: expected number, received string").
 * - `config_state/{name}.lastValid` is the config in force, so a cold start after a rejected edit
 *   still runs on the last valid config, not on defaults.
 * - A missing document is seeded: with the last valid config when one is recorded (the owner deleted
 *   the document), otherwise with the SPEC defaults.
 *
 * Returned configs are deep-frozen: treat them as read-only.
 */
import { createHash } from 'node:crypto';
import type { Bus } from '../ports/bus.js';
import type { Clock } from '../ports/clock.js';
import { systemClock } from '../ports/clock.js';
import type { DocData, JsonValue, StateStore, Transaction } from '../ports/state.js';
import { createLogger, type Logger } from '../log.js';
import { alertAttributes } from '../alerts.js';
import { publish, type Alert } from '../messages.js';
import { TOPICS } from '../topics.js';
import type { ConfigSource } from './source.js';
import { DEFAULT_SYSTEM_CONFIG, type SystemConfig } from './system.js';
import type { StrategyConfigs } from './strategy.js';
import type { TelegramConfig } from './telegram.js';
import { effectiveDocument } from './strict.js';
import { migrateConfigDocument } from './migrations.js';
import {
  CONFIG_DOC_NAMES,
  CONFIG_DOCUMENTS,
  type ConfigDocName,
  type ConfigDocumentTypes,
} from './documents.js';
import type { z } from 'zod';
import { CONFIG_CHANGES_COLLECTION, configChangePath, configStatePath } from '../state-paths.js';

/** How many validation issues a rejection message lists (the change record keeps them all). */
const MAX_ISSUES_IN_MESSAGE = 8;

/** `config_state/{name}`: bookkeeping of the config in force. */
export interface ConfigStateDoc {
  name: string;
  /** Number of change records written for this document. */
  seq: number;
  /** Hash of the raw document currently in force. */
  appliedHash: string | null;
  appliedAt: number | null;
  /** The last valid config (parsed, defaults filled): what runs. */
  lastValid: DocData | null;
  /** Hash of the last rejected raw document (null once a valid document is in place again). */
  rejectedHash: string | null;
  rejectedAt: number | null;
  rejectReason: string | null;
}

type ChangeOutcome = 'initial' | 'applied' | 'rejected';

/** `config_changes/{id}`: one record per applied or rejected edit. */
interface ConfigChangeRecord {
  name: string;
  seq: number;
  outcome: ChangeOutcome;
  /** Hash of the raw document this record is about. */
  hash: string;
  ts: number;
  /** Config in force before the change (null for the first one). */
  before: DocData | null;
  /** Applied: the new config in force. Rejected: the raw document that was refused. */
  after: DocData;
  /** Rejected only: one line per invalid field. */
  errors: string[];
  message: string;
}

type CheckOutcome = ChangeOutcome | 'unchanged' | 'still_rejected';

interface ConfigCheckResult {
  name: ConfigDocName;
  outcome: CheckOutcome;
  hash: string;
  /** Set for rejections. */
  errors?: string[];
  seeded: boolean;
}

interface ConfigServiceOptions {
  state: StateStore;
  /** Alerts go to `system-alerts` on this bus. */
  bus: Bus;
  clock?: Clock;
  log?: Logger;
  /** Cache lifetime; defaults to the current SystemConfig.configReloadMs. */
  reloadMs?: number;
}

interface CacheEntry {
  value: unknown;
  rawHash: string;
  loadedAt: number;
}

/** Change-record id: document, sequence (sorts in order) and raw-document hash. */
function configChangeId(name: ConfigDocName, seq: number, hash: string): string {
  return `${name}_${String(seq).padStart(6, '0')}_${hash.slice(0, 16)}`;
}

/** JSON with object keys sorted at every level, so equal documents hash equally whatever the key order. */
function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** The hash the config service records a raw document under (`config_state/{name}` appliedHash / rejectedHash). */
export function hashDocument(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

/** `symbols[0].tier`, `kraken.minRequestIntervalMs`. */
function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out || '(document)';
}

/**
 * One readable line per zod issue: "kraken.minRequestIntervalMs: expected number, received string";
 * one line per unknown key: "kraken.minRequstIntervalMs: unknown key".
 */
function describeIssues(error: z.ZodError): string[] {
  return error.issues.flatMap((issue) => {
    if (issue.code === 'unrecognized_keys') return issue.keys.map((k) => `${formatPath([...issue.path, k])}: unknown key`);
    let msg = issue.message.replace(/^Invalid input: /, '');
    const m = /^expected (\S+), received undefined$/.exec(msg);
    if (m) msg = `missing (expected ${m[1]})`;
    return `${formatPath(issue.path)}: ${msg}`;
  });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}

function toDoc(value: unknown): DocData {
  return JSON.parse(JSON.stringify(value)) as DocData;
}

type ConfigValidation<T> = { success: true; data: T; errors: [] } | { success: false; errors: string[] };

/**
 * THE validation of a config document, for the service and for every writer of config documents:
 * both brought to the current shape (renamed keys, shared/config/migrations.ts), the stored document
 * merged over the last valid version (over the SPEC defaults), then the strict schema (see
 * shared/config/strict.ts). `lastValid` null: merged over the defaults only.
 */
export function validateConfigDocument<N extends ConfigDocName>(name: N, raw: unknown, lastValid: unknown): ConfigValidation<ConfigDocumentTypes[N]> {
  const def = CONFIG_DOCUMENTS[name] as unknown as { schema: z.ZodType<ConfigDocumentTypes[N]>; defaults: unknown };
  const merged = mergedConfigDocument(name, raw, lastValid);
  if (merged.errors.length > 0) return { success: false, errors: merged.errors };
  const parsed = def.schema.safeParse(merged.doc);
  return parsed.success ? { success: true, data: parsed.data, errors: [] } : { success: false, errors: describeIssues(parsed.error) };
}

/**
 * What a stored (possibly partial, possibly old-shaped) config document means before validation:
 * both it and the last valid version brought to the current shape (renamed / retired keys,
 * shared/config/migrations.ts), the document merged over the last valid version over the SPEC
 * defaults. Every reader and writer of config documents goes through this (the service, an approved
 * suggestion), so an old document reads the same everywhere.
 */
export function mergedConfigDocument(name: ConfigDocName, raw: unknown, lastValid: unknown): { doc: unknown; errors: string[] } {
  const def = CONFIG_DOCUMENTS[name] as unknown as { defaults: unknown };
  const doc = migrateConfigDocument(name, raw);
  if (doc.errors.length > 0) return { doc: undefined, errors: doc.errors };
  return { doc: effectiveDocument(def.defaults, migrateConfigDocument(name, lastValid).doc, doc.doc), errors: [] };
}

/** What one document's transition transaction decided (see recordTransition). */
interface Transition {
  outcome: CheckOutcome;
  /** The last valid config recorded before this transition. */
  before: DocData | null;
  /** The change record written, when one was. */
  changeId: string | undefined;
  /** The document merged over `before` and validated. */
  parsed: ConfigValidation<unknown>;
  rejectMessage: string;
}

function rejectionMessage(name: ConfigDocName, errors: string[]): string {
  return `config "${name}" rejected: ${errors.slice(0, MAX_ISSUES_IN_MESSAGE).join('; ')}${
    errors.length > MAX_ISSUES_IN_MESSAGE ? `; and ${errors.length - MAX_ISSUES_IN_MESSAGE} more` : ''
  }. The last valid config stays in force.`;
}

/**
 * Inside the transaction on `config_state/{name}`: validates `raw` over the last valid version as
 * recorded there (not a stale read) and records the transition once per raw hash: applied (or the
 * first version), rejected, or nothing when this hash is already in force / already rejected.
 */
async function recordTransition(t: Transaction, name: ConfigDocName, raw: DocData, hash: string, now: number): Promise<Transition> {
  const statePath = configStatePath(name);
  const st = await t.get<ConfigStateDoc>(statePath);
  const seq = (st?.seq ?? 0) + 1;
  const before = st?.lastValid ?? null;
  const parsed: ConfigValidation<unknown> = validateConfigDocument(name, raw, before);
  const rejectMessage = rejectionMessage(name, parsed.errors);
  const decided = (outcome: CheckOutcome, changeId?: string): Transition => ({ outcome, before, changeId, parsed, rejectMessage });
  if (parsed.success) {
    if (st && st.appliedHash === hash) {
      // Already in force (another instance, or a cold start). A revert of a rejected edit
      // clears the rejection so the same bad edit alerts again if it comes back.
      if (st.rejectedHash) t.merge(statePath, { rejectedHash: null, rejectedAt: null, rejectReason: null });
      return decided('unchanged');
    }
    const outcome: ChangeOutcome = st ? 'applied' : 'initial';
    const after = toDoc(parsed.data);
    const id = configChangeId(name, seq, hash);
    const message = outcome === 'initial' ? `config "${name}" in force (first version)` : `config "${name}" applied`;
    const record: ConfigChangeRecord = { name, seq, outcome, hash, ts: now, before, after, errors: [], message };
    t.set(configChangePath(id), record as unknown as DocData);
    const next: ConfigStateDoc = { name, seq, appliedHash: hash, appliedAt: now, lastValid: after, rejectedHash: null, rejectedAt: null, rejectReason: null };
    t.set(statePath, next as unknown as DocData);
    return decided(outcome, id);
  }
  if (st && st.rejectedHash === hash) return decided('still_rejected');
  const id = configChangeId(name, seq, hash);
  const record: ConfigChangeRecord = { name, seq, outcome: 'rejected', hash, ts: now, before, after: toDoc(raw), errors: parsed.errors, message: rejectMessage };
  t.set(configChangePath(id), record as unknown as DocData);
  const next: ConfigStateDoc = {
    name,
    seq,
    appliedHash: st?.appliedHash ?? null,
    appliedAt: st?.appliedAt ?? null,
    lastValid: before,
    rejectedHash: hash,
    rejectedAt: now,
    rejectReason: rejectMessage,
  };
  t.set(statePath, next as unknown as DocData);
  return decided('rejected', id);
}

export class ConfigService implements ConfigSource {
  private readonly state: StateStore;
  private readonly bus: Bus;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly fixedReloadMs: number | undefined;
  private readonly cache = new Map<ConfigDocName, CacheEntry>();
  private readonly inflight = new Map<ConfigDocName, Promise<ConfigCheckResult>>();

  constructor(opts: ConfigServiceOptions) {
    this.state = opts.state;
    this.bus = opts.bus;
    this.clock = opts.clock ?? systemClock;
    this.log = (opts.log ?? createLogger()).child({ component: 'config' });
    this.fixedReloadMs = opts.reloadMs;
  }

  /** The cache lifetime in force. */
  reloadMs(): number {
    if (this.fixedReloadMs !== undefined) return this.fixedReloadMs;
    const sys = this.cache.get('system')?.value as SystemConfig | undefined;
    return (sys ?? DEFAULT_SYSTEM_CONFIG).configReloadMs;
  }

  system(): Promise<SystemConfig> {
    return this.get('system');
  }

  telegram(): Promise<TelegramConfig> {
    return this.get('telegram');
  }

  async strategies(): Promise<StrategyConfigs> {
    const [macro, levels, v52, filters, risk, protections, paper, ml] = await Promise.all([
      this.get('macro'),
      this.get('scalp_levels_exhaustion'),
      this.get('scalp_v52_divergence'),
      this.get('filters'),
      this.get('risk'),
      this.get('protections'),
      this.get('paper'),
      this.get('ml'),
    ]);
    return { macro, scalp: { levels_exhaustion: levels, v52_divergence: v52 }, filters, risk, protections, paper, ml };
  }

  /** The config in force for one document (cached for `reloadMs`). */
  async get<N extends ConfigDocName>(name: N): Promise<ConfigDocumentTypes[N]> {
    const cached = this.cache.get(name);
    if (cached && this.clock.now() - cached.loadedAt < this.reloadMs()) return cached.value as ConfigDocumentTypes[N];
    try {
      await this.reload(name);
    } catch (e) {
      if (!cached) throw e;
      // The store is unreachable: keep running on what we have, and try again on the next read.
      this.log.warn('config reload failed; keeping the cached config', { config: name, error: e as Error });
      return cached.value as ConfigDocumentTypes[N];
    }
    return this.cache.get(name)!.value as ConfigDocumentTypes[N];
  }

  /** Re-reads and validates documents now, regardless of the cache (the config-check job). */
  async check(names: ConfigDocName[] = CONFIG_DOC_NAMES): Promise<ConfigCheckResult[]> {
    const out: ConfigCheckResult[] = [];
    for (const name of names) out.push(await this.reload(name));
    return out;
  }

  /** Drops the cache (the next read goes to the store). */
  invalidate(): void {
    this.cache.clear();
  }

  private reload(name: ConfigDocName): Promise<ConfigCheckResult> {
    let p = this.inflight.get(name);
    if (!p) {
      p = this.doReload(name).finally(() => this.inflight.delete(name));
      this.inflight.set(name, p);
    }
    return p;
  }

  /**
   * One re-read of a document: read it (seeding a missing one), and when its hash differs from the
   * cached one record the transition once (transaction), cache what runs now and report the change.
   */
  private async doReload(name: ConfigDocName): Promise<ConfigCheckResult> {
    const { raw, seeded } = await this.readOrSeed(name);
    const hash = hashDocument(raw);
    const now = this.clock.now();
    const cached = this.cache.get(name);
    if (cached && cached.rawHash === hash) {
      cached.loadedAt = now;
      return { name, outcome: 'unchanged', hash, seeded };
    }
    const tx = await this.state.runTransaction((t) => recordTransition(t, name, raw, hash, now));
    // What runs now.
    const value = tx.parsed.success ? tx.parsed.data : this.lastValidValue(name, tx.before, cached);
    this.cache.set(name, { value: deepFreeze(value), rawHash: hash, loadedAt: now });
    await this.reportTransition(name, tx, hash, now, cached !== undefined);
    const errors = tx.parsed.errors;
    return { name, outcome: tx.outcome, hash, seeded, ...(errors.length > 0 ? { errors } : {}) };
  }

  /** The stored document; a missing one is seeded with the last valid config, else the defaults. */
  private async readOrSeed(name: ConfigDocName): Promise<{ raw: DocData; seeded: boolean }> {
    const def = CONFIG_DOCUMENTS[name] as { path: string; defaults: unknown };
    const raw = await this.state.get(def.path);
    if (raw !== undefined) return { raw, seeded: false };
    const st = await this.state.get<ConfigStateDoc>(configStatePath(name));
    const seed = toDoc(st?.lastValid ?? def.defaults);
    const seeded = await this.state.create(def.path, seed);
    if (seeded) this.log.notice('config document missing: seeded', { config: name, path: def.path, from: st?.lastValid ? 'last valid' : 'defaults' });
    return { raw: (await this.state.get(def.path)) ?? seed, seeded };
  }

  /** Logs and alerts a transition this instance recorded (a still-rejected document only on a cold start). */
  private async reportTransition(name: ConfigDocName, tx: Transition, hash: string, now: number, hadCache: boolean): Promise<void> {
    const errors = tx.parsed.errors;
    if (tx.outcome === 'applied' || tx.outcome === 'initial') {
      this.log.notice(`config "${name}" ${tx.outcome === 'initial' ? 'in force (first version)' : 'applied'}`, {
        config: name,
        changeId: tx.changeId,
        hash,
      });
      if (tx.outcome === 'applied') {
        await this.alert('config_applied', 'info', name, hash, now, `config "${name}" applied (change ${tx.changeId})`, { changeId: tx.changeId });
      }
    } else if (tx.outcome === 'rejected') {
      this.log.error(tx.rejectMessage, { config: name, changeId: tx.changeId, errors });
      await this.alert('config_rejected', 'warning', name, hash, now, tx.rejectMessage, { changeId: tx.changeId, errors });
    } else if (tx.outcome === 'still_rejected' && !hadCache) {
      this.log.warn(`config "${name}" document is still invalid; running on the last valid config`, { config: name, hash });
    }
  }

  /** The last valid config when the document is invalid: recorded state, else cache, else defaults. */
  private lastValidValue(name: ConfigDocName, recorded: DocData | null, cached: CacheEntry | undefined): unknown {
    const def = CONFIG_DOCUMENTS[name] as { schema: z.ZodType<unknown>; defaults: unknown };
    if (recorded) {
      // Over the defaults, so a key added to the schema since it was recorded takes its default.
      const again = validateConfigDocument(name, recorded, null);
      if (again.success) return again.data;
      this.log.error(`config "${name}": the recorded last valid config no longer validates; using defaults`, {
        config: name,
        errors: again.errors,
      });
      return structuredClone(def.defaults);
    }
    if (cached) return cached.value;
    return structuredClone(def.defaults);
  }

  private async alert(
    kind: 'config_applied' | 'config_rejected',
    severity: 'info' | 'warning',
    name: ConfigDocName,
    hash: string,
    ts: number,
    message: string,
    details: Record<string, JsonValue | undefined>,
  ): Promise<void> {
    try {
      const alert: Alert = { alertId: `${kind}:${name}:${hash.slice(0, 16)}`, kind, severity, subject: name, message, ts, details };
      await publish(this.bus, TOPICS.alerts, alert, { attributes: alertAttributes(alert) });
    } catch (e) {
      // The change is recorded; a lost alert must not make the config itself fail.
      this.log.error('could not publish config alert', { config: name, kind, error: e as Error });
    }
  }
}

/** Creates every missing config document with its defaults (emulators, local runtime). */
export async function seedDefaults(state: StateStore, names: ConfigDocName[] = CONFIG_DOC_NAMES): Promise<ConfigDocName[]> {
  const created: ConfigDocName[] = [];
  for (const name of names) {
    const def = CONFIG_DOCUMENTS[name];
    if (await state.create(def.path, toDoc(def.defaults))) created.push(name);
  }
  return created;
}

/** The change log of one document (or all), newest first. */
export async function configChanges(state: StateStore, name?: ConfigDocName, limit = 50): Promise<ConfigChangeRecord[]> {
  const docs = await state.query<ConfigChangeRecord>(CONFIG_CHANGES_COLLECTION, {
    ...(name ? { where: [{ field: 'name', op: '==' as const, value: name }] } : {}),
    orderBy: { field: 'ts', direction: 'desc' },
    limit,
  });
  return docs.map((d) => d.data).sort((a, b) => b.ts - a.ts || b.seq - a.seq);
}
