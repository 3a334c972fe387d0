/**
 * Conversations in GraphQL: one `Conversation` interface over the one Conversation model, with
 * `Room` and `Thread` (and `Ticket`, in the support module) as its types, so clients see the
 * domain's words and the server keeps one pipeline.
 */
import { resolveCursorConnection, type DefaultConnectionArguments } from '@pothos/plugin-relay';
import { builder } from '../../graphql/builder.js';
import { actingUserId } from '../../auth/viewer.js';
import { NotFoundError } from '../../graphql/errors.js';
import { UserKindEnum, UserRef } from '../users/types.js';
import { FIRST_REACTORS, messageSelect, toMessageRecord, type MentionRecord, type MessageRecord, type ReactionSummaryRecord } from './records.js';
import { MAX_REACTORS_PAGE, reactedBy, reactorPage, ReactorPageRef } from './reactions.js';
import type { ConversationEvent, InboxEvent } from './topics.js';
import { forCustomer, PUBLIC_ONLY, seesNotes } from './visibility.js';

/** History pages hold at most this many messages; larger requests are capped. */
export const MAX_PAGE_SIZE = 100;

/** Pinned messages listed at most. */
export const MAX_PINNED = 50;

export const ConversationKindEnum = builder.enumType('ConversationKind', {
  description: 'What kind of conversation.',
  values: {
    ROOM: { description: 'A room: support, sales-agent, group or chatbot.' },
    THREAD: { description: 'A thread: one-to-one, or an agent/client thread of a type.' },
    TICKET: { description: 'A support ticket.' },
  } as const,
});

export const RoomTypeEnum = builder.enumType('RoomType', {
  description: 'The purpose of a room.',
  values: {
    SUPPORT: { description: 'A customer-support room for a product and organization (legacy 000).' },
    SALES_AGENT: { description: 'A sales-agent room opened for a visitor with a welcome message (legacy 000).' },
    GROUP: { description: 'A group room people join and leave (legacy 002).' },
    CHATBOT: { description: 'A website chatbot room between one admin and one visitor (legacy 003).' },
  } as const,
});

export const MessageKindEnum = builder.enumType('MessageKind', {
  description: 'What a message carries.',
  values: {
    TEXT: { description: 'Text.' },
    IMAGE: { description: 'An image.' },
    FILE: { description: 'A file.' },
    SYSTEM: { description: 'A notice written by the system, e.g. "Missed audio call".' },
  } as const,
});

export const MessageVisibilityEnum = builder.enumType('MessageVisibility', {
  description: 'Who may see a message.',
  values: {
    PUBLIC: { description: 'Everyone who may read the conversation.' },
    INTERNAL: {
      description:
        'An internal note: staff of the workspace only. Customers, guests, API keys reading as a customer and every legacy call never ' +
        'see it, in history, events, search, unread counts or inbox; their seq numbering skips it without a hole.',
    },
  } as const,
});

export const MessageSideEnum = builder.enumType('MessageSide', {
  description: 'Which side of the chat a message is shown on (legacy left/right).',
  values: {
    LEFT: { description: 'The customer’s side.' },
    RIGHT: { description: 'The staff’s side.' },
  } as const,
});

export const MemberRoleEnum = builder.enumType('MemberRole', {
  description: 'A member’s place in a conversation.',
  values: {
    OWNER: { description: 'Opened or owns the conversation.' },
    MEMBER: { description: 'Takes part.' },
  } as const,
});

const MessageAuthorRef = builder.objectRef<NonNullable<MessageRecord['author']>>('MessageAuthor').implement({
  description: 'Who wrote a message, as carried with it (no further lookup needed).',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The author’s user id.' }),
    displayName: t.exposeString('displayName', { description: 'Their display name when read.' }),
    kind: t.field({ type: UserKindEnum, description: 'Registered or guest.', resolve: (a) => a.kind }),
  }),
});

