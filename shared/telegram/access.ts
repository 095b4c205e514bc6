/**
 * Access control (SPEC 9): an allow-list in state, the owner from config/env, single-use invite codes.
 *
 *   tg_users/{userId}     allowed members (the owner is implicit and never stored)
 *   tg_groups/{chatId}    allowed groups (`/allowgroup`), with `isForum`
 *   tg_invites/{code}     { createdBy, createdAt, expiresAt, usedBy, usedAt }: single use, expiring
 *   tg_verify/{userId}    wrong-code counter and lock-out per user (brute-force limit)
 *
 * Every change is one transaction: a code can be consumed once even by concurrent /verify calls, and
 * a wrong attempt is counted atomically with the check.
 */
import { randomInt } from 'node:crypto';
import type { DocData, StateStore } from '../ports/state.js';
import type { TelegramConfig } from '../config/telegram.js';
import { groupPath, invitePath, TG_GROUPS_COLLECTION, TG_USERS_COLLECTION, userPath, verifyPath } from '../state-paths.js';

export const CODE_DIGITS = 6;
const CODE_SPACE = 10 ** CODE_DIGITS;
/** Attempts to draw a code not already in the invite collection. */
const CODE_DRAWS = 8;

export type Role = 'owner' | 'member' | 'none';

interface MemberDoc {
  userId: number;
  name: string;
  role: 'member';
  addedAt: number;
  invitedBy: number;
  /** Receives alerts in the private chat. */
  alerts: boolean;
}

interface GroupDoc {
  chatId: number;
  title: string;
  isForum: boolean;
  addedAt: number;
  addedBy: number;
}

interface InviteDoc {
  code: string;
  createdBy: number;
  createdAt: number;
  expiresAt: number;
  usedBy: number | null;
  usedAt: number | null;
}

interface VerifyDoc {
  userId: number;
  failures: number;
  lockedUntil: number | null;
  lastAttemptAt: number;
}

const doc = (x: unknown) => x as DocData;

type VerifyResult =
  | { ok: true; member: MemberDoc }
  | { ok: false; reason: 'already_allowed' }
  | { ok: false; reason: 'locked'; lockedUntil: number }
  | { ok: false; reason: 'invalid' | 'used' | 'expired'; attemptsLeft: number; lockedUntil: number | null };

export class AccessControl {
  constructor(
    private readonly state: StateStore,
    private readonly cfg: TelegramConfig,
    private readonly ownerId: number | undefined,
    private readonly random: (maxExclusive: number) => number = (max) => randomInt(0, max),
  ) {}

  isOwner(userId: number | undefined): boolean {
    return userId !== undefined && this.ownerId !== undefined && userId === this.ownerId;
  }

  get owner(): number | undefined {
    return this.ownerId;
  }

  private localChat: number | undefined;

  /**
   * With no owner configured and no bot (the embedded default), messages meant for the owner and every
   * broadcast still go to this local chat (the console): it receives, it never acts (no role).
   */
  useLocalChat(chatId: number): void {
    this.localChat = chatId;
  }

  /** Where the owner's messages go: the owner, else the local chat, else nowhere. */
  get ownerChat(): number | undefined {
    return this.ownerId ?? this.localChat;
  }

  async member(userId: number): Promise<MemberDoc | undefined> {
    return this.state.get<MemberDoc>(userPath(userId));
  }

  async group(chatId: number): Promise<GroupDoc | undefined> {
    return this.state.get<GroupDoc>(groupPath(chatId));
  }

  /**
   * Who is acting: the owner anywhere; a member in a private chat; anyone in an allowed group acts as a
   * member (a group is allowed as a whole). Everyone else is `none`.
   */
  async roleOf(userId: number, chat: { id: number; type: string }): Promise<Role> {
    if (this.isOwner(userId)) return 'owner';
    if (chat.type === 'private') return (await this.member(userId)) ? 'member' : 'none';
    if (await this.group(chat.id)) return 'member';
    return (await this.member(userId)) ? 'member' : 'none';
  }

