/**
 * The child process of the cold-start bench (bench/cold-start.ts): `node --import tsx
 * bench/cold-start-probe.mjs <module URL>` imports one module in a fresh process and prints one JSON
 * line: ms to import it, how many files were loaded on the way (ESM loads seen by a loader hook, plus
 * the CommonJS module cache, deduplicated), how many of them are the project's own, and which heavy
 * native add-ons / cloud clients were among them.
 */
import { createRequire, register } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { MessageChannel } from 'node:worker_threads';

/** Packages worth naming when a function loads them (native add-ons and cloud clients). */
const HEAVY = ['@duckdb/', 'better-sqlite3', 'tulind', 'sharp', '@google-cloud/firestore', '@google-cloud/pubsub', '@google-cloud/bigquery', '@google-cloud/secret-manager', 'bybit-api'];

const { port1, port2 } = new MessageChannel();
const seen = new Set();
port1.on('message', (url) => seen.add(url));
register('./cold-start-hooks.mjs', import.meta.url, { data: { port: port2 }, transferList: [port2] });

const target = process.argv[2];
const t0 = performance.now();
await import(target);
const ms = performance.now() - t0;
// Let the hook thread's last messages arrive.
await new Promise((resolve) => setTimeout(resolve, 50));
port1.close();
const self = new Set([import.meta.url, new URL('./cold-start-hooks.mjs', import.meta.url).href]);
for (const file of Object.keys(createRequire(import.meta.url).cache)) seen.add(pathToFileURL(file).href);
const files = [...seen].filter((u) => !self.has(u)).map((u) => fileURLToPath(u));
const ours = files.filter((f) => !f.includes('/node_modules/'));
const heavy = HEAVY.filter((h) => files.some((f) => f.includes(`/node_modules/${h}`)));
process.stdout.write(`${JSON.stringify({ ms, modules: files.length, project_modules: ours.length, heavy })}\n`);
process.exit(0);