const ReplyRef = builder.objectRef<NonNullable<MessageRecord['replyTo']>>('MessageReplyTarget').implement({
  description: 'The message a reply answers, in brief.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Its id.' }),
    seq: t.exposeInt('seq', { description: 'Its seq.' }),
    authorId: t.exposeID('authorId', { nullable: true, description: 'Its author’s id.' }),
    excerpt: t.exposeString('excerpt', { description: 'Its first 140 characters (empty when deleted).' }),
  }),
});

const MentionRef = builder.objectRef<MentionRecord>('Mention').implement({
  description: 'One @mention in a message’s body.',
  fields: (t) => ({
    start: t.exposeInt('start', { description: 'Offset of the "@" in the body, in UTF-16 code units (JavaScript string indices).' }),
    length: t.exposeInt('length', { description: 'Its length, "@" included.' }),
    userId: t.exposeID('userId', { nullable: true, description: 'The person mentioned; null for @here.' }),
    username: t.exposeString('username', { nullable: true, description: 'Their username when the message was written or last edited.' }),
    here: t.exposeBoolean('here', { description: '@here: staff calling on everyone in a support room or ticket.' }),
  }),
});

const ReactionSummaryRef = builder.objectRef<ReactionSummaryRecord & { messageId: string }>('ReactionSummary').implement({
  description: 'One emoji’s reactions to a message.',
  fields: (t) => ({
    emoji: t.exposeString('emoji', { description: 'A Unicode emoji, or a :shortcode:.' }),
    count: t.exposeInt('count', { description: 'How many people reacted with it.' }),
    firstReactorIds: t.exposeIDList('userIds', { description: `The first ${FIRST_REACTORS} who reacted, earliest first; Message.reactors pages through all.` }),
    reactedByMe: t.boolean({
      description: 'Whether the viewer reacted with it.',
      resolve: (r, _args, ctx) => reactedBy(ctx, r, actingUserId(ctx.viewer)),
    }),
  }),
});

export const MessageRef = builder.objectRef<MessageRecord>('Message').implement({
  description:
    'One message. `seq` numbers the messages the viewer may see 1, 2, 3 … with no holes: staff count internal notes, customers ' +
    '(and anyone reading as one) do not.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The message’s id.' }),
    conversationId: t.exposeID('conversationId', { description: 'The conversation it belongs to.' }),
    seq: t.exposeInt('seq', {
      description:
        'Its place in the conversation in the viewer’s numbering (staff: every message; customers: public messages only); resume ' +
        'subscriptions after the last one seen.',
    }),
    visibility: t.field({
      type: MessageVisibilityEnum,
      description: 'PUBLIC, or INTERNAL for a staff note (only staff ever see one).',
      resolve: (m) => m.visibility,
    }),
    kind: t.field({ type: MessageKindEnum, description: 'What it carries.', resolve: (m) => m.kind }),
    side: t.field({ type: MessageSideEnum, nullable: true, description: 'Which side it is shown on.', resolve: (m) => m.side }),
    body: t.exposeString('body', { description: 'The text; empty once deleted.' }),
    author: t.field({ type: MessageAuthorRef, nullable: true, description: 'Who wrote it; null for system messages.', resolve: (m) => m.author }),
    replyTo: t.field({ type: ReplyRef, nullable: true, description: 'The message it answers.', resolve: (m) => m.replyTo }),
    clientMessageId: t.exposeString('clientMessageId', { nullable: true, description: 'The sender’s idempotency key, if given.' }),
    createdAt: t.field({ type: 'DateTime', description: 'When it was sent.', resolve: (m) => m.createdAt }),
    editedAt: t.field({ type: 'DateTime', nullable: true, description: 'When it was last edited.', resolve: (m) => m.editedAt }),
    deleted: t.boolean({ description: 'Whether it was deleted (its body is then withheld).', resolve: (m) => m.deletedAt !== null }),
    deletedAt: t.field({ type: 'DateTime', nullable: true, description: 'When it was deleted.', resolve: (m) => m.deletedAt }),
    position: t.exposeInt('position', {
      description:
        'Its place in the conversation’s stream of messages and changes (see conversationEvents), in the viewer’s numbering (staff: every ' +
        'entry, notes and changes to notes included; customers: only what they can see, with no holes).',
    }),
    mentions: t.field({
      type: [MentionRef],
      description: 'The @mentions in its body, with offsets, of people who can read the conversation (and @here); empty once deleted.',
      resolve: (m) => m.mentions,
    }),
    reactions: t.field({
      type: [ReactionSummaryRef],
      description: 'Its reactions, one entry per emoji, in the order the emojis were first used.',
      resolve: (m) => m.reactions.map((r) => ({ ...r, messageId: m.id })),
    }),
    reactors: t.field({
      type: ReactorPageRef,
      description: `Who reacted with an emoji, earliest first, a page at a time (at most ${MAX_REACTORS_PAGE}); the summary lists the first ${FIRST_REACTORS}.`,
      args: {
        emoji: t.arg.string({ description: 'The emoji.' }),
        first: t.arg.int({ required: false, description: `How many (default and most ${MAX_REACTORS_PAGE}).` }),
        after: t.arg.string({ required: false, description: 'The endCursor of the previous page.' }),
      },
      resolve: (m, args, ctx) => reactorPage(ctx, m.id, args.emoji, args.first ?? MAX_REACTORS_PAGE, args.after ?? null),
    }),
    pinned: t.boolean({ description: 'Whether it is pinned in its conversation.', resolve: (m) => m.pinnedAt !== null }),
    pinnedAt: t.field({ type: 'DateTime', nullable: true, description: 'When it was pinned.', resolve: (m) => m.pinnedAt }),
    pinnedById: t.exposeID('pinnedById', { nullable: true, description: 'Who pinned it.' }),
  }),
});

