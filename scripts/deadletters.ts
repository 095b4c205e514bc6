/**
 * `npm run deadletters -- list|replay [options]`: the embedded bus's dead letters (infra/bus/store.ts),
 * which survive restarts. `list` shows them; `replay` queues the chosen ones again for the
 * subscription that gave up on them (a new message, attempts from 0) and marks them replayed, in one
 * transaction each, so replaying twice queues nothing the second time. A running runtime picks the
 * replayed messages up within a second; otherwise the next start on the same data dir delivers them.
 * `npm run deadletters -- --help` for the options.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { fail } from './cli.js';
import { BusJournal, type DeadLetterFilter, type StoredDeadLetter } from '../infra/bus/store.js';
import { BUS_JOURNAL_FILE, DEFAULT_DATA_DIR } from '../infra/runtime/root.js';
import { cloudDeadLetterPort, listCloudDeadLetters, replayCloudDeadLetters, type DeadLetterPort } from '../infra/bus/cloud-dead-letters.js';
import { ALL_TOPICS, TOPICS } from '../shared/topics.js';

/** Topics of candles the execution applies behind a per-feed watermark. */
const CANDLE_TOPICS: ReadonlySet<string> = new Set([TOPICS.bybitCandles, TOPICS.krakenOhlc]);

const HELP = `Usage: npm run deadletters -- <list|replay> [options]

Lists or replays the dead letters of the embedded bus (kept in <data-dir>/<market>/${BUS_JOURNAL_FILE}),
or, with --project, of the deployed Pub/Sub: the <topic>-dlq topics' retention subscriptions
(dead-letters--<topic>-dlq). On Google Cloud a replay publishes each dead letter again on its topic
(every subscriber sees it again; all are idempotent) and acknowledges it once published; list pulls
and releases (nothing is taken). Both need --topic there; --subscription narrows to one subscriber.

Commands:
  list                 dead letters, oldest first: id, when, subscription, attempts, reason, status
  replay               queue the selected dead letters again for their subscription; each is replayed
                       once (a second replay of the same dead letter does nothing). Needs --id, --topic,
                       --subscription or --all. A running runtime delivers them within a second,
                       otherwise the next start on the same data dir does.

Options:
  --topic T            only dead letters of source topic T (e.g. candles-bybit-1m)
  --subscription S     only those of subscription S (e.g. execution--candles-bybit-1m)
  --id ID              only dead letter ID (the first column of list)
  --all                replay: every dead letter not yet replayed
  --pending            list: only those not yet replayed
  --data-dir DIR       the runtime's data folder (default ${DEFAULT_DATA_DIR})
  --market live|replay which run's bus (default live; npm start's replays use replay)
  --file FILE          the bus journal file itself (instead of --data-dir / --market)
  --project P          Google Cloud project: the deployed Pub/Sub instead of the embedded bus
  --max N              --project: at most N dead letters per run (default 100)
  --json               machine-readable output (one JSON object per line)
  -h, --help           this help
`;

interface DeadLetterCliResult {
  code: number;
  lines: string[];
}

function summaryOf(d: StoredDeadLetter): Record<string, unknown> {
  let payload: unknown;
  try {
    payload = JSON.parse(d.data.toString('utf8'));
  } catch {
    payload = d.data.toString('base64');
  }
  return {
    id: d.id,
    at: new Date(d.at).toISOString(),
    subscription: d.subscription,
    topic: d.topic,
    messageId: d.messageId,
    attempts: d.attempts,
    permanent: d.permanent,
    reason: d.reason,
    orderingKey: d.orderingKey ?? null,
    attributes: d.attributes,
    replayedMessageId: d.replayedMessageId ?? null,
    payload,
  };
}

function line(d: StoredDeadLetter): string {
  const status = d.replayedMessageId ? `replayed as message ${d.replayedMessageId}` : 'pending';
  return `${String(d.id).padStart(5)}  ${new Date(d.at).toISOString()}  ${d.subscription}  attempts ${d.attempts}${d.permanent ? ' (permanent)' : ''}  ${status}\n       reason: ${d.reason}`;
}

