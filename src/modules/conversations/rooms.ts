/**
 * Rooms of legacy 000: rooms per product and organization (room_list), the rooms a website
 * visitor opens for their session (a sales-agent room starting with a welcome message, a support
 * room), and deleting a room with everything in it.
 */
import { z } from 'zod';
import type { Prisma } from '../../generated/prisma/client.js';
import { builder } from '../../graphql/builder.js';
import type { Context } from '../../graphql/context.js';
import { ForbiddenError, NotFoundError, ValidationError } from '../../graphql/errors.js';
import { parseId } from '../../graphql/ids.js';
import { roleIn } from '../../auth/viewer.js';
import { isUniqueViolation } from '../../db/errors.js';
import { UserRef } from '../users/types.js';
import { announceOpened } from './membership.js';
import { publishConversationEvent } from './pipeline.js';
import { loadAccess, readableWhere } from './permissions.js';
import { RoomRef, RoomTypeEnum } from './types.js';
import { isStaff } from '../../graphql/permissions.js';

/** The first message of a sales-agent room, word for word as legacy 000 clients show it. */
export const SALES_AGENT_WELCOME = 'Hey, How may I help you?';

/** Lists of conversations hold at most this many a page. */
export const MAX_LIST_SIZE = 100;

/** Most recently active first; rooms never written in last, newest first. */
export const byActivity = [
  { lastMessageAt: { sort: 'desc', nulls: 'last' } },
  { createdAt: 'desc' },
  { id: 'asc' },
] satisfies Prisma.ConversationOrderByWithRelationInput[];

/**
 * Opens the conversation with this uniqueKey in its workspace, or returns the one already there:
 * a unique index decides between concurrent openers, so there is never a second. With `prepare`
 * (writing a welcome message, say), the conversation takes its key only once prepared, so that
 * whoever finds it by key, a losing concurrent opener included, finds it ready; a loser's own
 * copy is deleted.
 */
export async function openUnique(
  ctx: Context,
  data: Prisma.ConversationUncheckedCreateInput & { uniqueKey: string },
  prepare?: (id: string) => Promise<void>,
): Promise<{ id: string; created: boolean }> {
  const where = { workspaceId_uniqueKey: { workspaceId: data.workspaceId, uniqueKey: data.uniqueKey } };
  const found = await ctx.db.conversation.findUnique({ where, select: { id: true } });
  if (found) return { id: found.id, created: false };
  const { uniqueKey, ...rest } = data;
  let id: string | null = null;
  try {
    if (prepare) {
      id = (await ctx.db.conversation.create({ data: rest, select: { id: true } })).id;
      await prepare(id);
      await ctx.db.conversation.update({ where: { id }, data: { uniqueKey }, select: { id: true } });
    } else {
      id = (await ctx.db.conversation.create({ data, select: { id: true } })).id;
    }
    return { id, created: true };
  } catch (err) {
    if (prepare && id) await ctx.db.conversation.deleteMany({ where: { id } });
    if (!isUniqueViolation(err)) throw err;
    const winner = await ctx.db.conversation.findUnique({ where, select: { id: true } });
    if (!winner) throw err;
    return { id: winner.id, created: false };
  }
}

/** The uniqueKey of a room opened by key (openRoom), apart from the keys the product makes itself. */
export function roomKey(key: string): string {
  return `room:${key}`;
}

/** The guest's id when the viewer is a visitor of this workspace; FORBIDDEN for other callers of it. */
export function requireVisitor(ctx: Context, workspaceId: string, what: string): string {
  if (!roleIn(ctx.viewer, workspaceId)) throw new NotFoundError('Workspace');
  if (ctx.viewer.kind !== 'guest') {
    throw new ForbiddenError(`Only a website visitor (a guest session, see startGuestSession) opens ${what}.`);
  }
  return ctx.viewer.userId;
}

/** A product of the workspace named by id or slug; null when neither is given. */
async function productOf(
  ctx: Context,
  workspaceId: string,
  productId: string | number | null | undefined,
  productSlug: string | null | undefined,
): Promise<{ id: string; name: string; organizationId: string | null } | null> {
  if (productId != null && productSlug != null) {
    throw new ValidationError([{ path: ['input', 'productSlug'], message: 'give productId or productSlug, not both' }]);
  }
  if (productId == null && productSlug == null) return null;
  const select = { id: true, name: true, organizationId: true } as const;
  const product =
    productId != null
      ? await ctx.db.product.findFirst({ where: { id: parseId(productId, 'Product'), workspaceId }, select })
      : await ctx.db.product.findUnique({ where: { workspaceId_slug: { workspaceId, slug: productSlug! } }, select });
  if (!product) throw new NotFoundError('Product');
  return product;
}

async function organizationOf(ctx: Context, workspaceId: string, raw: string | number | null | undefined): Promise<string | null> {
  if (raw == null) return null;
  const id = parseId(raw, 'Organization');
  if (!(await ctx.db.organization.count({ where: { id, workspaceId } }))) throw new NotFoundError('Organization');
  return id;
}