export const ConversationMemberRef = builder.prismaObject('ConversationMember', {
  description: 'A member of a conversation and how far they have read (read receipts).',
  fields: (t) => ({
    user: t.relation('user', { description: 'The member.' }),
    role: t.expose('role', { type: MemberRoleEnum, description: 'Their place in it.' }),
    lastReadSeq: t.int({
      description: 'The highest seq they have read, in the viewer’s numbering.',
      select: { lastReadSeq: true, lastReadPublicSeq: true, conversation: { select: { workspaceId: true } } },
      resolve: (m, _args, ctx) => (seesNotes(ctx.viewer, m.conversation.workspaceId) ? m.lastReadSeq : m.lastReadPublicSeq),
    }),
    lastReadAt: t.expose('lastReadAt', { type: 'DateTime', nullable: true, description: 'When they last marked messages read.' }),
    joinedAt: t.expose('joinedAt', { type: 'DateTime', description: 'When they joined.' }),
  }),
});

export const ConversationRef = builder.prismaInterface('Conversation', {
  name: 'Conversation',
  description: 'Anything people chat in: a Room, a Thread or a Ticket. Members and an ordered stream of messages.',
  select: { kind: true, workspaceId: true },
  // The tenant boundary, checked on every Room, Thread and Ticket however it was reached (a
  // future relation included), from the row itself: no SQL. Who in the workspace may read it is
  // the conversationReader scope's, on the fields that take its id.
  authScopes: (c) => ({ workspace: { workspaceId: c.workspaceId, guests: true } }),
  resolveType: (c) => (c.kind === 'ROOM' ? 'Room' : c.kind === 'THREAD' ? 'Thread' : 'Ticket'),
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The conversation’s id.' }),
    kind: t.expose('kind', { type: ConversationKindEnum, description: 'Room, thread or ticket.' }),
    workspaceId: t.exposeID('workspaceId', { description: 'The workspace it belongs to.' }),
    lastSeq: t.int({
      description: 'The seq of its last message the viewer may see, in the viewer’s numbering (0 when empty).',
      select: { lastSeq: true, lastPublicSeq: true },
      resolve: (c, _args, ctx) => (seesNotes(ctx.viewer, c.workspaceId) ? c.lastSeq : c.lastPublicSeq),
    }),
    lastMessageAt: t.expose('lastMessageAt', { type: 'DateTime', nullable: true, description: 'When its last message was sent.' }),
    lastPosition: t.int({
      description:
        'The position of the last entry of its stream (messages and changes to them) the viewer may see, in the viewer’s numbering; ' +
        'subscribe with afterPosition from here.',
      select: { lastPosition: true, lastPublicPosition: true },
      resolve: (c, _args, ctx) => (seesNotes(ctx.viewer, c.workspaceId) ? c.lastPosition : c.lastPublicPosition),
    }),
    pinnedMessages: t.field({
      type: [MessageRef],
      description: `Its pinned messages, most recently pinned first (at most ${MAX_PINNED}); deleted ones are left out, and pinned notes for anyone but staff.`,
      select: { id: true },
      resolve: async (c, _args, ctx) => {
        const customer = !seesNotes(ctx.viewer, c.workspaceId);
        const rows = await ctx.db.message.findMany({
          where: { conversationId: c.id, pinnedAt: { not: null }, deletedAt: null, ...(customer ? PUBLIC_ONLY : {}) },
          orderBy: { pinnedAt: 'desc' },
          take: MAX_PINNED,
          select: messageSelect,
        });
        return customer ? rows.map((r) => forCustomer(toMessageRecord(r))) : rows.map(toMessageRecord);
      },
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was opened.' }),
    lastMessage: t.field({
      type: MessageRef,
      nullable: true,
      description: 'Its last message the viewer may see.',
      select: { id: true, messages: { orderBy: { seq: 'desc' }, take: 1, select: messageSelect } },
      resolve: async (c, _args, ctx) => {
        if (seesNotes(ctx.viewer, c.workspaceId)) return c.messages[0] ? toMessageRecord(c.messages[0]) : null;
        let last: (typeof c.messages)[number] | undefined = c.messages[0];
        // The last message is a note: read the last public one (only then, so lists stay one query).
        if (last?.visibility === 'INTERNAL') {
          last = (await ctx.db.message.findFirst({ where: { conversationId: c.id, ...PUBLIC_ONLY }, orderBy: { seq: 'desc' }, select: messageSelect })) ?? undefined;
        }
        return last ? forCustomer(toMessageRecord(last)) : null;
      },
    }),
    viewerUnreadCount: t.int({
      nullable: true,
      description: 'Messages the viewer has not read (customers: public messages only); null when the viewer is not a member.',
      select: (_args, ctx) => ({
        lastSeq: true,
        lastPublicSeq: true,
        members: { where: { userId: actingUserId(ctx.viewer) ?? NO_USER }, select: { lastReadSeq: true, lastReadPublicSeq: true } },
      }),
      resolve: (c, _args, ctx) => {
        const m = c.members[0];
        if (!m) return null;
        return seesNotes(ctx.viewer, c.workspaceId) ? Math.max(0, c.lastSeq - m.lastReadSeq) : Math.max(0, c.lastPublicSeq - m.lastReadPublicSeq);
      },
    }),
    viewerLastReadSeq: t.int({
      nullable: true,
      description: 'The highest seq the viewer has read, in the viewer’s numbering; null when the viewer is not a member.',
      select: (_args, ctx) => ({
        members: { where: { userId: actingUserId(ctx.viewer) ?? NO_USER }, select: { lastReadSeq: true, lastReadPublicSeq: true } },
      }),
      resolve: (c, _args, ctx) => {
        const m = c.members[0];
        if (!m) return null;
        return seesNotes(ctx.viewer, c.workspaceId) ? m.lastReadSeq : m.lastReadPublicSeq;
      },
    }),
    members: t.relation('members', {
      description: 'Its members with their read marks, earliest first.',
      query: { orderBy: { joinedAt: 'asc' } },
    }),
    messages: t.connection({
      type: MessageRef,
      description: `Its messages in seq order (internal notes for staff only). \`last: n\` gives the newest n; \`before\`/\`after\` page from a cursor. At most ${MAX_PAGE_SIZE} a page: larger requests are capped.`,
      select: { id: true },
      resolve: (c, args, ctx) => messagePage(ctx.db, c.id, args, !seesNotes(ctx.viewer, c.workspaceId)),
    }),
  }),
});