  /** A new single-use code (owner only: the caller checks). */
  async createInvite(createdBy: number, now: number): Promise<InviteDoc> {
    for (let i = 0; i < CODE_DRAWS; i++) {
      const code = String(this.random(CODE_SPACE)).padStart(CODE_DIGITS, '0');
      const invite: InviteDoc = { code, createdBy, createdAt: now, expiresAt: now + this.cfg.access.inviteTtlMs, usedBy: null, usedAt: null };
      if (await this.state.create(invitePath(code), doc(invite))) return invite;
      // The code exists: reuse its slot only when it is spent or expired.
      const replaced = await this.state.runTransaction(async (tx) => {
        const old = await tx.get<InviteDoc>(invitePath(code));
        if (old && old.usedBy === null && now < old.expiresAt) return false;
        tx.set(invitePath(code), doc(invite));
        return true;
      });
      if (replaced) return invite;
    }
    throw new Error('could not draw an unused invite code');
  }

  /** `/verify CODE`: consumes a valid code once, counts wrong attempts, locks out brute force. */
  async verify(userId: number, name: string, code: string, now: number): Promise<VerifyResult> {
    if (this.isOwner(userId)) return { ok: false, reason: 'already_allowed' };
    const max = this.cfg.access.maxVerifyAttempts;
    return this.state.runTransaction(async (tx): Promise<VerifyResult> => {
      const existing = await tx.get<MemberDoc>(userPath(userId));
      const att = await tx.get<VerifyDoc>(verifyPath(userId));
      const invite = /^\d+$/.test(code) ? await tx.get<InviteDoc>(invitePath(code)) : undefined;
      if (existing) return { ok: false, reason: 'already_allowed' };
      if (att?.lockedUntil != null && now < att.lockedUntil) return { ok: false, reason: 'locked', lockedUntil: att.lockedUntil };
      const reason = !invite ? 'invalid' : invite.usedBy !== null ? 'used' : now >= invite.expiresAt ? 'expired' : null;
      if (reason) {
        // A lock-out that has run out starts a fresh count.
        const prior = att?.lockedUntil != null ? 0 : (att?.failures ?? 0);
        const failures = prior + 1;
        const lockedUntil = failures >= max ? now + this.cfg.access.lockoutMs : null;
        tx.set(verifyPath(userId), doc({ userId, failures: lockedUntil ? 0 : failures, lockedUntil, lastAttemptAt: now } satisfies VerifyDoc));
        return { ok: false, reason, attemptsLeft: lockedUntil ? 0 : max - failures, lockedUntil };
      }
      const member: MemberDoc = { userId, name, role: 'member', addedAt: now, invitedBy: (invite as InviteDoc).createdBy, alerts: true };
      tx.set(invitePath(code), doc({ ...(invite as InviteDoc), usedBy: userId, usedAt: now }));
      tx.set(userPath(userId), doc(member));
      if (att) tx.delete(verifyPath(userId));
      return { ok: true, member };
    });
  }

  /** `/allowgroup` (owner): idempotent. Returns false when the group was already allowed. */
  async allowGroup(chat: { id: number; title?: string; isForum?: boolean }, by: number, now: number): Promise<boolean> {
    const g: GroupDoc = { chatId: chat.id, title: chat.title ?? String(chat.id), isForum: chat.isForum ?? false, addedAt: now, addedBy: by };
    return this.state.create(groupPath(chat.id), doc(g));
  }

  async members(): Promise<MemberDoc[]> {
    return (await this.state.query<MemberDoc>(TG_USERS_COLLECTION)).map((d) => d.data);
  }

  async groups(): Promise<GroupDoc[]> {
    return (await this.state.query<GroupDoc>(TG_GROUPS_COLLECTION)).map((d) => d.data);
  }

  /** Chats that receive broadcast messages: the owner, members with alerts on, allowed groups. */
  async broadcastChats(): Promise<Array<{ chatId: number; isForum: boolean }>> {
    const out = new Map<number, { chatId: number; isForum: boolean }>();
    const owner = this.ownerChat;
    if (owner !== undefined) out.set(owner, { chatId: owner, isForum: false });
    for (const m of await this.members()) if (m.alerts) out.set(m.userId, { chatId: m.userId, isForum: false });
    for (const g of await this.groups()) out.set(g.chatId, { chatId: g.chatId, isForum: g.isForum });
    return [...out.values()];
  }
}
