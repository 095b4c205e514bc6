import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStateStore, TransactionContentionError } from '../../infra/state/sqlite.js';
import { recentHotCandles, writeHotCandles } from '../../shared/market/hot-store.js';
import { barsCollection } from '../../shared/state-paths.js';
import type { Candle } from '../../shared/model/market.js';
import { loadFixtureCandles, parseCandleCsv, stateContract } from './contract.js';
import { kitFile, withKit } from '../kit.js';

const dir = mkdtempSync(join(tmpdir(), 'state-sqlite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const newFile = (): string => join(dir, `state-${++n}.db`);
/** Which file each store of the contract was opened on, so a peer opens the same file. */
const fileOf = new WeakMap<object, string>();

stateContract(
  'SqliteStateStore (file, WAL)',
  async () => {
    const file = newFile();
    const s = new SqliteStateStore({ file });
    fileOf.set(s, file);
    return s;
  },
  {
    transactionIsolation: true,
    observableRetry: true,
    atomicBatch: true,
    setReplaces: true,
    mergeEdgeCases: true,
    startAfter: true,
    dottedFields: true,
    implicitOrder: true,
    orderByExcludesMissing: true,
    mixedNumberComparison: true,
    mixedTypeOrdering: true,
    notEqualExcludesNull: true,
    openPeer: async (first) => {
      const file = fileOf.get(first);
      if (!file) throw new Error('peer of an unknown store');
      return new SqliteStateStore({ file });
    },
    contentionWorkers: 50,
  },
);

stateContract('SqliteStateStore (:memory:)', async () => new SqliteStateStore({ file: ':memory:' }), {
  transactionIsolation: true,
  observableRetry: true,
  atomicBatch: true,
  setReplaces: true,
  mergeEdgeCases: true,
  startAfter: true,
  dottedFields: true,
  implicitOrder: true,
  orderByExcludesMissing: true,
  mixedNumberComparison: true,
  mixedTypeOrdering: true,
  notEqualExcludesNull: true,
  contentionWorkers: 50,
});

describe('SqliteStateStore specifics', () => {
  const month = withKit('answers orderBy openTime desc limit 500 over 44.6k real 1m candles from an expression index', 'bybit_linear/BTCUSDT_1m.csv');
  it.skipIf(month.skip)(month.title, async () => {
    const csv = kitFile('bybit_linear/BTCUSDT_1m.csv');
    const candles = parseCandleCsv(readFileSync(csv, 'utf8'), 'BTCUSDT');
    expect(candles).toHaveLength(44_614);
    const dbFile = newFile();
    const s = new SqliteStateStore({ file: dbFile });
    try {
      await writeHotCandles(s, candles);
      await writeHotCandles(s, loadFixtureCandles('ETHUSDT', 300));
      const first = await recentHotCandles(s, 'bybit', 'BTCUSDT', '1m', 500);
      expect(first).toEqual(candles.slice(-500));
      const again = await s.query<Candle>(barsCollection('bybit', 'BTCUSDT', '1m'), {
        orderBy: { field: 'openTime', direction: 'desc' },
        limit: 500,
      });
      expect(again[0]?.data.openTime).toBe(candles[candles.length - 1]?.openTime);
      expect(again).toHaveLength(500);
      // Answered from an expression index on (collection, openTime), not a scan + sort of the
      // collection (speed is a benchmark's business, never a timed test): the index exists.
      const raw = new Database(dbFile, { readonly: true });
      try {
        const indexes = raw.prepare("SELECT sql FROM sqlite_master WHERE type = 'index' AND name LIKE 'docs_order_%'").all() as Array<{ sql: string }>;
        expect(indexes.map((i) => i.sql).join('\n')).toMatch(/openTime/);
      } finally {
        raw.close();
      }
      const page = await s.query<Candle>(barsCollection('bybit', 'BTCUSDT', '1m'), {
        orderBy: { field: 'openTime', direction: 'desc' },
        limit: 3,
        startAfter: again[499]?.data.openTime ?? 0,
      });
      expect(page.map((d) => d.data)).toEqual(candles.slice(-503, -500).reverse());
    } finally {
      await s.close();
    }
  });

  it('a batch that fails inside SQLite part-way applies none of its writes', async () => {
    const file = newFile();
    const s = new SqliteStateStore({ file });
    try {
      await s.set('b/keep', { v: 1 });
      const raw = new Database(file);
      raw.exec(`CREATE TRIGGER refuse_boom BEFORE INSERT ON docs WHEN NEW.id = 'boom'
                BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END`);
      raw.close();
      await expect(
        s.batch([
          { kind: 'set', path: 'b/first', data: { v: 1 } },
          { kind: 'delete', path: 'b/keep' },
          { kind: 'set', path: 'b/boom', data: { v: 3 } },
        ]),
      ).rejects.toThrow(/refused by test trigger/);
      expect((await s.query('b')).map((d) => d.id)).toEqual(['keep']);
    } finally {
      await s.close();
    }
  });

  it('gives up with TransactionContentionError after maxTransactionAttempts', async () => {
    const s = new SqliteStateStore({ file: ':memory:', maxTransactionAttempts: 3 });
    try {
      let attempts = 0;
      const run = s.runTransaction(async (tx) => {
        attempts += 1;
        const c = await tx.get<{ n: number }>('c/x');
        await s.set('c/x', { n: attempts * 100 });
        tx.set('c/x', { n: (c?.n ?? 0) + 1 });
      });
      await expect(run).rejects.toBeInstanceOf(TransactionContentionError);
      await expect(run).rejects.toThrow(/after 3 attempts/);
      expect(attempts).toBe(3);
      expect(await s.get('c/x')).toEqual({ n: 300 });
    } finally {
      await s.close();
    }
  });

  it('separate processes on one file lose no update', async () => {
    const file = newFile();
    const parent = new SqliteStateStore({ file });
    const worker = fileURLToPath(new URL('./sqlite-increment-worker.ts', import.meta.url));
    const run = promisify(execFile);
    const perProcess = 20;
    try {
      await Promise.all([
        run(process.execPath, ['--import', 'tsx', worker, file, 'c/multi', String(perProcess), 'p1']),
        run(process.execPath, ['--import', 'tsx', worker, file, 'c/multi', String(perProcess), 'p2']),
        ...Array.from({ length: perProcess }, () =>
          parent.runTransaction(async (tx) => {
            const c = await tx.get<{ n: number; by: string[] }>('c/multi');
            tx.set('c/multi', { n: (c?.n ?? 0) + 1, by: [...(c?.by ?? []), 'parent'] });
          }),
        ),
      ]);
      const final = await parent.get<{ n: number; by: string[] }>('c/multi');
      expect(final?.n).toBe(3 * perProcess);
      for (const tag of ['p1', 'p2', 'parent']) expect(final?.by.filter((b) => b === tag)).toHaveLength(perProcess);
      expect(existsSync(`${file}-wal`)).toBe(true);
    } finally {
      await parent.close();
    }
  });

  it('keeps data across close and reopen; :memory: stores are private', async () => {
    const file = newFile();
    const a = new SqliteStateStore({ file });
    await a.set('cfg/system', { haltTrading: false, nested: { k: [1, 2] } });
    await a.close();
    await expect(a.get('cfg/system')).rejects.toThrow(/closed/);
    const b = new SqliteStateStore({ file });
    expect(await b.get('cfg/system')).toEqual({ haltTrading: false, nested: { k: [1, 2] } });
    await b.close();
    const m1 = new SqliteStateStore({ file: ':memory:' });
    const m2 = new SqliteStateStore({ file: ':memory:' });
    await m1.set('x/y', { v: 1 });
    expect(await m2.get('x/y')).toBeUndefined();
    await m1.close();
    await m2.close();
  });

  it('rejects Dates and class instances, and queries with bad arguments, with clear errors', async () => {
    const s = new SqliteStateStore({ file: ':memory:' });
    try {
      await expect(s.set('x/y', { at: new Date(0) } as never)).rejects.toThrow(/at: Date is not JSON/);
      await expect(s.query('x', { startAfter: 1 })).rejects.toThrow(/startAfter requires orderBy/);
      await expect(s.query('x', { where: [{ field: 'v', op: 'in', value: [] }] })).rejects.toThrow(/non-empty array/);
      await expect(s.query('x', { where: [{ field: 'v', op: '<', value: null }] })).rejects.toThrow(/unsupported range filter/);
      await expect(s.query('x/y')).rejects.toThrow(/not a collection path/);
    } finally {
      await s.close();
    }
  });
});
