/**
 * Threads: agent/client threads of a thread type (legacy 001), opened by the client's first
 * message and served by the workspace's agents; and the viewer's one-to-one threads with what
 * the other party has read (legacy 004 `seen`).
 */
import { z } from 'zod';
import type { Prisma } from '../../generated/prisma/client.js';
import { builder } from '../../graphql/builder.js';
import type { Context } from '../../graphql/context.js';
import { ForbiddenError, NotFoundError, ValidationError } from '../../graphql/errors.js';
import { parseId } from '../../graphql/ids.js';
import { actingUserId, roleIn } from '../../auth/viewer.js';
import { UserRef } from '../users/types.js';
import { announceOpened } from './membership.js';
import { MAX_BODY_LENGTH } from './pipeline.js';
import { loadAccess } from './permissions.js';
import type { MessageRecord } from './records.js';
import { byActivity, MAX_LIST_SIZE, openUnique } from './rooms.js';
import { MessageKindEnum, MessageRef, ThreadRef } from './types.js';
import { asSeenBy, seesNotes } from './visibility.js';
import { isStaff, requirePerson } from '../../graphql/permissions.js';

const NO_USER = '00000000-0000-0000-0000-000000000000';

/**
 * Thread types are matched without regard to case or surrounding space ("Billing" and "billing "
 * are one type), and kept as first written.
 */
const threadType = z.string().trim().min(1, 'must not be empty').max(50, 'must be at most 50 characters');

function typedKey(clientId: string, type: string): string {
  return `typed:${clientId}:${type.trim().toLowerCase()}`;
}

/** Whether the viewer is a customer of the workspace (a CLIENT, or a website visitor). */
function isCustomer(ctx: Context, workspaceId: string): boolean {
  return roleIn(ctx.viewer, workspaceId) === 'CLIENT';
}

async function assertUserInWorkspace(ctx: Context, workspaceId: string, userId: string): Promise<void> {
  const found = await ctx.db.user.count({
    where: { id: userId, OR: [{ memberships: { some: { workspaceId } } }, { guestWorkspaceId: workspaceId }] },
  });
  if (!found) throw new NotFoundError('User');
}

const SendThreadMessageInput = builder.inputType('SendThreadMessageInput', {
  description: 'A client’s message in their thread of a type; the first one opens the thread (legacy 001 send-message).',
  fields: (t) => ({
    workspaceId: t.id({ description: 'The workspace.' }),
    threadType: t.string({ description: 'The thread type (legacy Thread_type), matched without regard to case.', validate: threadType }),
    body: t.string({ description: `The text, 1 to ${MAX_BODY_LENGTH} characters.`, validate: z.string().max(MAX_BODY_LENGTH, `must be at most ${MAX_BODY_LENGTH} characters`) }),
    kind: t.field({ type: MessageKindEnum, required: false, defaultValue: 'TEXT', description: 'TEXT (default), IMAGE or FILE.' }),
    clientMessageId: t.string({
      required: false,
      description: 'An idempotency key: sending again with the same key returns the first message.',
      validate: z.string().trim().min(1).max(100, 'must be at most 100 characters'),
    }),
  }),
});

const ThreadMessageSentRef = builder.objectRef<{ threadId: string; message: MessageRecord; opened: boolean }>('ThreadMessageSent').implement({
  description: 'A message sent in a client’s thread, with the thread.',
  fields: (t) => ({
    thread: t.prismaField({
      type: ThreadRef,
      description: 'The thread, opened by this message when `opened`.',
      resolve: (query, parent, _args, ctx) => ctx.db.conversation.findUniqueOrThrow({ ...query, where: { id: parent.threadId } }),
    }),
    sentMessage: t.field({ type: MessageRef, description: 'The message sent (named so as not to clash with Error.message in result unions).', resolve: (p) => p.message }),
    opened: t.exposeBoolean('opened', { description: 'Whether this message opened the thread.' }),
  }),
});