const slug = z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters');

const OpenVisitorRoomInput = builder.inputType('OpenVisitorRoomInput', {
  description: 'A room a website visitor opens for their session, about a product (by id or by slug, not both).',
  fields: (t) => ({
    workspaceId: t.id({ description: 'The workspace whose website the visitor is on.' }),
    productId: t.id({ required: false, description: 'The product, by id.' }),
    productSlug: t.string({ required: false, description: 'The product, by its slug (legacy 000 product name, e.g. "sales-agent").', validate: slug }),
    organizationId: t.id({ required: false, description: 'The organization (legacy org_id); defaults to the product’s.' }),
  }),
});

const DeletedRoomRef = builder.objectRef<{ id: string }>('DeletedRoom').implement({
  description: 'A room that was deleted with its messages and members.',
  fields: (t) => ({ id: t.exposeID('id', { description: 'The id the room had.' }) }),
});

builder.prismaObjectFields(RoomRef, (t) => ({
  visitor: t.field({
    type: UserRef,
    nullable: true,
    description: 'The website visitor (guest) the room serves, for rooms visitors open: chatbot, sales-agent and support (legacy 003 consumer).',
    select: { members: { where: { user: { kind: 'GUEST' } }, orderBy: { joinedAt: 'asc' }, take: 1, select: { user: true } } },
    resolve: (c) => c.members[0]?.user ?? null,
  }),
}));

builder.queryFields((t) => ({
  rooms: t.prismaConnection({
    type: RoomRef,
    cursor: 'id',
    description:
      'Rooms of a workspace that the viewer may read, most recently active first (legacy 000 room_list by product and organization; ' +
      `legacy 003 fetch_rooms with roomType CHATBOT and memberId the admin). At most ${MAX_LIST_SIZE} a page.`,
    maxSize: MAX_LIST_SIZE,
    defaultSize: 30,
    args: {
      workspaceId: t.arg.id({ description: 'The workspace.' }),
      roomType: t.arg({ type: RoomTypeEnum, required: false, description: 'Only rooms of this purpose.' }),
      productId: t.arg.id({ required: false, description: 'Only rooms about this product.' }),
      productSlug: t.arg.string({ required: false, description: 'Only rooms about the product with this slug.', validate: slug }),
      organizationId: t.arg.id({ required: false, description: 'Only rooms of this organization.' }),
      memberId: t.arg.id({ required: false, description: 'Only rooms this user is a member of (an admin’s chatbot rooms, say).' }),
    },
    resolve: (query, _root, args, ctx) => {
      const workspaceId = parseId(args.workspaceId, 'Workspace');
      if (!roleIn(ctx.viewer, workspaceId)) throw new NotFoundError('Workspace');
      const filters: Prisma.ConversationWhereInput = {
        workspaceId,
        kind: 'ROOM',
        ...(args.roomType ? { roomType: args.roomType } : {}),
        ...(args.productId != null ? { productId: parseId(args.productId, 'Product') } : {}),
        ...(args.productSlug != null ? { product: { slug: args.productSlug } } : {}),
        ...(args.organizationId != null ? { organizationId: parseId(args.organizationId, 'Organization') } : {}),
        ...(args.memberId != null ? { members: { some: { userId: parseId(args.memberId, 'User') } } } : {}),
      };
      return ctx.db.conversation.findMany({ ...query, where: { AND: [readableWhere(ctx.viewer), filters] }, orderBy: byActivity });
    },
  }),
}));

builder.queryFields((t) => ({
  roomByKey: t.prismaField({
    type: RoomRef,
    nullable: true,
    description: 'The room opened with this key by openRoom, or null while there is none (or the viewer may not read it).',
    args: {
      workspaceId: t.arg.id({ description: 'The workspace.' }),
      key: t.arg.string({ description: 'The key it was opened with.', validate: z.string().min(1, 'must not be empty').max(200, 'must be at most 200 characters') }),
    },
    resolve: (query, _root, args, ctx) => {
      const workspaceId = parseId(args.workspaceId, 'Workspace');
      if (!roleIn(ctx.viewer, workspaceId)) throw new NotFoundError('Workspace');
      return ctx.db.conversation.findFirst({
        ...query,
        where: { AND: [readableWhere(ctx.viewer), { workspaceId, uniqueKey: roomKey(args.key), kind: 'ROOM' }] },
      });
    },
  }),
}));

