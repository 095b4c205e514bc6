/**
 * Child process for the multi-process SQLite test: opens the store on the given file and runs
 * `count` concurrent incrementing transactions on one counter, tagging each increment with `tag`.
 * Usage: node --import tsx test/state/sqlite-increment-worker.ts <file> <docPath> <count> <tag>
 */
import { SqliteStateStore } from '../../infra/state/sqlite.js';

const [file, path, countArg, tag] = process.argv.slice(2);
if (!file || !path || !countArg || !tag) throw new Error('usage: <file> <docPath> <count> <tag>');
const count = Number(countArg);
const store = new SqliteStateStore({ file });
await Promise.all(
  Array.from({ length: count }, () =>
    store.runTransaction(async (tx) => {
      const c = await tx.get<{ n: number; by: string[] }>(path);
      tx.set(path, { n: (c?.n ?? 0) + 1, by: [...(c?.by ?? []), tag] });
    }),
  ),
);
await store.close();