builder.prismaObjectFields(ThreadRef, (t) => ({
  otherParty: t.field({
    type: UserRef,
    nullable: true,
    description: 'In a one-to-one thread, the other user; null in other threads.',
    select: (_args, ctx) => ({
      members: { where: { userId: { not: actingUserId(ctx.viewer) ?? NO_USER } }, orderBy: { joinedAt: 'asc' }, take: 1, select: { user: true } },
    }),
    resolve: (c) => (c.direct ? (c.members[0]?.user ?? null) : null),
  }),
  otherPartyLastReadSeq: t.int({
    nullable: true,
    description:
      'The highest seq read by the other party (legacy 004 `seen`: a message is seen when its seq is at most this); in threads with more ' +
      'members, the highest read by anyone but the viewer. READ events keep it current live. Null when nobody else is in the thread.',
    select: (_args, ctx) => ({
      workspaceId: true,
      members: {
        where: { userId: { not: actingUserId(ctx.viewer) ?? NO_USER } },
        orderBy: { lastReadSeq: 'desc' },
        take: 1,
        select: { lastReadSeq: true, lastReadPublicSeq: true },
      },
    }),
    // In the viewer's numbering (visibility.ts): customers count public messages only.
    resolve: (c, _args, ctx) => {
      const m = c.members[0];
      if (!m) return null;
      return seesNotes(ctx.viewer, c.workspaceId) ? m.lastReadSeq : m.lastReadPublicSeq;
    },
  }),
}));

builder.queryFields((t) => ({
  typedThread: t.prismaField({
    type: ThreadRef,
    nullable: true,
    description:
      'A client’s thread of a type, null until their first message opens it (legacy 001 message-list with Thread_type). ' +
      'Clients read their own (omit clientId); staff name the client.',
    args: {
      workspaceId: t.arg.id({ description: 'The workspace.' }),
      threadType: t.arg.string({ description: 'The thread type.', validate: threadType }),
      clientId: t.arg.id({ required: false, description: 'The client (staff only); the viewer when omitted.' }),
    },
    resolve: async (query, _root, args, ctx) => {
      const workspaceId = parseId(args.workspaceId, 'Workspace');
      if (!roleIn(ctx.viewer, workspaceId)) throw new NotFoundError('Workspace');
      let clientId: string;
      if (args.clientId != null) {
        clientId = parseId(args.clientId, 'User');
        if (!isStaff(ctx.viewer, workspaceId) && clientId !== actingUserId(ctx.viewer)) throw new NotFoundError('User');
      } else {
        const me = actingUserId(ctx.viewer);
        if (!me || !isCustomer(ctx, workspaceId)) {
          throw new ValidationError([{ path: ['clientId'], message: 'name the client whose thread to read' }]);
        }
        clientId = me;
      }
      const row = await ctx.db.conversation.findUnique({
        where: { workspaceId_uniqueKey: { workspaceId, uniqueKey: typedKey(clientId, args.threadType) } },
        select: { id: true },
      });
      if (!row) return null;
      await loadAccess(ctx, row.id);
      return ctx.db.conversation.findUniqueOrThrow({ ...query, where: { id: row.id } });
    },
  }),
  threads: t.prismaConnection({
    type: ThreadRef,
    cursor: 'id',
    description:
      'Agent/client threads of a workspace, most recently active first (legacy 001 thread-list with Agent_id and Client_id, and an agent’s ' +
      `message-list). Staff see every client’s; a client only their own. At most ${MAX_LIST_SIZE} a page.`,
    maxSize: MAX_LIST_SIZE,
    defaultSize: 30,
    args: {
      workspaceId: t.arg.id({ description: 'The workspace.' }),
      clientId: t.arg.id({ required: false, description: 'Only threads of this client.' }),
      agentId: t.arg.id({ required: false, description: 'Only threads this agent has taken part in (answered or joined).' }),
      threadType: t.arg.string({ required: false, description: 'Only threads of this type.', validate: threadType }),
    },
    resolve: (query, _root, args, ctx) => {
      const workspaceId = parseId(args.workspaceId, 'Workspace');
      if (!roleIn(ctx.viewer, workspaceId)) throw new NotFoundError('Workspace');
      const me = actingUserId(ctx.viewer);
      let clientId = args.clientId != null ? parseId(args.clientId, 'User') : null;
      if (!isStaff(ctx.viewer, workspaceId)) {
        if (clientId && clientId !== me) throw new NotFoundError('User');
        clientId = me ?? NO_USER;
      }
      const where: Prisma.ConversationWhereInput = {
        workspaceId,
        kind: 'THREAD',
        direct: false,
        threadType: args.threadType != null ? { equals: args.threadType.trim(), mode: 'insensitive' } : { not: null },
        ...(clientId ? { createdById: clientId, members: { some: { userId: clientId } } } : {}),
        ...(args.agentId != null ? { AND: [{ members: { some: { userId: parseId(args.agentId, 'User') } } }] } : {}),
      };
      return ctx.db.conversation.findMany({ ...query, where, orderBy: byActivity });
    },
  }),
  myThreads: t.prismaConnection({
    type: ThreadRef,
    cursor: 'id',
    description:
      `The viewer’s threads, most recently active first (legacy 004 get-user-threads). At most ${MAX_LIST_SIZE} a page.`,
    maxSize: MAX_LIST_SIZE,
    defaultSize: 30,
    args: {
      workspaceId: t.arg.id({ required: false, description: 'Only threads of this workspace.' }),
      direct: t.arg.boolean({ required: false, description: 'Only one-to-one threads (true) or only agent/client threads (false).' }),
    },
    resolve: (query, _root, args, ctx) =>
      ctx.db.conversation.findMany({
        ...query,
        where: {
          kind: 'THREAD',
          members: { some: { userId: actingUserId(ctx.viewer) ?? NO_USER } },
          ...(args.workspaceId != null ? { workspaceId: parseId(args.workspaceId, 'Workspace') } : {}),
          ...(args.direct != null ? { direct: args.direct } : {}),
        },
        orderBy: byActivity,
      }),
  }),
  directThread: t.prismaField({
    type: ThreadRef,
    nullable: true,
    description:
      'The viewer’s one-to-one thread with another user of the workspace, without opening one: null while they have none ' +
      '(legacy 004 messages/<uid>). Open one with openDirectThread.',
    args: {
      workspaceId: t.arg.id({ description: 'The workspace both users belong to.' }),
      userId: t.arg.id({ description: 'The other user.' }),
    },
    resolve: async (query, _root, args, ctx) => {
      const me = requirePerson(ctx.viewer);
      const workspaceId = parseId(args.workspaceId, 'Workspace');
      if (!roleIn(ctx.viewer, workspaceId)) throw new NotFoundError('Workspace');
      const other = parseId(args.userId, 'User');
      await assertUserInWorkspace(ctx, workspaceId, other);
      return ctx.db.conversation.findUnique({
        ...query,
        where: { workspaceId_uniqueKey: { workspaceId, uniqueKey: `direct:${[me, other].sort().join(':')}` } },
      });
    },
  }),
}));

