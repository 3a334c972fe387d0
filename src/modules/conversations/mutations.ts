/** Opening conversations, membership, and the message operations. */
import { clientMessageId, name } from '../../graphql/validators.js';
import { z } from 'zod';
import { builder } from '../../graphql/builder.js';
import { ForbiddenError, NotFoundError, ValidationError } from '../../graphql/errors.js';
import { parseId } from '../../graphql/ids.js';
import { idArg, isStaff, requirePerson } from '../../graphql/permissions.js';
import { actingUserId, roleIn } from '../../auth/viewer.js';
import type { Context } from '../../graphql/context.js';
import { addMembers, announceLeft, announceOpened } from './membership.js';
import { openUnique, roomKey } from './rooms.js';
import { APPEND_ERRORS, loadMessage, MAX_BODY_LENGTH, publishConversationEvent } from './pipeline.js';
import { actingAuthor, conversationAccess, conversationWriteAccess, loadAccess } from './permissions.js';
import { recordChange, NoChange } from './changes.js';
import { resolveMentions } from '../notifications/mentions.js';
import { asSeenBy, publicSeqOf, seesNotes, seqOfPublic } from './visibility.js';
import {
  ConversationRef,
  MessageKindEnum,
  MessageRef,
  MessageSideEnum,
  MessageVisibilityEnum,
  RoomRef,
  RoomTypeEnum,
  ThreadRef,
} from './types.js';

const body = z.string().max(MAX_BODY_LENGTH, `must be at most ${MAX_BODY_LENGTH} characters`);

/** Checks that users belong to the workspace (as members or its guests); NOT_FOUND otherwise. */
async function assertUsersInWorkspace(ctx: Context, workspaceId: string, userIds: string[]): Promise<void> {
  if (userIds.length === 0) return;
  const found = await ctx.db.user.count({
    where: {
      id: { in: userIds },
      OR: [{ memberships: { some: { workspaceId } } }, { guestWorkspaceId: workspaceId }],
    },
  });
  if (found !== new Set(userIds).size) throw new NotFoundError('User');
}

const CreateRoomInput = builder.inputType('CreateRoomInput', {
  description: 'A new room.',
  fields: (t) => ({
    workspaceId: t.id({ description: 'The workspace.' }),
    name: t.string({ description: 'Its display name.', validate: name }),
    roomType: t.field({ type: RoomTypeEnum, required: false, defaultValue: 'GROUP', description: 'Its purpose (default GROUP).' }),
    productId: t.id({ required: false, description: 'The product it is about.' }),
    organizationId: t.id({ required: false, description: 'The organization it belongs to.' }),
    memberIds: t.idList({ required: false, description: 'Users to add besides the creator.' }),
  }),
});

const OpenRoomInput = builder.inputType('OpenRoomInput', {
  description: 'A GROUP room known by a key the caller chooses (legacy 002 rooms are named by their clients).',
  fields: (t) => ({
    workspaceId: t.id({ description: 'The workspace.' }),
    key: t.string({
      description: 'The room’s key, unique in the workspace: the same key always opens the same room. 1 to 200 characters.',
      validate: z.string().min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
    }),
    name: t.string({ required: false, description: 'Its display name when it is opened (the key when omitted); an existing room keeps its own.', validate: name }),
    memberIds: t.idList({
      required: false,
      description: 'Users of the workspace (members or guests) to add, whether the room is new or not; members already there stay as they are.',
    }),
  }),
});

const SendMessageInput = builder.inputType('SendMessageInput', {
  description: 'A message to send.',
  fields: (t) => ({
    conversationId: t.id({ description: 'The conversation.' }),
    body: t.string({ description: `The text, 1 to ${MAX_BODY_LENGTH} characters.`, validate: body }),
    kind: t.field({ type: MessageKindEnum, required: false, defaultValue: 'TEXT', description: 'TEXT (default), IMAGE or FILE; SYSTEM is reserved to the server.' }),
    side: t.field({ type: MessageSideEnum, required: false, description: 'Which side it is shown on (legacy clients).' }),
    replyToId: t.id({ required: false, description: 'The message this answers, in the same conversation.' }),
    clientMessageId: t.string({
      required: false,
      description: 'An idempotency key: sending again with the same key returns the first message instead of a second.',
      validate: clientMessageId,
    }),
    asUserId: t.id({
      required: false,
      description:
        'For API keys (server integrations such as the legacy shim): the user of the workspace to write as, a member of the conversation ' +
        'or staff of its workspace. Others write as themselves.',
    }),
    visibility: t.field({
      type: MessageVisibilityEnum,
      required: false,
      defaultValue: 'PUBLIC',
      description:
        'PUBLIC (default), or INTERNAL for a note only staff see: written by staff of the workspace (an API key: as a staff asUserId), in ' +
        'a conversation with a customer side (not a one-to-one thread), text only. A PUBLIC message may not reply to a note.',
    }),
  }),
});

