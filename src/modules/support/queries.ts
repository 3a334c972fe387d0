import type { Prisma } from '../../generated/prisma/client.js';
import { builder } from '../../graphql/builder.js';
import { NotFoundError } from '../../graphql/errors.js';
import { parseId } from '../../graphql/ids.js';
import { actingUserId } from '../../auth/viewer.js';
import type { Context } from '../../graphql/context.js';
import { memberWorkspace, staffWorkspace, ticketAccess } from './permissions.js';
import {
  LineManagerRef,
  SupportQueueEntryRef,
  SupportTopicRef,
  TicketRef,
  TicketStatusEnum,
  type QueueEntry,
} from './types.js';
import { compareUrgency, computeUrgency } from './urgency.js';
import { isStaff } from '../../graphql/permissions.js';

const NO_USER = '00000000-0000-0000-0000-000000000000';

/** A product of the workspace by id or by slug (legacy clients name products); NOT_FOUND otherwise. */
export async function productIn(
  ctx: Context,
  workspaceId: string,
  productId: string | number | null | undefined,
  productSlug: string | null | undefined,
): Promise<string | null> {
  if (productId !== null && productId !== undefined) {
    const id = parseId(productId, 'Product');
    const found = await ctx.db.product.findFirst({ where: { id, workspaceId }, select: { id: true } });
    if (!found) throw new NotFoundError('Product');
    return found.id;
  }
  if (productSlug !== null && productSlug !== undefined) {
    const found = await ctx.db.product.findUnique({ where: { workspaceId_slug: { workspaceId, slug: productSlug } }, select: { id: true } });
    if (!found) throw new NotFoundError('Product', `No product "${productSlug}" in this workspace.`);
    return found.id;
  }
  return null;
}