const NO_USER = '00000000-0000-0000-0000-000000000000';

function seqOf(cursor: string | null | undefined): number | undefined {
  if (cursor == null) return undefined;
  const n = Number(Buffer.from(cursor, 'base64url').toString('utf8').replace(/^seq:/, ''));
  if (!Number.isInteger(n) || n < 0) throw new NotFoundError('Cursor', 'The cursor is not one this API gave out.');
  return n;
}

export function messageCursor(seq: number): string {
  return Buffer.from(`seq:${seq}`).toString('base64url');
}

export function messagePage(
  db: import('../../generated/prisma/client.js').PrismaClient,
  conversationId: string,
  args: DefaultConnectionArguments,
  /** The customer view: public messages only, cursors and seq in the customer numbering. */
  customer = false,
): Promise<{ edges: { cursor: string; node: MessageRecord }[]; pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; startCursor?: string | null; endCursor?: string | null } }> {
  return resolveCursorConnection<Promise<MessageRecord[]>>(
    { args, toCursor: (m: MessageRecord) => messageCursor(m.seq), defaultSize: 50, maxSize: MAX_PAGE_SIZE },
    async ({ before, after, limit, inverted }): Promise<MessageRecord[]> => {
      const gt = seqOf(after);
      const lt = seqOf(before);
      const range = { ...(gt !== undefined ? { gt } : {}), ...(lt !== undefined ? { lt } : {}) };
      const rows = await db.message.findMany({
        where: customer ? { conversationId, ...PUBLIC_ONLY, publicSeq: range } : { conversationId, seq: range },
        orderBy: { seq: inverted ? 'desc' : 'asc' },
        take: limit,
        select: messageSelect,
      });
      return customer ? rows.map((r) => forCustomer(toMessageRecord(r))) : rows.map(toMessageRecord);
    },
  ) as never;
}