builder.mutationFields((t) => ({
  sendThreadMessage: t.field({
    type: ThreadMessageSentRef,
    description:
      'A client’s message in their thread of a type: the first one opens the thread (legacy 001 send-message), which the workspace’s ' +
      'staff then reach and are told of (inboxEvents CONVERSATION_OPENED). Clients and website visitors only; staff answer with sendMessage.',
    errors: { types: [ValidationError, NotFoundError, ForbiddenError] },
    args: { input: t.arg({ type: SendThreadMessageInput, description: 'The message; each field is described on its type.' }) },
    resolve: async (_root, { input }, ctx) => {
      const workspaceId = parseId(input.workspaceId, 'Workspace');
      if (!roleIn(ctx.viewer, workspaceId)) throw new NotFoundError('Workspace');
      const client = requirePerson(ctx.viewer);
      if (!isCustomer(ctx, workspaceId)) throw new ForbiddenError('Only clients open threads of a type; staff answer them with sendMessage.');
      if (input.kind === 'SYSTEM') throw new ValidationError([{ path: ['input', 'kind'], message: 'SYSTEM messages are written by the server' }]);
      if (input.body.trim().length === 0) throw new ValidationError([{ path: ['input', 'body'], message: 'must not be empty' }]);
      const { id, created } = await openUnique(ctx, {
        workspaceId,
        uniqueKey: typedKey(client, input.threadType),
        kind: 'THREAD',
        threadType: input.threadType.trim(),
        createdById: client,
        members: { create: { userId: client, role: 'OWNER' } },
      });
      // A client taken out of their thread does not get back in by writing to it.
      if (!created) await loadAccess(ctx, id);
      const { record } = await ctx.pipeline.append(ctx, {
        conversationId: id,
        authorId: client,
        body: input.body,
        kind: input.kind ?? 'TEXT',
        side: 'LEFT',
        clientMessageId: input.clientMessageId ?? null,
      });
      if (created) await announceOpened(ctx, id);
      return { threadId: id, message: asSeenBy(ctx.viewer, workspaceId, record), opened: created };
    },
  }),
}));