builder.mutationFields((t) => ({
  openSalesAgentRoom: t.prismaField({
    type: RoomRef,
    description:
      `Opens the visitor’s sales-agent room for a product, starting with "${SALES_AGENT_WELCOME}" on the staff side; opening it again ` +
      'returns the same room (legacy 000 create-room/sales-agent). Guests only. The workspace’s staff are told (inboxEvents).',
    errors: { types: [ValidationError, NotFoundError, ForbiddenError] },
    args: { input: t.arg({ type: OpenVisitorRoomInput, description: 'The room; each field is described on its type.' }) },
    resolve: async (query, _root, { input }, ctx) => {
      const workspaceId = parseId(input.workspaceId, 'Workspace');
      const visitor = requireVisitor(ctx, workspaceId, 'sales-agent rooms');
      const product = await productOf(ctx, workspaceId, input.productId, input.productSlug);
      const organizationId = (await organizationOf(ctx, workspaceId, input.organizationId)) ?? product?.organizationId ?? null;
      const { id, created } = await openUnique(
        ctx,
        {
          workspaceId,
          uniqueKey: `sales:${visitor}:${product?.id ?? 'none'}`,
          kind: 'ROOM',
          roomType: 'SALES_AGENT',
          name: product ? `Sales: ${product.name}` : 'Sales',
          productId: product?.id ?? null,
          organizationId,
          createdById: visitor,
          members: { create: { userId: visitor, role: 'OWNER' } },
        },
        async (roomId) => {
          await ctx.pipeline.append(ctx, { conversationId: roomId, authorId: null, kind: 'SYSTEM', side: 'RIGHT', body: SALES_AGENT_WELCOME });
        },
      );
      if (created) await announceOpened(ctx, id);
      return ctx.db.conversation.findUniqueOrThrow({ ...query, where: { id } });
    },
  }),
  openSupportRoom: t.prismaField({
    type: RoomRef,
    description:
      'Opens the visitor’s support room for a product and organization; opening it again returns the same room ' +
      '(legacy 000 customer-support). Guests only. The workspace’s staff are told (inboxEvents).',
    errors: { types: [ValidationError, NotFoundError, ForbiddenError] },
    args: { input: t.arg({ type: OpenVisitorRoomInput, description: 'The room; each field is described on its type.' }) },
    resolve: async (query, _root, { input }, ctx) => {
      const workspaceId = parseId(input.workspaceId, 'Workspace');
      const visitor = requireVisitor(ctx, workspaceId, 'support rooms');
      const product = await productOf(ctx, workspaceId, input.productId, input.productSlug);
      if (!product) throw new ValidationError([{ path: ['input', 'productId'], message: 'a support room is about a product: give productId or productSlug' }]);
      const organizationId = (await organizationOf(ctx, workspaceId, input.organizationId)) ?? product.organizationId;
      const { id, created } = await openUnique(ctx, {
        workspaceId,
        uniqueKey: `support:${visitor}:${product.id}:${organizationId ?? 'none'}`,
        kind: 'ROOM',
        roomType: 'SUPPORT',
        name: `Support: ${product.name}`,
        productId: product.id,
        organizationId,
        createdById: visitor,
        members: { create: { userId: visitor, role: 'OWNER' } },
      });
      if (created) await announceOpened(ctx, id);
      return ctx.db.conversation.findUniqueOrThrow({ ...query, where: { id } });
    },
  }),
  deleteRoom: t.field({
    type: DeletedRoomRef,
    description:
      'Deletes a room with its messages and members (legacy 000 delete-customer-support-room, sender-delete-room). Its subscribers get ' +
      'CONVERSATION_DELETED and its members CONVERSATION_REMOVED in their inbox. Staff of the workspace, or the visitor whose own ' +
      'sales-agent or support room it is.',
    errors: { types: [NotFoundError, ForbiddenError] },
    args: { id: t.arg.id({ description: 'The room.' }) },
    resolve: async (_root, args, ctx) => {
      const access = await loadAccess(ctx, args.id);
      const room = access.conversation;
      if (room.kind !== 'ROOM') throw new NotFoundError('Room', 'Room not found; threads and tickets are not deleted this way.');
      const ownVisitorRoom =
        ctx.viewer.kind === 'guest' &&
        access.member?.role === 'OWNER' &&
        (room.roomType === 'SALES_AGENT' || room.roomType === 'SUPPORT');
      if (!isStaff(ctx.viewer, room.workspaceId) && !ownVisitorRoom) {
        throw new ForbiddenError('Only staff of the workspace, or the visitor whose sales-agent or support room it is, may delete a room.');
      }
      const members = await ctx.db.conversationMember.findMany({ where: { conversationId: room.id }, select: { userId: true } });
      // Messages and members go with the room (ON DELETE CASCADE).
      const { count } = await ctx.db.conversation.deleteMany({ where: { id: room.id } });
      if (count === 0) throw new NotFoundError('Room');
      const at = new Date().toISOString();
      publishConversationEvent(ctx, { type: 'CONVERSATION_DELETED', conversationId: room.id, seq: room.lastSeq });
      await Promise.all(
        members.map((m) =>
          ctx.pubsub.publish('inbox', m.userId, { type: 'CONVERSATION_REMOVED', conversationId: room.id, lastSeq: room.lastSeq, unreadCount: 0, at }),
        ),
      );
      return { id: room.id };
    },
  }),
}));
