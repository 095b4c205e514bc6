/**
 * The durable journal of the embedded bus (SQLite via better-sqlite3): what makes `kill -9` at any
 * moment lose and duplicate nothing.
 *
 *   messages       every message that has at least one unacked delivery: topic, payload bytes,
 *                  attributes, ordering key, publish time. Ids come from AUTOINCREMENT, so a message
 *                  id is never reused, across restarts too.
 *   subscriptions  the subscriptions ever attached (name -> topic, dead-letter topic): like Pub/Sub's,
 *                  they outlive the process, so a message published before its subscriber re-attaches
 *                  after a restart is kept for it.
 *   deliveries     one row per (subscription, message) not yet acked: attempts so far and when the
 *                  next attempt may run (bus clock). Ack = the row is deleted (with the message when
 *                  it was the last one).
 *   dead_letters   messages a subscription gave up on, with the reason and the payload; `replayed_*`
 *                  records a replay (scripts/deadletters.ts), so replaying twice is a no-op.
 *   injected       deliveries another process added (a dead-letter replay) for a running bus to pick up.
 *
 * Group commit: every write (publish, ack, retry, dead letter) goes into one open transaction that is
 * committed on the next turn of the event loop (`setImmediate`), so a burst of messages costs one
 * commit. `publish` resolves only after the commit of its message and deliveries (`committed()`): a
 * publisher that moves a cursor after publish can rely on it. An ack whose commit a crash prevented
 * is a redelivery (consumers are idempotent), never a loss. WAL with synchronous=NORMAL: a committed
 * transaction survives the process being killed (the WAL is in the OS page cache); only an OS crash
 * or power loss may lose the last commits.
 */
import Database from 'better-sqlite3';

export interface JournalMessage {
  id: number;
  topic: string;
  data: Buffer;
  attributes: Record<string, string> | undefined;
  orderingKey: string | undefined;
  publishTime: string;
}

export interface PendingDelivery {
  message: JournalMessage;
  attempts: number;
  nextAttemptAt: number;
}

interface JournalSubscription {
  name: string;
  topic: string;
  deadLetterTopic: string;
}

export interface StoredDeadLetter {
  id: number;
  subscription: string;
  topic: string;
  deadLetterTopic: string;
  messageId: string;
  deadLetterMessageId: string;
  attempts: number;
  reason: string;
  permanent: boolean;
  data: Buffer;
  attributes: Record<string, string>;
  orderingKey: string | undefined;
  at: number;
  /** Id of the message the replay published for the subscription, when replayed. */
  replayedMessageId: string | undefined;
  replayedAt: number | undefined;
}

export interface DeadLetterFilter {
  id?: number;
  topic?: string;
  subscription?: string;
  /** true: only not yet replayed; false: only replayed. */
  pending?: boolean;
}

interface MessageRow {
  id: number;
  topic: string;
  data: Buffer;
  attributes: string | null;
  ordering_key: string | null;
  publish_time: string;
}