export const RoomRef = builder.prismaObject('Conversation', {
  variant: 'Room',
  description: 'A room: support, sales-agent, group or chatbot.',
  interfaces: [ConversationRef],
  fields: (t) => ({
    name: t.exposeString('name', { nullable: true, description: 'Its display name.' }),
    roomType: t.field({ type: RoomTypeEnum, description: 'Its purpose.', resolve: (c) => c.roomType ?? 'GROUP' }),
    product: t.relation('product', { nullable: true, description: 'The product it is about.' }),
    organization: t.relation('organization', { nullable: true, description: 'The organization it belongs to.' }),
  }),
});

export const ThreadRef = builder.prismaObject('Conversation', {
  variant: 'Thread',
  description: 'A thread: one-to-one between two users, or an agent/client thread of a type.',
  interfaces: [ConversationRef],
  fields: (t) => ({
    threadType: t.exposeString('threadType', { nullable: true, description: 'For agent/client threads: the thread type.' }),
    direct: t.exposeBoolean('direct', { description: 'A one-to-one thread, private to its two parties.' }),
  }),
});

export const ConversationEventTypeEnum = builder.enumType('ConversationEventType', {
  description: 'What happened in a conversation.',
  values: {
    MESSAGE_ADDED: { description: 'A message was sent; `message` holds it.' },
    MESSAGE_EDITED: { description: 'A message was edited; `message` holds it now.' },
    MESSAGE_DELETED: { description: 'A message was deleted; `message` holds it, body withheld.' },
    REACTION_ADDED: { description: '`userId` reacted to `message` with `emoji`; `message.reactions` are the counts now.' },
    REACTION_REMOVED: { description: '`userId` took back their `emoji` reaction to `message`; `message.reactions` are the counts now.' },
    MESSAGE_PINNED: { description: '`userId` pinned `message`.' },
    MESSAGE_UNPINNED: { description: '`userId` unpinned `message`.' },
    READ: { description: '`userId` read up to `seq`.' },
    TYPING: { description: '`userId` started or stopped typing; the indicator lapses at `expiresAt`.' },
    MEMBER_JOINED: { description: '`userId` joined.' },
    MEMBER_LEFT: { description: '`userId` left or was removed.' },
    CONVERSATION_DELETED: { description: 'The conversation was deleted; the subscription ends.' },
  } as const,
});

