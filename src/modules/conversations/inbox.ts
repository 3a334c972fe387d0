/**
 * The viewer's inbox, live: conversations added and removed, and unread counts as they change.
 *
 * A message to a conversation of N members is still ONE event (on `conversation:<id>`): the inbox
 * follows the channels of the viewer's conversations and computes unread counts from seq in
 * memory (unread = lastSeq - lastReadSeq), with no database query per message. `inbox:<userId>`
 * carries only membership changes (added, removed) and the viewer's own reads; staff also follow
 * `workspaceConversations:<workspaceId>` for conversations customers open. Counts only move
 * forward (max of what was seen), so the same change arriving on two channels is told once.
 *
 * Each conversation is counted in the viewer's numbering for it (visibility.ts): staff of its
 * workspace count every message, customers only public ones (notes never reach them, and never
 * count as unread).
 */
import type { Context } from '../../graphql/context.js';
import { ChannelSet } from '../../pubsub/channel-set.js';
import { returnsPromptly } from '../../pubsub/pubsub.js';
import { endsStaffStanding } from '../workspaces/permissions.js';
import type { ConversationEvent, InboxEvent } from './topics.js';
import { isWorkspaceEvent, type WorkspaceEvent } from '../workspaces/topics.js';
import { forCustomer, seesNotes } from './visibility.js';
import { isStaff, requirePerson } from '../../graphql/permissions.js';

/**
 * Conversations an inbox follows live at most (the most recently active first). Past it, the
 * viewer still gets additions and removals, and counts again on the next read.
 */
export const INBOX_FOLLOW_LIMIT = 500;

type Followed = 'inbox' | 'conversation' | 'workspaceConversations' | 'workspace';
type AnyEvent = ConversationEvent | InboxEvent | WorkspaceEvent;

const conversationTypes = new Set<string>([
  'MESSAGE_ADDED',
  'MESSAGE_EDITED',
  'MESSAGE_DELETED',
  'REACTION_ADDED',
  'REACTION_REMOVED',
  'MESSAGE_PINNED',
  'MESSAGE_UNPINNED',
  'READ',
  'TYPING',
  'MEMBER_JOINED',
  'MEMBER_LEFT',
  'CONVERSATION_DELETED',
] satisfies ConversationEvent['type'][]);

interface Counts {
  lastSeq: number;
  lastReadSeq: number;
  /** Counted in the customer numbering (publicSeq), notes left out. */
  customer: boolean;
}

export function inboxStream(ctx: Context): AsyncIterableIterator<InboxEvent> {
  const staffOf = ctx.viewer.kind === 'user' ? [...ctx.viewer.roles.keys()].filter((w) => isStaff(ctx.viewer, w)) : [];
  const set = new ChannelSet<Followed>(ctx.pubsub, {
    queueLimit: ctx.config.SUBSCRIPTION_QUEUE_LIMIT,
    // Staff follow two channels per workspace they serve besides their conversations.
    maxChannels: INBOX_FOLLOW_LIMIT + 1 + 2 * staffOf.length,
  });
  return returnsPromptly(inboxEvents(ctx, set, staffOf), () => set.return());
}

