/**
 * `npm run config -- history | rollback ID` on the embedded store: a rollback writes the config in
 * force before a change back as its document, the config service applies it as a new change, and
 * what cannot be rolled back (a rejected edit, a first version, a change with later ones) is refused
 * with what to do.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRoot } from '../../infra/runtime/root.js';
import { createLogger } from '../../shared/log.js';
import { configPath } from '../../shared/state-paths.js';
import type { DocData } from '../../shared/ports/state.js';
import { DEFAULT_SYSTEM_CONFIG } from '../../shared/config/system.js';
import { run } from '../../scripts/config.js';

const silent = createLogger({}, { sink: () => {} });
let dir: string;
const cli = async (...args: string[]) => {
  let out = '';
  const code = await run([...args, '--data-dir', dir, '--json'], (s) => (out += s), {});
  return { code, out, lines: out.trim() ? out.trim().split('\n').map((l) => (l.startsWith('{') ? JSON.parse(l) : l)) : [] };
};

/** Edits config/system as the owner would in the console, then lets the config service check it. */
async function edit(doc: DocData): Promise<void> {
  const root = await buildRoot({ backend: 'embedded', dataDir: dir, log: silent, env: {} });
  try {
    await root.state.merge(configPath('system'), doc);
    await root.config.check(['system']);
  } finally {
    await root.close();
  }
}

async function inForce(): Promise<number> {
  const root = await buildRoot({ backend: 'embedded', dataDir: dir, log: silent, env: {} });
  try {
    return (await root.config.system()).kraken.minRequestIntervalMs;
  } finally {
    await root.close();
  }
}

describe('config history and rollback', () => {
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cst-config-'));
    const root = await buildRoot({ backend: 'embedded', dataDir: dir, log: silent, env: {} });
    await root.config.check(['system']); // the first version (defaults)
    await root.close();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('rolls back an applied edit; refuses a rejected one and a first version', async () => {
    const base = DEFAULT_SYSTEM_CONFIG.kraken.minRequestIntervalMs;
    await edit({ kraken: { minRequestIntervalMs: base * 2 } });
    await edit({ kraken: { minRequestIntervalMs: 'fast' } }); // rejected: the doubled value stays in force
    expect(await inForce()).toBe(base * 2);

    const history = (await cli('history', '--name', 'system')).lines as Array<{ id: string; outcome: string }>;
    expect(history.map((c) => c.outcome)).toEqual(['rejected', 'applied', 'initial']);
    const [rejected, applied, initial] = history as unknown as [{ id: string }, { id: string }, { id: string }];

    const r1 = await cli('rollback', rejected.id);
    expect(r1.code).toBe(1);
    expect(r1.out).toContain('was rejected: it never ran');
    const r2 = await cli('rollback', initial.id);
    expect(r2.code).toBe(1);
    expect(r2.out).toContain('nothing before it');
    const r3 = await cli('rollback', 'system-999999-nope');
    expect(r3.code).toBe(1);
    expect(r3.out).toContain('npm run config -- history');

    const ok = await cli('rollback', applied.id);
    expect(ok.code).toBe(0);
    expect(ok.lines[0]).toMatchObject({ rolledBack: applied.id, document: 'config/system', outcome: 'applied', undone: [] });
    expect(await inForce()).toBe(base);
    // the rollback is on the record as a change of its own
    const after = (await cli('history', '--name', 'system')).lines as Array<{ outcome: string }>;
    expect(after.map((c) => c.outcome)).toEqual(['applied', 'rejected', 'applied', 'initial']);
  });

  it('an older change with later ones needs --force, and then undoes them all', async () => {
    const base = DEFAULT_SYSTEM_CONFIG.kraken.minRequestIntervalMs;
    await edit({ kraken: { minRequestIntervalMs: base * 3 } });
    await edit({ kraken: { minRequestIntervalMs: base * 4 } });
    const [newest, older] = (await cli('history', '--name', 'system')).lines as Array<{ id: string }>;
    const refused = await cli('rollback', older!.id);
    expect(refused.code).toBe(1);
    expect(refused.out).toContain(`changed again after ${older!.id} (${newest!.id})`);
    expect(await inForce()).toBe(base * 4);
    const forced = await cli('rollback', older!.id, '--force');
    expect(forced.code).toBe(0);
    expect(forced.lines[0]).toMatchObject({ undone: [newest!.id] });
    expect(await inForce()).toBe(base);
  });

  it('never overwrites an edit the config service has not checked yet, unless --force', async () => {
    const base = DEFAULT_SYSTEM_CONFIG.kraken.minRequestIntervalMs;
    await edit({ kraken: { minRequestIntervalMs: base * 5 } });
    const [applied] = (await cli('history', '--name', 'system')).lines as Array<{ id: string }>;
    // the owner edits again in the console; config-check has not run yet
    const root = await buildRoot({ backend: 'embedded', dataDir: dir, log: silent, env: {} });
    await root.state.merge(configPath('system'), { kraken: { minRequestIntervalMs: base * 6 } });
    await root.close();
    const refused = await cli('rollback', applied!.id);
    expect(refused.code).toBe(1);
    expect(refused.out).toContain('holds an edit the config service has not checked yet');
    const raw = async () => {
      const r = await buildRoot({ backend: 'embedded', dataDir: dir, log: silent, env: {} });
      try {
        return ((await r.state.get<{ kraken?: { minRequestIntervalMs?: number } }>(configPath('system')))?.kraken?.minRequestIntervalMs);
      } finally {
        await r.close();
      }
    };
    expect(await raw()).toBe(base * 6); // untouched
    const forced = await cli('rollback', applied!.id, '--force');
    expect(forced.code).toBe(0);
    expect(await inForce()).toBe(base);
  });

  it('says what is wrong with the command line', async () => {
    expect((await cli('rollback')).out).toContain('rollback needs the change id');
    expect((await cli('history', '--name', 'nope')).out).toContain('--name must be one of');
    expect((await cli('undo')).code).toBe(2);
  });
});
