/**
 * Which owner commands the chat confirms with an `owner_command` alert (ownerCommandAlert): a suggestion
 * approved from the dashboard and recorded is confirmed by its own adjustment alert only (no second
 * message); a rejection, or an approval refused by the daily limit, is confirmed here.
 */
import { describe, expect, it } from 'vitest';
import { ownerCommandAlert, type CommandOutcome } from '../../shared/pipeline/execution/owner-commands.js';
import type { TradeCommand } from '../../shared/messages.js';

const cmd = (approved: boolean): TradeCommand => ({ type: 'suggestion_decided', commandId: 'dash:s1', actorId: '42', ts: 1, origin: 'dashboard', suggestionId: 'sg1', approved });
const out = (outcome: 'recorded' | 'limit_reached', status: 'approved' | 'rejected' | null): CommandOutcome => ({ type: 'suggestion_decided', outcome, status, changes: [] });

describe('owner_command confirmations of suggestion decisions', () => {
  it('an approval recorded from the dashboard is left to its adjustment alert', () => {
    expect(ownerCommandAlert(cmd(true), out('recorded', 'approved'), 10)).toBeNull();
  });
  it('a rejection from the dashboard is confirmed once, by command id', () => {
    const a = ownerCommandAlert(cmd(false), out('recorded', 'rejected'), 10);
    expect(a).toMatchObject({ kind: 'owner_command', alertId: 'owner_command:dash:s1', severity: 'info' });
    expect(a!.message).toContain('rejected');
  });
  it('an approval refused by the daily limit is confirmed as refused', () => {
    const a = ownerCommandAlert(cmd(true), out('limit_reached', null), 10);
    expect(a).toMatchObject({ kind: 'owner_command', severity: 'warning' });
    expect(a!.message).toContain('refused (limit_reached)');
  });
  it('Telegram suggestion decisions get no owner_command (the bot and the adjustment alerts answer)', () => {
    expect(ownerCommandAlert({ ...cmd(false), origin: 'telegram' }, out('recorded', 'rejected'), 10)).toBeNull();
  });
});