export const ConversationEventRef = builder.objectRef<ConversationEvent>('ConversationEvent').implement({
  description: 'One event of a conversation. Message events carry the message’s seq; resume after the last seq seen.',
  fields: (t) => ({
    type: t.field({ type: ConversationEventTypeEnum, description: 'What happened.', resolve: (e) => e.type }),
    conversationId: t.exposeID('conversationId', { description: 'The conversation.' }),
    seq: t.exposeInt('seq', { description: 'The message’s seq (message events), the seq read up to (READ), else the conversation’s last seq.' }),
    position: t.exposeInt('position', {
      nullable: true,
      description:
        'Its place in the conversation’s stream (messages, edits, deletes, reactions, pins numbered together) in the viewer’s numbering ' +
        '(staff: every entry, notes and changes to notes included; customers: only what they see, with no holes); resume with ' +
        'afterPosition: <the last one seen>. Null for READ, TYPING, MEMBER_* and CONVERSATION_DELETED, which are not replayed.',
    }),
    emoji: t.exposeString('emoji', { nullable: true, description: 'For REACTION_*: the emoji.' }),
    message: t.field({ type: MessageRef, nullable: true, description: 'The message, for message events.', resolve: (e) => e.message ?? null }),
    userId: t.exposeID('userId', {
      nullable: true,
      description: 'The member concerned (READ, TYPING, MEMBER_*), who reacted (REACTION_*), or who pinned or unpinned (MESSAGE_(UN)PINNED).',
    }),
    typing: t.exposeBoolean('typing', { nullable: true, description: 'For TYPING: whether they are typing.' }),
    expiresAt: t.field({ type: 'DateTime', nullable: true, description: 'For TYPING: when the indicator lapses unless renewed.', resolve: (e) => e.expiresAt ?? null }),
    at: t.field({ type: 'DateTime', description: 'When it happened.', resolve: (e) => e.at }),
  }),
});

export const InboxEventTypeEnum = builder.enumType('InboxEventType', {
  description: 'What changed in the viewer’s inbox.',
  values: {
    INBOX_READY: {
      description:
        'The first event: the subscription is live, nothing published from here on is missed. `unreadCount` is the viewer’s total unread over the conversations followed.',
    },
    CONVERSATION_ADDED: { description: 'The viewer was added to a conversation, or one was opened for them (legacy 003 new_room).' },
    CONVERSATION_OPENED: {
      description: 'A customer opened a conversation that the viewer serves as staff of its workspace (they reach it by role, not as a member).',
    },
    UNREAD_CHANGED: { description: 'A conversation got a message (`message`) or the viewer read it: its last seq and the viewer’s unread count now.' },
    CONVERSATION_REMOVED: { description: 'The viewer left, was removed, or the conversation was deleted.' },
  } as const,
});

export const InboxEventRef = builder.objectRef<InboxEvent>('InboxEvent').implement({
  description: 'A change in the viewer’s list of conversations.',
  fields: (t) => ({
    type: t.field({ type: InboxEventTypeEnum, description: 'What changed.', resolve: (e) => e.type }),
    conversationId: t.exposeID('conversationId', { nullable: true, description: 'The conversation; null for INBOX_READY.' }),
    lastSeq: t.exposeInt('lastSeq', { description: 'Its last seq (0 for INBOX_READY).' }),
    unreadCount: t.exposeInt('unreadCount', {
      nullable: true,
      description: 'The viewer’s unread count in it (the total, for INBOX_READY); null when the viewer is not a member.',
    }),
    message: t.field({ type: MessageRef, nullable: true, description: 'For UNREAD_CHANGED after a message: that message.', resolve: (e) => e.message ?? null }),
    at: t.field({ type: 'DateTime', description: 'When it changed.', resolve: (e) => e.at }),
  }),
});

export { UserRef };
