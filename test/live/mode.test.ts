/** The owner-only paper/live switch on the embedded StateStore. */
import { afterEach, describe, expect, it } from 'vitest';
import { getTradingMode, setTradingMode } from '../../shared/trading/live/mode.js';
import { modeChangePath, TRADING_MODE_CHANGES, TRADING_MODE_DOC } from '../../shared/state-paths.js';
import { memoryStore } from './helpers.js';
import { alertSchema } from '../../shared/messages.js';

const T = Date.UTC(2025, 5, 11, 12, 0);
const stores: Array<ReturnType<typeof memoryStore>> = [];
function store() {
  const s = memoryStore();
  stores.push(s);
  return s;
}
afterEach(async () => {
  for (const s of stores.splice(0)) await s.close();
});

describe('trading mode switch', () => {
  it('is paper when nothing is stored', async () => {
    const s = store();
    expect(await s.get(TRADING_MODE_DOC)).toBeUndefined();
    expect(await getTradingMode(s)).toBe('paper');
  });

  it('refuses a member and changes nothing', async () => {
    const s = store();
    const r = await setTradingMode(s, { actor: 'member', actorId: 'tg:222', mode: 'live' }, T);
    expect(r).toEqual({ ok: false, refused: 'not_owner', message: 'only the owner can switch between paper and live trading', mode: 'paper' });
    expect(await getTradingMode(s)).toBe('paper');
    expect(await s.query(TRADING_MODE_CHANGES)).toHaveLength(0);
  });

  it('accepts the owner, records before/after/time once, and alerts once', async () => {
    const s = store();
    const r = await setTradingMode(s, { actor: 'owner', actorId: 'tg:111', mode: 'live', reason: 'go live' }, T);
    expect(r.ok && r.changed).toBe(true);
    if (!(r.ok && r.changed)) return;
    expect(r.change).toEqual({ seq: 1, before: 'paper', after: 'live', at: T, actor: 'owner', actorId: 'tg:111', reason: 'go live', alertId: 'trading-mode:1' });
    expect(alertSchema.parse(r.alert)).toMatchObject({ alertId: 'trading-mode:1', kind: 'trading_mode_changed', severity: 'warning', subject: 'trading/mode', ts: T });
    expect(await getTradingMode(s)).toBe('live');
    expect(await s.get(modeChangePath(1))).toEqual(r.change);

    // the same command again (a redelivered Telegram update): no change, no record, no alert
    const again = await setTradingMode(s, { actor: 'owner', actorId: 'tg:111', mode: 'live' }, T + 1000);
    expect(again).toEqual({ ok: true, changed: false, mode: 'live' });
    expect(await s.query(TRADING_MODE_CHANGES)).toHaveLength(1);

    const back = await setTradingMode(s, { actor: 'owner', actorId: 'tg:111', mode: 'paper' }, T + 2000);
    expect(back.ok && back.changed && back.change).toMatchObject({ seq: 2, before: 'live', after: 'paper', at: T + 2000 });
    expect(back.ok && back.changed && back.alert.severity).toBe('info');
    const changes = await s.query<{ seq: number; before: string; after: string }>(TRADING_MODE_CHANGES, { orderBy: { field: 'seq' } });
    expect(changes.map((c) => [c.data.before, c.data.after])).toEqual([
      ['paper', 'live'],
      ['live', 'paper'],
    ]);
  });

  it('concurrent owner commands record exactly one change', async () => {
    const s = store();
    const rs = await Promise.all([0, 1, 2, 3].map((i) => setTradingMode(s, { actor: 'owner', actorId: `tg:${i}`, mode: 'live' }, T + i)));
    expect(rs.filter((r) => r.ok && r.changed)).toHaveLength(1);
    expect(await s.query(TRADING_MODE_CHANGES)).toHaveLength(1);
  });

  it('rejects a malformed request at the edge', async () => {
    const s = store();
    await expect(setTradingMode(s, { actor: 'owner', mode: 'margin' as 'live' }, T)).rejects.toThrow();
  });
});