/** Runs the CLI on `argv` (without node and script); returns the exit code and the output lines. */
export function runDeadLetters(argv: string[], now: () => number = Date.now): DeadLetterCliResult {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        topic: { type: 'string' },
        subscription: { type: 'string' },
        id: { type: 'string' },
        all: { type: 'boolean', default: false },
        pending: { type: 'boolean', default: false },
        'data-dir': { type: 'string', default: DEFAULT_DATA_DIR },
        market: { type: 'string', default: 'live' },
        file: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
        // the --project path's own options (runCloudDeadLetters); here only so --help works with them
        project: { type: 'string' },
        max: { type: 'string' },
      },
      allowPositionals: true,
    });
  } catch (e) {
    fail((e as Error).message);
  }
  const v = parsed.values;
  if (v.help) return { code: 0, lines: [HELP.trimEnd()] };
  const [command, ...rest] = parsed.positionals;
  if (command !== 'list' && command !== 'replay') fail(`expected the command list or replay (got '${command ?? ''}')`);
  if (rest.length > 0) fail(`unexpected argument '${rest[0]}'`);
  if (v.market !== 'live' && v.market !== 'replay') fail(`--market must be live or replay (got '${v.market}')`);
  let id: number | undefined;
  if (v.id !== undefined) {
    id = Number(v.id);
    if (!Number.isInteger(id) || id < 1) fail(`--id must be a positive integer (got '${v.id}')`);
  }
  const file = resolve(v.file ?? join(v['data-dir']!, v.market, BUS_JOURNAL_FILE));
  if (!existsSync(file)) fail(`no bus journal at ${file} (has the runtime run with this --data-dir / --market?)`);

  const filter: DeadLetterFilter = {};
  if (id !== undefined) filter.id = id;
  if (v.topic !== undefined) filter.topic = v.topic;
  if (v.subscription !== undefined) filter.subscription = v.subscription;

  const journal = new BusJournal(file);
  try {
    const lines: string[] = [];
    if (command === 'list') {
      if (v.pending) filter.pending = true;
      const list = journal.deadLetters(filter);
      if (v.json) for (const d of list) lines.push(JSON.stringify(summaryOf(d)));
      else {
        lines.push(`${list.length} dead letter${list.length === 1 ? '' : 's'} in ${file}`);
        for (const d of list) lines.push(line(d));
      }
      return { code: 0, lines };
    }
    if (id === undefined && v.topic === undefined && v.subscription === undefined && !v.all) {
      fail('replay needs --id, --topic, --subscription or --all');
    }
    const list = journal.deadLetters(filter);
    if (id !== undefined && list.length === 0) {
      lines.push(`no dead letter with id ${id}${v.topic || v.subscription ? ' matching the filters' : ''}`);
      return { code: 1, lines };
    }
    let replayed = 0;
    for (const d of list) {
      const at = now();
      const r = journal.replayDeadLetter(d.id, at, new Date(at).toISOString());
      if (r.replayed) replayed++;
      if (v.json) lines.push(JSON.stringify({ id: d.id, subscription: d.subscription, replayed: r.replayed, messageId: r.messageId, ...(r.reason ? { reason: r.reason } : {}) }));
      else lines.push(r.replayed ? `dead letter ${d.id}: queued again for ${d.subscription} as message ${r.messageId}` : `dead letter ${d.id}: ${r.reason} (message ${r.messageId}); nothing done`);
    }
    if (!v.json) lines.push(`${replayed} replayed, ${list.length - replayed} already replayed before`);
    return { code: 0, lines };
  } finally {
    journal.close();
  }
}

/** The --project path: the deployed Pub/Sub's dead-letter topics. */
export async function runCloudDeadLetters(argv: string[], port?: DeadLetterPort): Promise<DeadLetterCliResult> {
  const { values: v, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      project: { type: 'string' },
      topic: { type: 'string' },
      subscription: { type: 'string' },
      max: { type: 'string', default: '100' },
      json: { type: 'boolean', default: false },
    },
  });
  const [command, ...rest] = positionals;
  if (command !== 'list' && command !== 'replay') fail(`expected the command list or replay (got '${command ?? ''}')`);
  if (rest.length > 0) fail(`unexpected argument '${rest[0]}'`);
  if (!v.topic) fail(`--project needs --topic (one of ${ALL_TOPICS.join(', ')})`);
  if (!ALL_TOPICS.includes(v.topic)) fail(`--topic must be one of ${ALL_TOPICS.join(', ')} (got '${v.topic}')`);
  const max = Number(v.max);
  if (!Number.isInteger(max) || max < 1 || max > 1000) fail(`--max takes a whole number from 1 to 1000 (got '${v.max}')`);
  const real = port ? undefined : await cloudDeadLetterPort(v.project!);
  const p = port ?? real!;
  const sel = { topic: v.topic, max, ...(v.subscription ? { subscription: v.subscription } : {}) };
  try {
    const lines: string[] = [];
    if (command === 'list') {
      const list = await listCloudDeadLetters(p, sel);
      if (v.json) for (const d of list) lines.push(JSON.stringify(d));
      else {
        lines.push(`${list.length} dead letter${list.length === 1 ? '' : 's'} on ${v.topic}-dlq (released again: nothing taken)`);
        for (const d of list) lines.push(`  ${d.messageId}  ${d.subscription}  attempts ${d.deliveryCount ?? '?'}  first published ${d.firstPublished ?? '?'}${d.orderingKey ? `  key ${d.orderingKey}` : ''}`);
      }
      return { code: 0, lines };
    }
    const outcomes = await replayCloudDeadLetters(p, sel);
    for (const o of outcomes) {
      if (v.json) lines.push(JSON.stringify(o));
      else if (o.error) lines.push(`dead letter ${o.messageId} (${o.subscription}): NOT replayed, left on the dead-letter topic: ${o.error}`);
      else lines.push(`dead letter ${o.messageId} (${o.subscription}): published again on ${v.topic} as ${o.replayedAs}${o.ackError ? ` (its dead letter could not be acknowledged and will be offered again: ${o.ackError})` : ''}`);
    }
    if (!v.json && CANDLE_TOPICS.has(v.topic) && outcomes.some((o) => !o.error)) {
      lines.push('note: the execution ignores a candle at or before its feed\'s watermark: a candle replayed after later ones were applied re-runs no fill or exit there');
    }
    const failed = outcomes.filter((o) => o.error).length;
    if (!v.json) lines.push(`${outcomes.length - failed} replayed, ${failed} failed`);
    return { code: failed > 0 ? 1 : 0, lines };
  } finally {
    await real?.close().catch(() => undefined);
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    const argv = process.argv.slice(2);
    const r = argv.some((a) => a === '--project' || a.startsWith('--project=')) && !argv.includes('--help') && !argv.includes('-h') ? await runCloudDeadLetters(argv) : runDeadLetters(argv);
    process.stdout.on('error', () => undefined);
    process.stdout.write(r.lines.join('\n') + '\n');
    process.exitCode = r.code;
  } catch (e) {
    const m = (e as Error).message;
    const hint = /default credentials/i.test(m) ? ' (on Google Cloud this needs credentials: gcloud auth application-default login)' : '';
    // exit now: a client library's background auth attempt would otherwise end the process with a second, raw stack
    process.stderr.write(`error: ${m}${hint}\n`, () => process.exit(1));
  }
}