async function* inboxEvents(ctx: Context, set: ChannelSet<Followed>, staffOf: string[]): AsyncGenerator<InboxEvent> {
  const me = requirePerson(ctx.viewer);
  const counts = new Map<string, Counts>();
  const now = () => new Date().toISOString();
  const unread = (c: Counts) => Math.max(0, c.lastSeq - c.lastReadSeq);
  const changed = (conversationId: string, c: Counts, message?: InboxEvent['message']): InboxEvent => ({
    type: 'UNREAD_CHANGED',
    conversationId,
    lastSeq: c.lastSeq,
    unreadCount: unread(c),
    ...(message ? { message: c.customer ? forCustomer(message) : message } : {}),
    at: now(),
  });
  const forget = (conversationId: string) => {
    counts.delete(conversationId);
    set.remove('conversation', conversationId);
  };

  try {
    // Subscribe before reading, so that whatever happens after the read is heard.
    await Promise.all([
      set.add('inbox', me),
      ...staffOf.flatMap((w) => [set.add('workspaceConversations', w), set.add('workspace', w)]),
    ]);
    const rows = await ctx.db.conversationMember.findMany({
      where: { userId: me },
      select: {
        lastReadSeq: true,
        lastReadPublicSeq: true,
        conversation: { select: { id: true, workspaceId: true, lastSeq: true, lastPublicSeq: true } },
      },
      orderBy: [{ conversation: { lastMessageAt: { sort: 'desc', nulls: 'last' } } }, { joinedAt: 'desc' }],
      take: INBOX_FOLLOW_LIMIT,
    });
    for (const r of rows) {
      const customer = !seesNotes(ctx.viewer, r.conversation.workspaceId);
      counts.set(
        r.conversation.id,
        customer
          ? { lastSeq: r.conversation.lastPublicSeq, lastReadSeq: r.lastReadPublicSeq, customer }
          : { lastSeq: r.conversation.lastSeq, lastReadSeq: r.lastReadSeq, customer },
      );
    }
    await Promise.all(rows.map((r) => set.add('conversation', r.conversation.id)));
    let total = 0;
    for (const c of counts.values()) total += unread(c);
    yield { type: 'INBOX_READY', conversationId: null, lastSeq: 0, unreadCount: total, at: now() };

    for await (const raw of set as AsyncIterable<AnyEvent>) {
      if (isWorkspaceEvent(raw)) {
        const e = raw;
        // Staff who leave a workspace (or are made clients) stop hearing of its new conversations.
        if (endsStaffStanding(ctx.viewer, e)) {
          set.remove('workspaceConversations', e.workspaceId);
          set.remove('workspace', e.workspaceId);
        }
        continue;
      }
      if (conversationTypes.has(raw.type)) {
        const e = raw as ConversationEvent;
        const c = counts.get(e.conversationId);
        if (!c) continue;
        if (e.type === 'MESSAGE_ADDED') {
          if (c.customer && e.message?.visibility === 'INTERNAL') continue;
          const seq = c.customer ? (e.message?.publicSeq ?? e.seq) : e.seq;
          if (seq <= c.lastSeq) continue;
          c.lastSeq = seq;
          // The author has read what they wrote.
          if (e.message?.authorId === me) c.lastReadSeq = Math.max(c.lastReadSeq, seq);
          yield changed(e.conversationId, c, e.message);
        } else if (e.type === 'READ' && e.userId === me) {
          const seq = c.customer ? e.publicSeq : e.seq;
          if (seq === undefined || seq <= c.lastReadSeq) continue;
          c.lastReadSeq = seq;
          yield changed(e.conversationId, c);
        } else if ((e.type === 'MEMBER_LEFT' && e.userId === me) || e.type === 'CONVERSATION_DELETED') {
          forget(e.conversationId);
          yield { type: 'CONVERSATION_REMOVED', conversationId: e.conversationId, lastSeq: c.lastSeq, unreadCount: 0, at: e.at };
        }
        continue;
      }
      const e = raw as InboxEvent;
      const id = e.conversationId;
      if (e.type === 'CONVERSATION_OPENED') {
        yield e;
      } else if (id && e.type === 'CONVERSATION_ADDED') {
        if (counts.has(id)) continue;
        await set.add('conversation', id);
        // Messages written between the announcement and now went to a channel not yet followed:
        // read where the conversation stands now that it is (the database is the truth).
        const row = await ctx.db.conversationMember.findUnique({
          where: { conversationId_userId: { conversationId: id, userId: me } },
          select: { lastReadSeq: true, lastReadPublicSeq: true, conversation: { select: { lastSeq: true, lastPublicSeq: true, workspaceId: true } } },
        });
        if (!row) {
          // Taken out again meanwhile: its removal follows on the inbox channel.
          set.remove('conversation', id);
          continue;
        }
        const customer = !seesNotes(ctx.viewer, row.conversation.workspaceId);
        // The announcement is in the staff numbering: a customer's counts come from the database alone.
        const c: Counts = customer
          ? { lastSeq: row.conversation.lastPublicSeq, lastReadSeq: row.lastReadPublicSeq, customer }
          : {
              lastSeq: Math.max(e.lastSeq, row.conversation.lastSeq),
              lastReadSeq: Math.max(row.lastReadSeq, e.lastSeq - (e.unreadCount ?? 0)),
              customer,
            };
        counts.set(id, c);
        yield { ...e, lastSeq: c.lastSeq, unreadCount: unread(c) };
      } else if (id && e.type === 'CONVERSATION_REMOVED') {
        const c = counts.get(id);
        if (!c) continue;
        forget(id);
        yield c.customer ? { ...e, lastSeq: c.lastSeq } : e;
      } else if (id && e.type === 'UNREAD_CHANGED') {
        const c = counts.get(id);
        if (!c) continue;
        const told = c.customer ? e.public : { lastSeq: e.lastSeq, unreadCount: e.unreadCount };
        if (!told) continue;
        const lastSeq = Math.max(c.lastSeq, told.lastSeq);
        const lastReadSeq = Math.max(c.lastReadSeq, told.lastSeq - (told.unreadCount ?? 0));
        if (lastSeq === c.lastSeq && lastReadSeq === c.lastReadSeq) continue;
        c.lastSeq = lastSeq;
        c.lastReadSeq = lastReadSeq;
        yield changed(id, c);
      }
    }
  } finally {
    await set.return();
  }
}