builder.mutationFields((t) => ({
  createRoom: t.withAuth((_root, args) => ({ workspaceStaff: idArg(args, 'input.workspaceId') })).prismaField({
    type: RoomRef,
    description: 'Opens a room in a workspace. Admins and agents only.',
    errors: { types: [ValidationError, NotFoundError] },
    args: { input: t.arg({ type: CreateRoomInput, description: 'The room; each field is described on its type.' }) },
    resolve: async (query, _root, { input }, ctx) => {
      const workspaceId = parseId(input.workspaceId, 'Workspace');
      const creator = actingUserId(ctx.viewer);
      const memberIds = [...new Set((input.memberIds ?? []).map((id) => parseId(id, 'User')))].filter((id) => id !== creator);
      await assertUsersInWorkspace(ctx, workspaceId, memberIds);
      const productId = input.productId ? parseId(input.productId, 'Product') : null;
      if (productId && !(await ctx.db.product.count({ where: { id: productId, workspaceId } }))) throw new NotFoundError('Product');
      const organizationId = input.organizationId ? parseId(input.organizationId, 'Organization') : null;
      if (organizationId && !(await ctx.db.organization.count({ where: { id: organizationId, workspaceId } }))) {
        throw new NotFoundError('Organization');
      }
      const room = await ctx.db.conversation.create({
        data: {
          workspaceId,
          kind: 'ROOM',
          roomType: input.roomType ?? 'GROUP',
          name: input.name,
          productId,
          organizationId,
          createdById: creator,
          ...(creator ? { members: { create: { userId: creator, role: 'OWNER' } } } : {}),
        },
        select: { id: true },
      });
      await addMembers(ctx, room.id, memberIds.map((userId) => ({ userId })));
      return ctx.db.conversation.findUniqueOrThrow({ ...query, where: { id: room.id } });
    },
  }),
  openRoom: t.withAuth((_root, args) => ({ workspaceStaff: idArg(args, 'input.workspaceId') })).prismaField({
    type: RoomRef,
    description:
      'Opens the GROUP room with this key, or returns the one already there (concurrent openers get the same room), and adds `memberIds` to it. ' +
      'Admins, agents and API keys.',
    errors: { types: [ValidationError, NotFoundError] },
    args: { input: t.arg({ type: OpenRoomInput, description: 'The room; each field is described on its type.' }) },
    resolve: async (query, _root, { input }, ctx) => {
      const workspaceId = parseId(input.workspaceId, 'Workspace');
      const creator = actingUserId(ctx.viewer);
      const memberIds = [...new Set((input.memberIds ?? []).map((id) => parseId(id, 'User')))];
      await assertUsersInWorkspace(ctx, workspaceId, memberIds);
      const { id, created } = await openUnique(ctx, {
        workspaceId,
        uniqueKey: roomKey(input.key),
        kind: 'ROOM',
        roomType: 'GROUP',
        name: input.name ?? input.key.slice(0, 100),
        createdById: creator,
        ...(creator ? { members: { create: { userId: creator, role: 'OWNER' } } } : {}),
      });
      if (created) await announceOpened(ctx, id);
      await addMembers(ctx, id, memberIds.map((userId) => ({ userId })));
      return ctx.db.conversation.findUniqueOrThrow({ ...query, where: { id } });
    },
  }),
  openDirectThread: t.prismaField({
    type: ThreadRef,
    description: 'Opens (or returns) the one-to-one thread between the viewer and another user of the workspace.',
    errors: { types: [NotFoundError, ValidationError] },
    args: {
      workspaceId: t.arg.id({ description: 'The workspace both users belong to.' }),
      userId: t.arg.id({ description: 'The other user.' }),
    },
    resolve: async (query, _root, args, ctx) => {
      const me = requirePerson(ctx.viewer);
      const workspaceId = parseId(args.workspaceId, 'Workspace');
      const other = parseId(args.userId, 'User');
      if (!roleIn(ctx.viewer, workspaceId) || ctx.viewer.kind === 'guest') throw new NotFoundError('Workspace');
      if (other === me) throw new ValidationError([{ path: ['userId'], message: 'must be someone other than you' }]);
      await assertUsersInWorkspace(ctx, workspaceId, [other]);
      const uniqueKey = `direct:${[me, other].sort().join(':')}`;
      const thread = await openUnique(ctx, {
        workspaceId,
        kind: 'THREAD',
        direct: true,
        uniqueKey,
        createdById: me,
        members: { create: [{ userId: me, role: 'OWNER' }, { userId: other, role: 'OWNER' }] },
      });
      // The other party learns of it in their inbox (legacy 003 new_room).
      if (thread.created) await announceOpened(ctx, thread.id);
      return ctx.db.conversation.findUniqueOrThrow({ ...query, where: { id: thread.id } });
    },
  }),
  joinConversation: t.field({
    type: ConversationRef,
    description: 'Joins a room the viewer may reach (a GROUP room of their workspace, or any room for staff).',
    errors: { types: [NotFoundError], directResult: false },
    args: { id: t.arg.id({ description: 'The conversation.' }) },
    resolve: async (_root, args, ctx) => {
      const me = requirePerson(ctx.viewer);
      const id = parseId(args.id, 'Conversation');
      const head = await ctx.db.conversation.findUnique({ where: { id }, select: { workspaceId: true, kind: true, roomType: true, direct: true } });
      const role = head ? roleIn(ctx.viewer, head.workspaceId) : null;
      const openGroup = head?.kind === 'ROOM' && head.roomType === 'GROUP' && role && ctx.viewer.kind !== 'guest';
      const staff = head && !head.direct && (role === 'ADMIN' || role === 'AGENT');
      if (!head || !(openGroup || staff)) throw new NotFoundError('Conversation');
      await addMembers(ctx, id, [{ userId: me }]);
      return ctx.db.conversation.findUniqueOrThrow({ where: { id } });
    },
  }),
  leaveConversation: t.field({
    type: ConversationRef,
    description: 'Leaves a conversation; the viewer’s live subscriptions to it end.',
    errors: { types: [NotFoundError], directResult: false },
    args: { id: t.arg.id({ description: 'The conversation.' }) },
    resolve: async (_root, args, ctx) => {
      const me = requirePerson(ctx.viewer);
      const access = await loadAccess(ctx, args.id);
      if (!access.member) throw new NotFoundError('Membership', 'You are not a member of this conversation.');
      const conversation = await ctx.db.conversation.findUniqueOrThrow({ where: { id: access.conversation.id } });
      await ctx.db.conversationMember.delete({ where: { conversationId_userId: { conversationId: access.conversation.id, userId: me } } });
      await announceLeft(ctx, access.conversation.id, me, access.conversation.lastSeq);
      return conversation;
    },
  }),
  addConversationMember: t.field({
    type: ConversationRef,
    description: 'Adds a user of the workspace to a conversation. Staff, or an owner of it.',
    errors: { types: [NotFoundError, ForbiddenError], directResult: false },
    args: {
      conversationId: t.arg.id({ description: 'The conversation.' }),
      userId: t.arg.id({ description: 'The user to add.' }),
    },
    resolve: async (_root, args, ctx) => {
      const { conversation } = await membersManagedBy(ctx, args.conversationId, 'add');
      const userId = parseId(args.userId, 'User');
      await assertUsersInWorkspace(ctx, conversation.workspaceId, [userId]);
      await addMembers(ctx, conversation.id, [{ userId }]);
      return ctx.db.conversation.findUniqueOrThrow({ where: { id: conversation.id } });
    },
  }),
  removeConversationMember: t.field({
    type: ConversationRef,
    description: 'Removes a member; their live subscriptions to it end within moments. Staff, or an owner of it.',
    errors: { types: [NotFoundError, ForbiddenError], directResult: false },
    args: {
      conversationId: t.arg.id({ description: 'The conversation.' }),
      userId: t.arg.id({ description: 'The member to remove.' }),
    },
    resolve: async (_root, args, ctx) => {
      const { conversation } = await membersManagedBy(ctx, args.conversationId, 'remove');
      const userId = parseId(args.userId, 'User');
      const { count } = await ctx.db.conversationMember.deleteMany({ where: { conversationId: conversation.id, userId } });
      if (count === 0) throw new NotFoundError('Membership');
      await announceLeft(ctx, conversation.id, userId, conversation.lastSeq);
      return ctx.db.conversation.findUniqueOrThrow({ where: { id: conversation.id } });
    },
  }),
  sendMessage: t.withAuth((_root, args) => ({ conversationWriter: idArg(args, 'input.conversationId') })).field({
    type: MessageRef,
    description:
      'Sends a message. With a clientMessageId, sending again (a retry, a second tab) returns the first message. ' +
      'Staff answering a room they reach by role join it. An API key writes as the user it names with asUserId.',
    errors: { types: [...APPEND_ERRORS, ForbiddenError] },
    args: { input: t.arg({ type: SendMessageInput, description: 'The message; each field is described on its type.' }) },
    resolve: async (_root, { input }, ctx) => {
      if (input.kind === 'SYSTEM') throw new ValidationError([{ path: ['input', 'kind'], message: 'SYSTEM messages are written by the server' }]);
      const access = await conversationWriteAccess(ctx, input.conversationId);
      const { userId: authorId, member, staff } = await actingAuthor(ctx, access, input.asUserId);
      const visibility = input.visibility ?? 'PUBLIC';
      if (visibility === 'INTERNAL') {
        if (!staff || !seesNotes(ctx.viewer, access.conversation.workspaceId)) {
          throw new ForbiddenError('Only staff of the workspace write internal notes.');
        }
        if (access.conversation.direct) throw new ForbiddenError('A one-to-one thread has no customer to keep a note from; write an ordinary message.');
      }
      const { record } = await ctx.pipeline.append(ctx, {
        visibility,
        conversationId: access.conversation.id,
        authorId,
        body: input.body,
        kind: input.kind ?? 'TEXT',
        side: input.side ?? null,
        replyToId: input.replyToId ? parseId(input.replyToId, 'Message') : null,
        clientMessageId: input.clientMessageId ?? null,
        joinAuthor: !member,
      });
      return asSeenBy(ctx.viewer, access.conversation.workspaceId, record);
    },
  }),
  editMessage: t.field({
    type: MessageRef,
    description:
      'Edits a message’s text (a change of the conversation’s stream: MESSAGE_EDITED with its position). Its author, or an admin of the workspace. ' +
      'Keeps the edit time; its @mentions are parsed again and people newly mentioned are notified. A deleted message cannot be edited.',
    errors: { types: [ValidationError, NotFoundError, ForbiddenError] },
    args: {
      id: t.arg.id({ description: 'The message.' }),
      body: t.arg.string({ description: 'The new text.', validate: body }),
    },
    resolve: async (_root, args, ctx) => {
      const message = await messageForChange(ctx, args.id);
      if (args.body.trim().length === 0) throw new ValidationError([{ path: ['body'], message: 'must not be empty' }]);
      if (message.deletedAt) throw new ValidationError([{ path: ['id'], message: 'the message was deleted; it cannot be edited' }]);
      const mentions = await resolveMentions(ctx, message.conversationId, args.body, message.authorId, message.visibility);
      const { record } = await recordChange(
        ctx,
        {
          conversationId: message.conversationId,
          messageId: message.id,
          type: 'MESSAGE_EDITED',
          userId: actingUserId(ctx.viewer),
          visibility: message.visibility,
        },
        async (tx, at) => {
          await tx.message.update({ where: { id: message.id }, data: { body: args.body, editedAt: at, mentions: mentions as never } });
        },
      );
      return asSeenBy(ctx.viewer, message.workspaceId, record);
    },
  }),
  deleteMessage: t.field({
    type: MessageRef,
    description:
      'Deletes a message: it stays in the history as deleted, its body withheld (MESSAGE_DELETED with its position; deleting again changes nothing). Its author, or an admin.',
    errors: { types: [NotFoundError, ForbiddenError] },
    args: { id: t.arg.id({ description: 'The message.' }) },
    resolve: async (_root, args, ctx) => {
      const message = await messageForChange(ctx, args.id);
      const { record } = await recordChange(
        ctx,
        {
          conversationId: message.conversationId,
          messageId: message.id,
          type: 'MESSAGE_DELETED',
          userId: actingUserId(ctx.viewer),
          visibility: message.visibility,
        },
        async (tx, at) => {
          // Deleting twice changes nothing and announces nothing.
          const { count } = await tx.message.updateMany({ where: { id: message.id, deletedAt: null }, data: { deletedAt: at } });
          if (count === 0) throw new NoChange();
        },
      );
      return asSeenBy(ctx.viewer, message.workspaceId, record);
    },
  }),
  markRead: t.withAuth((_root, args) => ({ conversationReader: idArg(args, 'conversationId') })).field({
    type: ConversationRef,
    description: 'Marks the conversation read up to a seq (never backwards); others see a READ event (read receipts).',
    errors: { types: [NotFoundError, ValidationError], directResult: false },
    args: {
      conversationId: t.arg.id({ description: 'The conversation.' }),
      seq: t.arg.int({ description: 'The highest seq read.', validate: z.number().int().min(0, 'must not be negative') }),
    },
    resolve: async (_root, args, ctx) => {
      const me = requirePerson(ctx.viewer);
      const access = await conversationAccess(ctx, args.conversationId);
      if (!access.member) throw new NotFoundError('Membership', 'Only members have a read mark; join the conversation first.');
      const { id, lastSeq, lastPublicSeq } = access.conversation;
      // The seq is in the viewer's numbering (visibility.ts); both read marks move together.
      let upTo: number;
      let publicUpTo: number;
      let where;
      if (seesNotes(ctx.viewer, access.conversation.workspaceId)) {
        upTo = Math.min(args.seq, lastSeq);
        publicUpTo = await publicSeqOf(ctx.db, id, upTo);
        where = { conversationId: id, userId: me, lastReadSeq: { lt: upTo } };
      } else {
        publicUpTo = Math.min(args.seq, lastPublicSeq);
        upTo = await seqOfPublic(ctx.db, id, publicUpTo);
        where = { conversationId: id, userId: me, lastReadPublicSeq: { lt: publicUpTo } };
      }
      const { count } = await ctx.db.conversationMember.updateMany({
        where,
        data: { lastReadSeq: upTo, lastReadPublicSeq: publicUpTo, lastReadAt: new Date() },
      });
      if (count > 0) {
        publishConversationEvent(ctx, { type: 'READ', conversationId: id, seq: upTo, publicSeq: publicUpTo, userId: me });
        await ctx.pubsub.publish('inbox', me, {
          type: 'UNREAD_CHANGED',
          conversationId: id,
          lastSeq,
          unreadCount: Math.max(0, lastSeq - upTo),
          public: { lastSeq: lastPublicSeq, unreadCount: Math.max(0, lastPublicSeq - publicUpTo) },
          at: new Date().toISOString(),
        });
      }
      return ctx.db.conversation.findUniqueOrThrow({ where: { id: access.conversation.id } });
    },
  }),
}));