builder.queryFields((t) => ({
  supportTopics: t.prismaField({
    type: [SupportTopicRef],
    description: 'A workspace’s ticket topics by name (legacy 002 get_all_topics). Anyone in the workspace; archived ones for staff only.',
    args: {
      workspaceId: t.arg.id({ description: 'The workspace.' }),
      includeArchived: t.arg.boolean({ defaultValue: false, description: 'Include archived topics (staff only).' }),
    },
    resolve: (query, _root, args, ctx) => {
      const workspaceId = memberWorkspace(ctx, args.workspaceId);
      const archived = Boolean(args.includeArchived) && isStaff(ctx.viewer, workspaceId);
      return ctx.db.supportTopic.findMany({
        ...query,
        where: { workspaceId, ...(archived ? {} : { archivedAt: null }) },
        orderBy: { name: 'asc' },
      });
    },
  }),
  lineManagers: t.prismaField({
    type: [LineManagerRef],
    description: 'A workspace’s line managers in line order (legacy 002 get_all_line_managers). Staff and API keys.',
    args: {
      workspaceId: t.arg.id({ description: 'The workspace.' }),
      includeInactive: t.arg.boolean({ defaultValue: true, description: 'Include inactive line managers.' }),
    },
    resolve: (query, _root, args, ctx) => {
      const workspaceId = staffWorkspace(ctx, args.workspaceId);
      return ctx.db.lineManager.findMany({
        ...query,
        where: { workspaceId, ...(args.includeInactive === false ? { active: true } : {}) },
        orderBy: [{ positionInLine: 'asc' }, { createdAt: 'asc' }, { id: 'asc' }],
      });
    },
  }),
  lineManager: t.prismaField({
    type: LineManagerRef,
    description: 'One line manager. Staff and API keys of its workspace; NOT_FOUND otherwise.',
    args: { id: t.arg.id({ description: 'The line manager’s id.' }) },
    resolve: async (query, _root, args, ctx) => {
      const id = parseId(args.id, 'LineManager');
      const head = await ctx.db.lineManager.findUnique({ where: { id }, select: { workspaceId: true } });
      if (!head || !isStaff(ctx.viewer, head.workspaceId)) throw new NotFoundError('LineManager');
      return ctx.db.lineManager.findUniqueOrThrow({ ...query, where: { id } });
    },
  }),
  ticket: t.prismaField({
    type: TicketRef,
    description: 'A ticket: its customer, staff and API keys of its workspace may read it; NOT_FOUND otherwise. Its `messages` are legacy 002 get_ticket_messages.',
    args: { id: t.arg.id({ description: 'The ticket’s id.' }) },
    resolve: async (query, _root, args, ctx) => {
      const access = await ticketAccess(ctx, args.id);
      return ctx.db.conversation.findUniqueOrThrow({ ...query, where: { id: access.conversation.id } });
    },
  }),
  tickets: t.prismaConnection({
    type: TicketRef,
    cursor: 'id',
    description: 'A workspace’s tickets, newest first, optionally of one product (legacy 002 get_tickets) or status. Staff and API keys.',
    maxSize: 100,
    defaultSize: 50,
    args: {
      workspaceId: t.arg.id({ description: 'The workspace.' }),
      productId: t.arg.id({ required: false, description: 'Only tickets about this product.' }),
      productSlug: t.arg.string({ required: false, description: 'Only tickets about the product with this slug (legacy product).' }),
      status: t.arg({ type: TicketStatusEnum, required: false, description: 'Only tickets in this status.' }),
      lineManagerId: t.arg.id({ required: false, description: 'Only tickets of this line manager.' }),
    },
    resolve: async (query, _root, args, ctx) => {
      const workspaceId = staffWorkspace(ctx, args.workspaceId);
      const productId = await productIn(ctx, workspaceId, args.productId, args.productSlug);
      const ticket: Prisma.SupportTicketWhereInput = {
        ...(args.status ? { status: args.status } : {}),
        ...(args.lineManagerId ? { lineManagerId: parseId(args.lineManagerId, 'LineManager') } : {}),
      };
      return ctx.db.conversation.findMany({
        ...query,
        where: { workspaceId, kind: 'TICKET', ...(productId ? { productId } : {}), ticket: { is: ticket } },
        orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
      });
    },
  }),
  myTickets: t.prismaConnection({
    type: TicketRef,
    cursor: 'id',
    description: 'The tickets opened for the viewer (a user or guest), newest first.',
    maxSize: 100,
    defaultSize: 30,
    args: { workspaceId: t.arg.id({ required: false, description: 'Only tickets of this workspace.' }) },
    resolve: (query, _root, args, ctx) =>
      ctx.db.conversation.findMany({
        ...query,
        where: {
          kind: 'TICKET',
          ...(args.workspaceId ? { workspaceId: parseId(args.workspaceId, 'Workspace') } : {}),
          ticket: { is: { customerId: actingUserId(ctx.viewer) ?? NO_USER } },
        },
        orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
      }),
  }),
  supportQueue: t.field({
    type: [SupportQueueEntryRef],
    description:
      'An agent’s queue, most urgent first (then longest waiting, then first come): open tickets, and other conversations whose customer awaits an answer. ' +
      '`mine` (the default) keeps the viewer’s own tickets and the unassigned ones; API keys see everything. Staff and API keys.',
    args: {
      workspaceId: t.arg.id({ description: 'The workspace.' }),
      mine: t.arg.boolean({ defaultValue: true, description: 'Only tickets assigned to the viewer or to no one (and conversations awaiting an answer).' }),
      first: t.arg.int({ defaultValue: 50, description: 'At most this many entries (1 to 200).' }),
    },
    resolve: async (_root, args, ctx) => {
      const workspaceId = staffWorkspace(ctx, args.workspaceId);
      const me = actingUserId(ctx.viewer);
      const limit = Math.min(200, Math.max(1, args.first ?? 50));
      const mine = args.mine !== false && me !== null;
      const myLineManager = mine
        ? await ctx.db.lineManager.findUnique({ where: { workspaceId_userId: { workspaceId, userId: me } }, select: { id: true } })
        : null;
      const [tickets, others] = await Promise.all([
        ctx.db.supportTicket.findMany({
          where: {
            workspaceId,
            status: { not: 'CLOSED' },
            ...(mine ? { OR: [{ status: 'OPEN' }, ...(myLineManager ? [{ lineManagerId: myLineManager.id }] : [])] } : {}),
          },
          select: {
            conversationId: true,
            status: true,
            priority: true,
            queueNumber: true,
            conversation: { select: { attention: { select: { awaitingSince: true, keywords: true } } } },
          },
        }),
        ctx.db.conversationAttention.findMany({
          where: { workspaceId, awaitingSince: { not: null }, conversation: { kind: { not: 'TICKET' }, direct: false } },
          select: { conversationId: true, awaitingSince: true, keywords: true },
        }),
      ]);
      const now = new Date();
      const entries: Array<QueueEntry & { queueNumber: number }> = [
        ...tickets.map((tk) => ({
          conversationId: tk.conversationId,
          status: tk.status,
          queueNumber: tk.queueNumber,
          urgency: computeUrgency(
            {
              priority: tk.priority,
              awaitingSince: tk.conversation.attention?.awaitingSince ?? null,
              keywords: tk.conversation.attention?.keywords ?? [],
            },
            now,
          ),
        })),
        ...others.map((o) => ({
          conversationId: o.conversationId,
          status: null,
          queueNumber: Number.MAX_SAFE_INTEGER,
          urgency: computeUrgency({ priority: 'NORMAL', awaitingSince: o.awaitingSince, keywords: o.keywords }, now),
        })),
      ];
      return entries.sort(compareUrgency).slice(0, limit);
    },
  }),
}));
