/**
 * The config documents' history and rollback (shared/config/rollback.ts), on the embedded store, the
 * emulators or Google Cloud:
 *
 *   npm run config -- history [--name strategies]                      # newest first
 *   npm run config -- rollback strategies_000004_1a2b3c4d5e6f7a8b              # back to before that change
 *   npm run config -- rollback ID --backend gcp --project P           # on the deployed Firestore
 */
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { BACKENDS, DEFAULT_DATA_DIR, buildRoot, type Backend } from '../infra/runtime/root.js';
import { createLogger } from '../shared/log.js';
import { configHistory, rollbackConfig } from '../shared/config/rollback.js';
import { CONFIG_DOC_NAMES, isConfigDocName } from '../shared/config/documents.js';

export const HELP = `Usage: npm run config -- <history|rollback ID> [options]

  history              the config changes (applied, rejected, first versions), newest first: id,
                       time, outcome, message
  rollback ID          write the config in force BEFORE change ID back as its document, then check it
                       at once: it is validated like any edit, recorded as a new change (so it can be
                       rolled back too) and announced with one config_applied alert. Refuses a rejected
                       change, a first version, and a change with later applied changes (unless --force)

Options:
  --name N             history of one document (${CONFIG_DOC_NAMES.join(', ')})
  --limit N            history: at most N changes (default 20)
  --force              rollback: also undo the later changes of the same document
  --backend B          ${BACKENDS.join(' | ')} (default embedded)
  --project P          Google Cloud project (gcp backend; default GOOGLE_CLOUD_PROJECT)
  --data-dir DIR       the embedded runtime's data folder (default ${DEFAULT_DATA_DIR})
  --json               machine-readable output
  -h, --help           this help
`;

export async function run(argv: string[], out: (s: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        name: { type: 'string' },
        limit: { type: 'string', default: '20' },
        force: { type: 'boolean', default: false },
        backend: { type: 'string', default: 'embedded' },
        project: { type: 'string' },
        'data-dir': { type: 'string', default: DEFAULT_DATA_DIR },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    });
  } catch (e) {
    out(`error: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values: v, positionals } = parsed;
  if (v.help) {
    out(HELP);
    return 0;
  }
  const [cmd, id, ...extra] = positionals;
  const usage = (m: string) => (out(`error: ${m}\n\n${HELP}`), 2);
  if (cmd !== 'history' && cmd !== 'rollback') return usage(cmd ? `unknown command "${cmd}"` : 'a command is needed: history or rollback ID');
  if (cmd === 'rollback' && !id) return usage('rollback needs the change id (see: npm run config -- history)');
  if (extra.length > 0 || (cmd === 'history' && id)) return usage(`unexpected argument "${extra[0] ?? id}"`);
  if (v.name !== undefined && !isConfigDocName(v.name)) return usage(`--name must be one of ${CONFIG_DOC_NAMES.join(', ')} (got "${v.name}")`);
  const limit = Number(v.limit);
  if (!Number.isInteger(limit) || limit < 1) return usage(`--limit takes a whole number >= 1 (got "${v.limit}")`);
  if (!(BACKENDS as readonly string[]).includes(v.backend)) return usage(`--backend must be one of ${BACKENDS.join(', ')} (got "${v.backend}")`);

  const log = createLogger({ component: 'config-cli' }, { minSeverity: 'WARNING' });
  const root = await buildRoot({ backend: v.backend as Backend, dataDir: v['data-dir'], log, env: { ...env, ...(v.project ? { GOOGLE_CLOUD_PROJECT: v.project } : {}) } });
  try {
    if (cmd === 'history') {
      const changes = await configHistory(root.state, { ...(v.name ? { name: v.name } : {}), limit });
      if (v.json) for (const c of changes) out(`${JSON.stringify({ id: c.id, name: c.name, outcome: c.outcome, ts: c.ts, message: c.message })}\n`);
      else if (changes.length === 0) out('no config changes recorded yet\n');
      else for (const c of changes) out(`${c.id}  ${new Date(c.ts).toISOString()}  ${c.outcome.padEnd(8)}  ${c.message}\n`);
      return 0;
    }
    const r = await rollbackConfig(root.state, id!, { force: v.force });
    if (!r.ok) {
      out(`error: ${r.reason}\n`);
      return 1;
    }
    const [checked] = await root.config.check([r.change.name]);
    const summary = {
      rolledBack: r.change.id,
      document: r.path,
      undone: r.undone.map((c) => c.id),
      outcome: checked?.outcome,
      ...(checked?.errors ? { errors: checked.errors } : {}),
    };
    if (v.json) out(`${JSON.stringify(summary)}\n`);
    else {
      out(`${r.path}: back to the config in force before ${r.change.id}${r.undone.length ? ` (also undoing ${r.undone.map((c) => c.id).join(', ')})` : ''}\n`);
      out(`config check: ${checked?.outcome ?? 'not run'}${checked?.errors ? ` (${checked.errors.join('; ')})` : ''}\n`);
    }
    return checked?.outcome === 'rejected' ? 1 : 0;
  } finally {
    await root.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run(process.argv.slice(2), (s) => process.stdout.write(s)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