interface DeadLetterRow {
  id: number;
  subscription: string;
  topic: string;
  dead_letter_topic: string;
  message_id: string;
  dead_letter_message_id: string;
  attempts: number;
  reason: string;
  permanent: number;
  data: Buffer;
  attributes: string | null;
  ordering_key: string | null;
  at: number;
  replayed_message_id: string | null;
  replayed_at: number | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  topic TEXT NOT NULL,
  data BLOB NOT NULL,
  attributes TEXT,
  ordering_key TEXT,
  publish_time TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS subscriptions (
  name TEXT PRIMARY KEY,
  topic TEXT NOT NULL,
  dead_letter_topic TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS deliveries (
  message_id INTEGER NOT NULL,
  subscription TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (message_id, subscription)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deliveries_by_subscription ON deliveries (subscription, message_id);
CREATE TABLE IF NOT EXISTS dead_letters (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  subscription TEXT NOT NULL,
  topic TEXT NOT NULL,
  dead_letter_topic TEXT NOT NULL,
  message_id TEXT NOT NULL,
  dead_letter_message_id TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  reason TEXT NOT NULL,
  permanent INTEGER NOT NULL,
  data BLOB NOT NULL,
  attributes TEXT,
  ordering_key TEXT,
  at INTEGER NOT NULL,
  replayed_message_id TEXT,
  replayed_at INTEGER
);
CREATE TABLE IF NOT EXISTS injected (
  message_id INTEGER NOT NULL,
  subscription TEXT NOT NULL,
  PRIMARY KEY (message_id, subscription)
) WITHOUT ROWID;
`;

function parseAttrs(s: string | null): Record<string, string> | undefined {
  return s === null ? undefined : (JSON.parse(s) as Record<string, string>);
}

function toMessage(r: MessageRow): JournalMessage {
  return {
    id: r.id,
    topic: r.topic,
    data: r.data,
    attributes: parseAttrs(r.attributes),
    orderingKey: r.ordering_key ?? undefined,
    publishTime: r.publish_time,
  };
}

function toDeadLetter(r: DeadLetterRow): StoredDeadLetter {
  return {
    id: r.id,
    subscription: r.subscription,
    topic: r.topic,
    deadLetterTopic: r.dead_letter_topic,
    messageId: r.message_id,
    deadLetterMessageId: r.dead_letter_message_id,
    attempts: r.attempts,
    reason: r.reason,
    permanent: r.permanent === 1,
    data: r.data,
    attributes: parseAttrs(r.attributes) ?? {},
    orderingKey: r.ordering_key ?? undefined,
    at: r.at,
    replayedMessageId: r.replayed_message_id ?? undefined,
    replayedAt: r.replayed_at ?? undefined,
  };
}

interface BusJournalOptions {
  /** How long a connection waits for another's write lock (the dead-letter CLI beside a running bus). */
  busyTimeoutMs?: number;
}

export class BusJournal {
  private readonly db: Database.Database;
  private readonly st;
  /** A group-commit transaction is open. */
  private inTx = false;
  private commitWaiters: Array<{ resolve: () => void; reject: (e: unknown) => void }> = [];
  private readonly replayTx: (id: number, at: number, publishTime: string) => { replayed: boolean; messageId: string; reason?: string };
  private readonly claimTx: () => Array<{ subscription: string; delivery: PendingDelivery }>;
  private lastDataVersion = -1;

  constructor(readonly file: string, opts: BusJournalOptions = {}) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma(`busy_timeout = ${opts.busyTimeoutMs ?? 10_000}`);
    this.db.exec(SCHEMA);
    const db = this.db;
    this.st = {
      insertMessage: db.prepare('INSERT INTO messages (topic, data, attributes, ordering_key, publish_time) VALUES (?, ?, ?, ?, ?)'),
      insertDelivery: db.prepare('INSERT OR IGNORE INTO deliveries (message_id, subscription, attempts, next_attempt_at) VALUES (?, ?, 0, 0)'),
      deleteDelivery: db.prepare('DELETE FROM deliveries WHERE message_id = ? AND subscription = ?'),
      deleteOrphan: db.prepare('DELETE FROM messages WHERE id = ? AND NOT EXISTS (SELECT 1 FROM deliveries WHERE message_id = ?)'),
      retry: db.prepare('UPDATE deliveries SET attempts = ?, next_attempt_at = ? WHERE message_id = ? AND subscription = ?'),
      upsertSub: db.prepare(
        'INSERT INTO subscriptions (name, topic, dead_letter_topic) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET topic = excluded.topic, dead_letter_topic = excluded.dead_letter_topic',
      ),
      subs: db.prepare('SELECT name, topic, dead_letter_topic FROM subscriptions ORDER BY name'),
      sub: db.prepare('SELECT name, topic, dead_letter_topic FROM subscriptions WHERE name = ?'),
      pending: db.prepare(
        `SELECT m.id, m.topic, m.data, m.attributes, m.ordering_key, m.publish_time, d.attempts, d.next_attempt_at
           FROM deliveries d JOIN messages m ON m.id = d.message_id
          WHERE d.subscription = ? ORDER BY d.message_id`,
      ),
      pendingOne: db.prepare(
        `SELECT m.id, m.topic, m.data, m.attributes, m.ordering_key, m.publish_time, d.attempts, d.next_attempt_at
           FROM deliveries d JOIN messages m ON m.id = d.message_id
          WHERE d.subscription = ? AND d.message_id = ?`,
      ),
      deadLetterCount: db.prepare('SELECT COUNT(*) FROM dead_letters').pluck(),
      pendingCount: db.prepare('SELECT subscription, COUNT(*) AS n FROM deliveries GROUP BY subscription ORDER BY subscription'),
      insertDeadLetter: db.prepare(
        `INSERT INTO dead_letters (subscription, topic, dead_letter_topic, message_id, dead_letter_message_id, attempts, reason, permanent, data, attributes, ordering_key, at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      deadLetter: db.prepare('SELECT * FROM dead_letters WHERE id = ?'),
      markReplayed: db.prepare('UPDATE dead_letters SET replayed_message_id = ?, replayed_at = ? WHERE id = ?'),
      insertInjected: db.prepare('INSERT OR IGNORE INTO injected (message_id, subscription) VALUES (?, ?)'),
      injected: db.prepare('SELECT message_id, subscription FROM injected ORDER BY message_id'),
      clearInjected: db.prepare('DELETE FROM injected'),
      dataVersion: db.prepare('PRAGMA data_version').pluck(),
    };

    this.replayTx = db.transaction((id: number, at: number, publishTime: string) => {
      const row = this.st.deadLetter.get(id) as DeadLetterRow | undefined;
      if (!row) throw new Error(`no dead letter with id ${id}`);
      if (row.replayed_message_id !== null) return { replayed: false, messageId: row.replayed_message_id, reason: 'already replayed' };
      if (!this.st.sub.get(row.subscription)) throw new Error(`dead letter ${id}: subscription ${row.subscription} is unknown to this bus`);
      const messageId = Number(this.st.insertMessage.run(row.topic, row.data, row.attributes, row.ordering_key, publishTime).lastInsertRowid);
      this.st.insertDelivery.run(messageId, row.subscription);
      this.st.insertInjected.run(messageId, row.subscription);
      this.st.markReplayed.run(String(messageId), at, id);
      return { replayed: true, messageId: String(messageId) };
    });
    this.claimTx = db.transaction(() => {
      const rows = this.st.injected.all() as Array<{ message_id: number; subscription: string }>;
      this.st.clearInjected.run();
      const out: Array<{ subscription: string; delivery: PendingDelivery }> = [];
      for (const r of rows) {
        const p = this.st.pendingOne.get(r.subscription, r.message_id) as (MessageRow & { attempts: number; next_attempt_at: number }) | undefined;
        if (p) out.push({ subscription: r.subscription, delivery: { message: toMessage(p), attempts: p.attempts, nextAttemptAt: p.next_attempt_at } });
      }
      return out;
    });
  }

  /**
   * Writes a message with one delivery per subscription into the open transaction; returns its id.
   * Durable once `committed()` resolves.
   */
  publish(m: Omit<JournalMessage, 'id'>, subscriptions: readonly string[]): number {
    this.begin();
    const id = Number(
      this.st.insertMessage.run(m.topic, m.data, m.attributes ? JSON.stringify(m.attributes) : null, m.orderingKey ?? null, m.publishTime).lastInsertRowid,
    );
    for (const s of subscriptions) this.st.insertDelivery.run(id, s);
    return id;
  }

  ack(subscription: string, messageId: number): void {
    this.begin();
    this.st.deleteDelivery.run(messageId, subscription);
    this.st.deleteOrphan.run(messageId, messageId);
  }

  retry(subscription: string, messageId: number, attempts: number, nextAttemptAt: number): void {
    this.begin();
    this.st.retry.run(attempts, nextAttemptAt, messageId, subscription);
  }

  /** Moves a delivery to the dead letters (same transaction); returns the dead letter's id. */
  deadLetter(d: Omit<StoredDeadLetter, 'id' | 'replayedMessageId' | 'replayedAt'>, messageId: number): number {
    this.begin();
    const id = Number(
      this.st.insertDeadLetter.run(
        d.subscription,
        d.topic,
        d.deadLetterTopic,
        d.messageId,
        d.deadLetterMessageId,
        d.attempts,
        d.reason,
        d.permanent ? 1 : 0,
        d.data,
        JSON.stringify(d.attributes),
        d.orderingKey ?? null,
        d.at,
      ).lastInsertRowid,
    );
    this.st.deleteDelivery.run(messageId, d.subscription);
    this.st.deleteOrphan.run(messageId, messageId);
    return id;
  }

  /** Resolves once every write made so far is committed (at once when none is pending). */
  committed(): Promise<void> {
    if (!this.inTx) return Promise.resolve();
    return new Promise((resolve, reject) => this.commitWaiters.push({ resolve, reject }));
  }

  /** Commits the open transaction now (close, tests). */
  flush(): void {
    if (!this.inTx) return;
    const waiters = this.commitWaiters;
    this.commitWaiters = [];
    try {
      this.db.exec('COMMIT');
      this.inTx = false;
    } catch (e) {
      try {
        this.db.exec('ROLLBACK');
      } catch {
        // nothing left to undo
      }
      this.inTx = false;
      for (const w of waiters) w.reject(e);
      return;
    }
    for (const w of waiters) w.resolve();
  }

  private begin(): void {
    if (this.inTx) return;
    this.db.exec('BEGIN IMMEDIATE');
    this.inTx = true;
    setImmediate(() => this.flush());
  }

  saveSubscription(s: JournalSubscription): void {
    this.st.upsertSub.run(s.name, s.topic, s.deadLetterTopic);
  }

  subscriptions(): JournalSubscription[] {
    return (this.st.subs.all() as Array<{ name: string; topic: string; dead_letter_topic: string }>).map((r) => ({
      name: r.name,
      topic: r.topic,
      deadLetterTopic: r.dead_letter_topic,
    }));
  }

  /** Unacked deliveries of a subscription, in publish order. */
  pending(subscription: string): PendingDelivery[] {
    return (this.st.pending.all(subscription) as Array<MessageRow & { attempts: number; next_attempt_at: number }>).map((r) => ({
      message: toMessage(r),
      attempts: r.attempts,
      nextAttemptAt: r.next_attempt_at,
    }));
  }

  pendingCounts(): Record<string, number> {
    return Object.fromEntries((this.st.pendingCount.all() as Array<{ subscription: string; n: number }>).map((r) => [r.subscription, r.n]));
  }

  deadLetterCount(): number {
    return this.st.deadLetterCount.get() as number;
  }

  deadLetters(filter: DeadLetterFilter = {}): StoredDeadLetter[] {
    const where: string[] = [];
    const params: Array<string | number> = [];
    if (filter.id !== undefined) {
      where.push('id = ?');
      params.push(filter.id);
    }
    if (filter.topic !== undefined) {
      where.push('topic = ?');
      params.push(filter.topic);
    }
    if (filter.subscription !== undefined) {
      where.push('subscription = ?');
      params.push(filter.subscription);
    }
    if (filter.pending !== undefined) where.push(filter.pending ? 'replayed_message_id IS NULL' : 'replayed_message_id IS NOT NULL');
    const sql = `SELECT * FROM dead_letters${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id`;
    return (this.db.prepare(sql).all(...params) as DeadLetterRow[]).map(toDeadLetter);
  }

  /**
   * Queues dead letter `id` again for its subscription (a new message id, attempts from 0) and marks
   * it replayed, in one transaction. A dead letter already replayed is left alone (`replayed: false`).
   */
  replayDeadLetter(id: number, at: number, publishTime: string): { replayed: boolean; messageId: string; reason?: string } {
    return this.replayTx(id, at, publishTime);
  }

  /** Deliveries other processes injected since the last call (cheap when nothing changed). */
  claimInjected(): Array<{ subscription: string; delivery: PendingDelivery }> {
    const v = this.st.dataVersion.get() as number;
    if (v === this.lastDataVersion) return [];
    this.lastDataVersion = v;
    return this.claimTx();
  }

  /** Forgets injected markers (a starting bus loads every pending delivery anyway). */
  clearInjected(): void {
    this.st.clearInjected.run();
    this.lastDataVersion = this.st.dataVersion.get() as number;
  }

  close(): void {
    if (!this.db.open) return;
    this.flush();
    this.db.close();
  }

  get open(): boolean {
    return this.db.open;
  }
}
