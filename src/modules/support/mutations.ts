/** Topics, line managers, tickets and claims: every legacy 002 write, usable with an API key. */
import { clientMessageId } from '../../graphql/validators.js';
import { z } from 'zod';
import { builder } from '../../graphql/builder.js';
import { actingAs, actingPerson, idArg, isAdmin, isStaff, standingOf } from '../../graphql/permissions.js';
import { ClaimHeldError, ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../graphql/errors.js';
import { parseId } from '../../graphql/ids.js';
import { actingUserId } from '../../auth/viewer.js';
import type { Context } from '../../graphql/context.js';
import { isUniqueViolation } from '../../db/errors.js';
import { APPEND_ERRORS, MAX_BODY_LENGTH } from '../conversations/pipeline.js';
import { loadAccess } from '../conversations/permissions.js';
import { MessageRef, MessageSideEnum } from '../conversations/types.js';
import { asSeenBy } from '../conversations/visibility.js';
import { recomputeUrgency } from './attention.js';
import { releaseClaim, takeClaim } from './claims.js';
import { closeTicketIn, drainQueue, openTicketIn, reopenTicketIn, runDesk, takeTicketIn, transferTicketIn, type Actor } from './desk.js';
import { publishTicketChange, ticketStateSelect } from './events.js';
import { adminWorkspace, memberWorkspace, ticketAccess } from './permissions.js';
import { productIn } from './queries.js';
import { ClaimRef, LineManagerRef, SupportTopicRef, TicketPriorityEnum, TicketRef } from './types.js';

const topicName = z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters');
const capacity = z.number().int('must be a whole number').min(0, 'must not be negative').max(1000, 'must be at most 1000');
const position = z.number().int('must be a whole number').min(0, 'must not be negative').max(1_000_000, 'must be at most 1000000');
const seconds = z.number().min(0, 'must not be negative').max(86_400 * 30, 'must be at most 30 days');
const body = z.string().max(MAX_BODY_LENGTH, `must be at most ${MAX_BODY_LENGTH} characters`);
const firstMessage = z.string().trim().min(1, 'must not be empty').max(MAX_BODY_LENGTH, `must be at most ${MAX_BODY_LENGTH} characters`);
const note = z.string().max(2000, 'must be at most 2000 characters');

/** The capacity a line manager gets when none is given. */
export const DEFAULT_CAPACITY = 10;

async function topicForChange(ctx: Context, raw: string | number) {
  const id = parseId(raw, 'SupportTopic');
  const topic = await ctx.db.supportTopic.findUnique({ where: { id }, select: { id: true, workspaceId: true } });
  if (!topic || !isStaff(ctx.viewer, topic.workspaceId)) throw new NotFoundError('SupportTopic');
  adminWorkspace(ctx, topic.workspaceId);
  return topic;
}

async function lineManagerIn(ctx: Context, workspaceId: string, raw: string | number) {
  const id = parseId(raw, 'LineManager');
  const lm = await ctx.db.lineManager.findFirst({ where: { id, workspaceId }, select: { id: true, userId: true } });
  if (!lm) throw new NotFoundError('LineManager');
  return lm;
}

function staffActor(ctx: Context, workspaceId: string, what: string): Actor {
  if (!isStaff(ctx.viewer, workspaceId)) throw new ForbiddenError(`Only line managers and admins may ${what}.`);
  return { userId: actingUserId(ctx.viewer), admin: isAdmin(ctx.viewer, workspaceId) };
}

/**
 * Who holds a claim: an admin or agent signed in as themself, or, for an API key (the legacy
 * shim, whose agents are named by id), the admin or agent of its workspace it names.
 */
async function claimant(ctx: Context, workspaceId: string, asUserId: string | number | null | undefined): Promise<string> {
  const { userId, named } = actingAs(
    ctx.viewer,
    asUserId,
    () => new ForbiddenError('Claims are held by people: an API key names the admin or agent with asUserId.'),
  );
  if (named) {
    const standing = await standingOf(ctx, workspaceId, userId);
    if (!standing) throw new NotFoundError('User');
    if (standing !== 'ADMIN' && standing !== 'AGENT') throw new ForbiddenError('Only admins and agents claim conversations.');
    return userId;
  }
  if (ctx.viewer.kind !== 'user') throw new ForbiddenError('Claims are held by people: claim with an agent’s own sign-in.');
  if (!isStaff(ctx.viewer, workspaceId)) throw new ForbiddenError('Only admins and agents claim conversations.');
  return userId;
}

function findTicket(ctx: Context, query: object, id: string) {
  return ctx.db.conversation.findUniqueOrThrow({ ...query, where: { id } });
}

const CreateTopicInput = builder.inputType('CreateSupportTopicInput', {
  description: 'A new ticket topic (legacy 002 create_topic).',
  fields: (t) => ({
    workspaceId: t.id({ description: 'The workspace (legacy workspace_id).' }),
    name: t.string({ description: 'Its name, unique in the workspace.', validate: topicName }),
  }),
});

const CreateLineManagerInput = builder.inputType('CreateLineManagerInput', {
  description: 'A new line manager (legacy 002 create_line_manager). Their ticket count is always derived, never given.',
  fields: (t) => ({
    workspaceId: t.id({ description: 'The workspace (legacy workspace_id).' }),
    userId: t.id({ description: 'An admin or agent of the workspace (legacy user_id).' }),
    positionInLine: t.int({ required: false, description: 'Tie-break order, lower first (legacy positions_in_a_line); after the last one when omitted.', validate: position }),
    capacity: t.int({ required: false, description: `Open tickets they may hold at once; ${DEFAULT_CAPACITY} when omitted.`, validate: capacity }),
    averageServingSeconds: t.float({
      required: false,
      description: 'A starting average serving time in seconds (legacy average_serving_time); counts as one served ticket.',
      validate: seconds,
    }),
  }),
});

const UpdateLineManagerInput = builder.inputType('UpdateLineManagerInput', {
  description: 'Changes to a line manager; omitted fields stay as they are.',
  fields: (t) => ({
    id: t.id({ description: 'The line manager.' }),
    positionInLine: t.int({ required: false, description: 'Tie-break order, lower first.', validate: position }),
    capacity: t.int({ required: false, description: 'Open tickets they may hold at once. Lowering it below their open tickets moves none away.', validate: capacity }),
    active: t.boolean({ required: false, description: 'Inactive line managers keep their tickets but get no new ones.' }),
  }),
});

const OpenTicketInput = builder.inputType('OpenTicketInput', {
  description: 'A new ticket (legacy 002 create_ticket). Name the product by id or by slug.',
  fields: (t) => ({
    workspaceId: t.id({ description: 'The workspace (legacy workspace_id).' }),
    productId: t.id({ required: false, description: 'The product it is about.' }),
    productSlug: t.string({ required: false, description: 'Or the product’s slug (legacy product).' }),
    topicId: t.id({ required: false, description: 'The topic it is filed under; not an archived one.' }),
    priority: t.field({ type: TicketPriorityEnum, required: false, defaultValue: 'NORMAL', description: 'How pressing it is.' }),
    message: t.string({ required: false, description: 'The customer’s first message.', validate: firstMessage }),
    asUserId: t.id({
      required: false,
      description: 'API keys only: the user or guest of the workspace the ticket is for (legacy user_id). Users and guests open tickets for themselves.',
    }),
  }),
});

const SendTicketMessageInput = builder.inputType('SendTicketMessageInput', {
  description: 'A message in a ticket (legacy 002 ticket_message_event).',
  fields: (t) => ({
    ticketId: t.id({ description: 'The ticket (legacy ticket_id).' }),
    body: t.string({ description: `The text, 1 to ${MAX_BODY_LENGTH} characters (legacy message_data).`, validate: body }),
    replyToId: t.id({ required: false, description: 'The message this answers, in the same ticket (legacy reply_to).' }),
    side: t.field({ type: MessageSideEnum, required: false, description: 'Which side it is shown on; LEFT for the customer, RIGHT for staff when omitted.' }),
    clientMessageId: t.string({ required: false, description: 'An idempotency key: sending again with it returns the first message.', validate: clientMessageId }),
    asUserId: t.id({
      required: false,
      description: 'API keys only: who writes (legacy user_id): the ticket’s customer, a member of it, or staff of the workspace.',
    }),
  }),
});

const CloseTicketInput = builder.inputType('CloseTicketInput', {
  description: 'Closing a ticket (legacy 002 close_ticket).',
  fields: (t) => ({
    ticketId: t.id({ description: 'The ticket (legacy ticket_id).' }),
    note: t.string({ required: false, description: 'Why, or how it was resolved; shown to the customer.', validate: note }),
    lineManagerId: t.id({
      required: false,
      description: 'The line manager the caller believes is assigned (legacy line_manager); refused if another is.',
    }),
  }),
});

const UpdateTicketInput = builder.inputType('UpdateTicketInput', {
  description: 'Changes to a ticket; omitted fields stay as they are.',
  fields: (t) => ({
    ticketId: t.id({ description: 'The ticket.' }),
    priority: t.field({ type: TicketPriorityEnum, required: false, description: 'Its new priority (urgency follows).' }),
    topicId: t.id({ required: false, description: 'Its new topic.' }),
  }),
});

builder.mutationFields((t) => ({
  createSupportTopic: t.withAuth((_root, args) => ({ workspaceMember: idArg(args, 'input.workspaceId') })).prismaField({
    type: SupportTopicRef,
    description: 'Creates a ticket topic (legacy 002 create_topic). Admins and API keys.',
    errors: { types: [ValidationError, NotFoundError, ConflictError] },
    args: { input: t.arg({ type: CreateTopicInput, description: 'The topic; each field is described on its type.' }) },
    resolve: async (query, _root, { input }, ctx) => {
      const workspaceId = adminWorkspace(ctx, input.workspaceId);
      try {
        return await ctx.db.supportTopic.create({ ...query, data: { workspaceId, name: input.name } });
      } catch (err) {
        if (isUniqueViolation(err)) throw new ConflictError('A topic with this name already exists here.', 'name');
        throw err;
      }
    },
  }),
  renameSupportTopic: t.prismaField({
    type: SupportTopicRef,
    description: 'Renames a ticket topic; its tickets keep it. Admins and API keys.',
    errors: { types: [ValidationError, NotFoundError, ConflictError] },
    args: {
      id: t.arg.id({ description: 'The topic.' }),
      name: t.arg.string({ description: 'Its new name, unique in the workspace.', validate: topicName }),
    },
    resolve: async (query, _root, args, ctx) => {
      const topic = await topicForChange(ctx, args.id);
      try {
        return await ctx.db.supportTopic.update({ ...query, where: { id: topic.id }, data: { name: args.name } });
      } catch (err) {
        if (isUniqueViolation(err)) throw new ConflictError('A topic with this name already exists here.', 'name');
        throw err;
      }
    },
  }),
  archiveSupportTopic: t.prismaField({
    type: SupportTopicRef,
    description: 'Archives a ticket topic (no new tickets under it; existing ones keep it), or restores it. Admins and API keys.',
    errors: { types: [NotFoundError] },
    args: {
      id: t.arg.id({ description: 'The topic.' }),
      archived: t.arg.boolean({ defaultValue: true, description: 'True to archive, false to restore.' }),
    },
    resolve: async (query, _root, args, ctx) => {
      const topic = await topicForChange(ctx, args.id);
      const current = await ctx.db.supportTopic.findUniqueOrThrow({ where: { id: topic.id }, select: { archivedAt: true } });
      const archivedAt = args.archived === false ? null : (current.archivedAt ?? new Date());
      return ctx.db.supportTopic.update({ ...query, where: { id: topic.id }, data: { archivedAt } });
    },
  }),
  createLineManager: t.withAuth((_root, args) => ({ workspaceMember: idArg(args, 'input.workspaceId') })).prismaField({
    type: LineManagerRef,
    description: 'Makes an admin or agent a line manager (legacy 002 create_line_manager); queued tickets flow to them at once. Admins and API keys.',
    errors: { types: [ValidationError, NotFoundError, ConflictError] },
    args: { input: t.arg({ type: CreateLineManagerInput, description: 'The line manager; each field is described on its type.' }) },
    resolve: async (query, _root, { input }, ctx) => {
      const workspaceId = adminWorkspace(ctx, input.workspaceId);
      const userId = parseId(input.userId, 'User');
      const standing = await standingOf(ctx, workspaceId, userId);
      if (!standing) throw new NotFoundError('User');
      if (standing !== 'ADMIN' && standing !== 'AGENT') {
        throw new ValidationError([{ path: ['input', 'userId'], message: 'must be an admin or agent of the workspace' }]);
      }
      let id: string;
      try {
        id = await runDesk(ctx, workspaceId, async (desk) => {
          const last = await desk.tx.lineManager.aggregate({ where: { workspaceId }, _max: { positionInLine: true } });
          const lm = await desk.tx.lineManager.create({
            data: {
              workspaceId,
              userId,
              positionInLine: input.positionInLine ?? (last._max.positionInLine ?? 0) + 1,
              capacity: input.capacity ?? DEFAULT_CAPACITY,
              seededServingSeconds: input.averageServingSeconds ?? null,
            },
            select: { id: true },
          });
          await drainQueue(desk);
          return lm.id;
        });
      } catch (err) {
        if (isUniqueViolation(err)) throw new ConflictError('This user is already a line manager here.', 'userId');
        throw err;
      }
      return ctx.db.lineManager.findUniqueOrThrow({ ...query, where: { id } });
    },
  }),
  updateLineManager: t.prismaField({
    type: LineManagerRef,
    description: 'Changes a line manager’s position in line, capacity or activity; more room takes queued tickets at once. Admins and API keys.',
    errors: { types: [ValidationError, NotFoundError] },
    args: { input: t.arg({ type: UpdateLineManagerInput, description: 'The changes; each field is described on its type.' }) },
    resolve: async (query, _root, { input }, ctx) => {
      const id = parseId(input.id, 'LineManager');
      const head = await ctx.db.lineManager.findUnique({ where: { id }, select: { workspaceId: true } });
      if (!head || !isStaff(ctx.viewer, head.workspaceId)) throw new NotFoundError('LineManager');
      adminWorkspace(ctx, head.workspaceId);
      await runDesk(ctx, head.workspaceId, async (desk) => {
        await desk.tx.lineManager.update({
          where: { id },
          data: {
            ...(input.positionInLine != null ? { positionInLine: input.positionInLine } : {}),
            ...(input.capacity != null ? { capacity: input.capacity } : {}),
            ...(input.active != null ? { active: input.active } : {}),
          },
        });
        // Capacity changes the estimates; more room takes queued tickets.
        desk.effects.positionsChanged = true;
        await drainQueue(desk);
      });
      return ctx.db.lineManager.findUniqueOrThrow({ ...query, where: { id } });
    },
  }),
  openTicket: t.prismaField({
    type: TicketRef,
    description:
      'Opens a ticket for a product (and topic) (legacy 002 create_ticket): queued, then given to the line manager with the fewest open tickets (ties by position in line) who has room. ' +
      'A user or guest opens it for themselves; an API key names the customer with asUserId.',
    errors: { types: [ValidationError, NotFoundError] },
    args: { input: t.arg({ type: OpenTicketInput, description: 'The ticket; each field is described on its type.' }) },
    resolve: async (query, _root, { input }, ctx) => {
      const workspaceId = memberWorkspace(ctx, input.workspaceId);
      const { userId: customerId } = await actingPerson(ctx, workspaceId, input.asUserId, ['input', 'asUserId']);
      const productId = await productIn(ctx, workspaceId, input.productId, input.productSlug);
      if (!productId) throw new ValidationError([{ path: ['input', 'productId'], message: 'name the product by productId or productSlug' }]);
      let topic: { id: string; name: string } | null = null;
      if (input.topicId) {
        const found = await ctx.db.supportTopic.findFirst({
          where: { id: parseId(input.topicId, 'SupportTopic'), workspaceId },
          select: { id: true, name: true, archivedAt: true },
        });
        if (!found) throw new NotFoundError('SupportTopic');
        if (found.archivedAt) throw new ValidationError([{ path: ['input', 'topicId'], message: 'this topic is archived and takes no new tickets' }]);
        topic = found;
      }
      const id = await runDesk(ctx, workspaceId, (desk) =>
        openTicketIn(desk, { customerId, productId, topicId: topic?.id ?? null, topicName: topic?.name ?? null, priority: input.priority ?? 'NORMAL' }),
      );
      if (input.message) await ctx.pipeline.append(ctx, { conversationId: id, authorId: customerId, body: input.message, side: 'LEFT' });
      return findTicket(ctx, query, id);
    },
  }),
  sendTicketMessage: t.field({
    type: MessageRef,
    description:
      'Sends a message in a ticket (legacy 002 ticket_message_event), through the same pipeline as sendMessage. An API key writes as asUserId. ' +
      'Refused while another agent holds a claim on the ticket (or on the message replied to), and on a closed ticket.',
    errors: { types: APPEND_ERRORS },
    args: { input: t.arg({ type: SendTicketMessageInput, description: 'The message; each field is described on its type.' }) },
    resolve: async (_root, { input }, ctx) => {
      const access = await ticketAccess(ctx, input.ticketId);
      const { conversation } = access;
      const { userId, standing } = await actingPerson(ctx, conversation.workspaceId, input.asUserId, ['input', 'asUserId']);
      const [member, ticket] = await Promise.all([
        ctx.db.conversationMember.findUnique({ where: { conversationId_userId: { conversationId: conversation.id, userId } }, select: { role: true } }),
        ctx.db.supportTicket.findUniqueOrThrow({ where: { conversationId: conversation.id }, select: { customerId: true } }),
      ]);
      const staff = standing === 'ADMIN' || standing === 'AGENT';
      if (ctx.viewer.kind === 'apiKey' && !member && !staff) {
        throw new ForbiddenError('That user is neither staff of the workspace nor part of this ticket.');
      }
      const { record } = await ctx.pipeline.append(ctx, {
        conversationId: conversation.id,
        authorId: userId,
        body: input.body,
        side: input.side ?? (userId === ticket.customerId ? 'LEFT' : 'RIGHT'),
        replyToId: input.replyToId ? parseId(input.replyToId, 'Message') : null,
        clientMessageId: input.clientMessageId ?? null,
        joinAuthor: !member,
      });
      return asSeenBy(ctx.viewer, conversation.workspaceId, record);
    },
  }),
  closeTicket: t.prismaField({
    type: TicketRef,
    description:
      'Closes a ticket with a note (legacy 002 close_ticket): by its line manager or an admin (API keys are admins). Frees the line manager, measures the serving time, ends claims, and gives the next queued ticket its turn.',
    errors: { types: [ValidationError, NotFoundError, ConflictError] },
    args: { input: t.arg({ type: CloseTicketInput, description: 'The ticket and note; each field is described on its type.' }) },
    resolve: async (query, _root, { input }, ctx) => {
      const { conversation } = await ticketAccess(ctx, input.ticketId);
      const actor = staffActor(ctx, conversation.workspaceId, 'close tickets');
      const expectLineManagerId = input.lineManagerId ? parseId(input.lineManagerId, 'LineManager') : null;
      await runDesk(ctx, conversation.workspaceId, (desk) =>
        closeTicketIn(desk, { ticketId: conversation.id, actor, note: input.note?.trim() || null, expectLineManagerId }),
      );
      return findTicket(ctx, query, conversation.id);
    },
  }),
  reopenTicket: t.prismaField({
    type: TicketRef,
    description: 'Reopens a closed ticket: it joins the back of the queue and is routed again. Its customer, staff and API keys.',
    errors: { types: [NotFoundError, ConflictError] },
    args: { id: t.arg.id({ description: 'The ticket.' }) },
    resolve: async (query, _root, args, ctx) => {
      const { conversation } = await ticketAccess(ctx, args.id);
      await runDesk(ctx, conversation.workspaceId, (desk) => reopenTicketIn(desk, conversation.id));
      return findTicket(ctx, query, conversation.id);
    },
  }),
  takeTicket: t.prismaField({
    type: TicketRef,
    description:
      'A line manager takes a queued ticket out of turn (within their capacity). Without lineManagerId, the viewer’s own line; admins and API keys may name any line manager.',
    errors: { types: [ValidationError, NotFoundError, ConflictError] },
    args: {
      id: t.arg.id({ description: 'The ticket.' }),
      lineManagerId: t.arg.id({ required: false, description: 'The line manager who takes it.' }),
    },
    resolve: async (query, _root, args, ctx) => {
      const { conversation } = await ticketAccess(ctx, args.id);
      const workspaceId = conversation.workspaceId;
      const actor = staffActor(ctx, workspaceId, 'take tickets');
      let lineManagerId: string;
      if (args.lineManagerId) {
        const lm = await lineManagerIn(ctx, workspaceId, args.lineManagerId);
        if (lm.userId !== actor.userId && !actor.admin) throw new ForbiddenError('Only admins may hand a ticket to someone else; use transferTicket.');
        lineManagerId = lm.id;
      } else {
        if (!actor.userId) throw new ValidationError([{ path: ['lineManagerId'], message: 'an API key names the line manager who takes it' }]);
        const mine = await ctx.db.lineManager.findUnique({ where: { workspaceId_userId: { workspaceId, userId: actor.userId } }, select: { id: true } });
        if (!mine) throw new ForbiddenError('You are not a line manager here; an admin can make you one with createLineManager.');
        lineManagerId = mine.id;
      }
      await runDesk(ctx, workspaceId, (desk) => takeTicketIn(desk, conversation.id, lineManagerId));
      return findTicket(ctx, query, conversation.id);
    },
  }),
  transferTicket: t.prismaField({
    type: TicketRef,
    description: 'Moves an open ticket to another line manager with room. Its line manager, admins and API keys.',
    errors: { types: [ValidationError, NotFoundError, ConflictError] },
    args: {
      id: t.arg.id({ description: 'The ticket.' }),
      lineManagerId: t.arg.id({ description: 'The line manager who gets it.' }),
    },
    resolve: async (query, _root, args, ctx) => {
      const { conversation } = await ticketAccess(ctx, args.id);
      const actor = staffActor(ctx, conversation.workspaceId, 'transfer tickets');
      const target = await lineManagerIn(ctx, conversation.workspaceId, args.lineManagerId);
      await runDesk(ctx, conversation.workspaceId, (desk) => transferTicketIn(desk, { ticketId: conversation.id, lineManagerId: target.id, actor }));
      return findTicket(ctx, query, conversation.id);
    },
  }),
  updateTicket: t.prismaField({
    type: TicketRef,
    description: 'Changes a ticket’s priority (its urgency follows at once) or topic. Staff and API keys.',
    errors: { types: [ValidationError, NotFoundError] },
    args: { input: t.arg({ type: UpdateTicketInput, description: 'The changes; each field is described on its type.' }) },
    resolve: async (query, _root, { input }, ctx) => {
      const { conversation } = await ticketAccess(ctx, input.ticketId);
      staffActor(ctx, conversation.workspaceId, 'change tickets');
      let topicId: string | undefined;
      if (input.topicId) {
        const topic = await ctx.db.supportTopic.findFirst({ where: { id: parseId(input.topicId, 'SupportTopic'), workspaceId: conversation.workspaceId }, select: { id: true } });
        if (!topic) throw new NotFoundError('SupportTopic');
        topicId = topic.id;
      }
      const before = await ctx.db.supportTicket.findUniqueOrThrow({ where: { conversationId: conversation.id }, select: { priority: true } });
      const priorityChanged = input.priority != null && input.priority !== before.priority;
      const updated = await ctx.db.supportTicket.update({
        where: { conversationId: conversation.id },
        data: {
          ...(topicId ? { topicId } : {}),
          ...(priorityChanged ? { priority: input.priority!, version: { increment: 1 } } : {}),
        },
        select: ticketStateSelect,
      });
      if (priorityChanged) {
        await publishTicketChange(ctx, 'PRIORITY_CHANGED', updated);
        if (updated.status !== 'CLOSED') await recomputeUrgency(ctx, conversation.id, conversation.workspaceId, updated.priority);
      }
      return findTicket(ctx, query, conversation.id);
    },
  }),
  claimConversation: t.field({
    type: ClaimRef,
    description:
      'Claims a conversation (or one message of it) to work on it, exclusively, for SUPPORT_CLAIM_LEASE_SECONDS; claiming again renews the lease. ' +
      'While held, other agents’ claims and replies are refused naming the holder. Ends on releaseClaim, when a ticket closes, or when the holder’s last connection closes. Admins and agents (an API key names one with asUserId).',
    errors: { types: [ClaimHeldError, NotFoundError, ConflictError] },
    args: {
      conversationId: t.arg.id({ description: 'The conversation or ticket.' }),
      messageId: t.arg.id({ required: false, description: 'One message of it, to claim just that message.' }),
      asUserId: t.arg.id({
        required: false,
        description: 'For API keys (server integrations such as the legacy shim): the admin or agent of the workspace who holds the claim.',
      }),
    },
    resolve: async (_root, args, ctx) => {
      const access = await loadAccess(ctx, args.conversationId);
      const { conversation } = access;
      const holderId = await claimant(ctx, conversation.workspaceId, args.asUserId);
      const messageId = args.messageId ? parseId(args.messageId, 'Message') : null;
      if (messageId && !(await ctx.db.message.count({ where: { id: messageId, conversationId: conversation.id } }))) {
        throw new NotFoundError('Message');
      }
      if (conversation.kind === 'TICKET') {
        const ticket = await ctx.db.supportTicket.findUnique({ where: { conversationId: conversation.id }, select: { status: true } });
        if (ticket?.status === 'CLOSED') throw new ConflictError('This ticket is closed; there is nothing to claim.');
      }
      const { claim } = await takeClaim(ctx, {
        conversationId: conversation.id,
        workspaceId: conversation.workspaceId,
        messageId,
        holderId,
        leaseMs: ctx.config.SUPPORT_CLAIM_LEASE_SECONDS * 1000,
      });
      return claim;
    },
  }),
  releaseClaim: t.field({
    type: ClaimRef,
    description: 'Releases a claim on a conversation (or message): its holder, or an admin.',
    errors: { types: [NotFoundError] },
    args: {
      conversationId: t.arg.id({ description: 'The conversation or ticket.' }),
      messageId: t.arg.id({ required: false, description: 'The message, for a message claim.' }),
      asUserId: t.arg.id({
        required: false,
        description: 'For API keys: release as this admin or agent (only their own claim); without it an API key releases any claim.',
      }),
    },
    resolve: async (_root, args, ctx) => {
      const { conversation } = await loadAccess(ctx, args.conversationId);
      const messageId = args.messageId ? parseId(args.messageId, 'Message') : null;
      if (ctx.viewer.kind === 'apiKey' && args.asUserId != null) {
        const by = await claimant(ctx, conversation.workspaceId, args.asUserId);
        return releaseClaim(ctx, { conversationId: conversation.id, messageId, by, force: false });
      }
      if (!isStaff(ctx.viewer, conversation.workspaceId)) throw new ForbiddenError('Only admins and agents hold claims.');
      return releaseClaim(ctx, {
        conversationId: conversation.id,
        messageId,
        by: actingUserId(ctx.viewer),
        force: isAdmin(ctx.viewer, conversation.workspaceId),
      });
    },
  }),
}));