/** A conversation whose members the viewer may change: staff, or an owner; never a one-to-one thread. */
async function membersManagedBy(ctx: Context, rawId: string | number, verb: 'add' | 'remove') {
  const access = await loadAccess(ctx, rawId);
  if (access.conversation.direct) throw new ForbiddenError('A one-to-one thread keeps its two parties.');
  if (access.member?.role !== 'OWNER' && !isStaff(ctx.viewer, access.conversation.workspaceId)) {
    throw new ForbiddenError(`Only staff or an owner of the conversation may ${verb} members.`);
  }
  return access;
}

/** A message the viewer may edit or delete: their own, or any as an admin; NOT_FOUND or FORBIDDEN otherwise. */
async function messageForChange(ctx: Context, rawId: string | number) {
  const id = parseId(rawId, 'Message');
  const message = await ctx.db.message.findUnique({
    where: { id },
    select: { id: true, conversationId: true, authorId: true, kind: true, deletedAt: true, visibility: true },
  });
  if (!message) throw new NotFoundError('Message');
  const access = await loadAccess(ctx, message.conversationId).catch(() => {
    throw new NotFoundError('Message');
  });
  // A note is as unknown to a customer as an id that does not exist.
  if (message.visibility === 'INTERNAL' && !seesNotes(ctx.viewer, access.conversation.workspaceId)) throw new NotFoundError('Message');
  const mine = message.authorId !== null && message.authorId === actingUserId(ctx.viewer);
  const admin = roleIn(ctx.viewer, access.conversation.workspaceId) === 'ADMIN';
  if (!mine && !admin) throw new ForbiddenError('Only its author or an admin may change a message.');
  if (message.kind === 'SYSTEM' && !admin) throw new ForbiddenError('System messages cannot be changed.');
  return { ...message, workspaceId: access.conversation.workspaceId };
}

export { loadMessage };
