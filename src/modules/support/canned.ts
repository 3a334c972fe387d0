/**
 * Canned replies: saved answers staff insert by a short code. A workspace's replies are shared by
 * its staff (admins and API keys manage them); an agent's private replies are theirs alone (no
 * one else, admins included, lists, reads or sends them: another's id answers NOT_FOUND).
 * Variables are filled when a reply is used: {{customer.name}}, {{agent.name}}, {{ticket.id}}.
 * Sending one (`sendCannedReply`) is an ordinary message through the one pipeline: same guards
 * (claims, closed tickets), same events, same idempotency.
 */
import { clientMessageId } from '../../graphql/validators.js';
import { z } from 'zod';
import type { Prisma } from '../../generated/prisma/client.js';
import { builder } from '../../graphql/builder.js';
import { idArg, isAdmin, isStaff } from '../../graphql/permissions.js';
import type { Context } from '../../graphql/context.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../graphql/errors.js';
import { parseId } from '../../graphql/ids.js';
import { actingUserId } from '../../auth/viewer.js';
import { isUniqueViolation } from '../../db/errors.js';
import { APPEND_ERRORS, MAX_BODY_LENGTH } from '../conversations/pipeline.js';
import { actingAuthor, loadAccess } from '../conversations/permissions.js';
import { MessageRef, MessageVisibilityEnum } from '../conversations/types.js';
import { asSeenBy, seesNotes } from '../conversations/visibility.js';
import { UserRef } from '../users/types.js';

/** The variables a canned reply may use. */
export const CANNED_VARIABLES = ['customer.name', 'agent.name', 'ticket.id'] as const;
type Variable = (typeof CANNED_VARIABLES)[number];
const VARIABLE = /\{\{\s*([a-zA-Z0-9_.]+)\s*\}\}/g;
const MAX_LISTED = 100;
const WORKSPACE_SCOPE = 'workspace';

const shortCode = z
  .string()
  .trim()
  .transform((s) => s.replace(/^\//, '').toLowerCase())
  .pipe(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'must be 1 to 40 letters, digits, - or _ (a leading / is dropped)'));
const title = z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters');
const replyBody = z
  .string()
  .trim()
  .min(1, 'must not be empty')
  .max(MAX_BODY_LENGTH, `must be at most ${MAX_BODY_LENGTH} characters`)
  .refine((text) => [...text.matchAll(VARIABLE)].every((m) => (CANNED_VARIABLES as readonly string[]).includes(m[1]!)), {
    message: `may use only the variables ${CANNED_VARIABLES.map((v) => `{{${v}}}`).join(', ')}`,
  });

/** The replies a viewer may use in a workspace: the workspace's, and their own private ones. */
function usableBy(ctx: Context, workspaceId: string): Prisma.CannedReplyWhereInput {
  const me = actingUserId(ctx.viewer);
  return { workspaceId, OR: [{ ownerId: null }, ...(me ? [{ ownerId: me }] : [])] };
}

/** A reply the viewer may use (NOT_FOUND for anyone else's private one, or another workspace's). */
async function usableReply(ctx: Context, raw: string | number) {
  const id = parseId(raw, 'CannedReply');
  const reply = await ctx.db.cannedReply.findUnique({ where: { id } });
  if (!reply || !isStaff(ctx.viewer, reply.workspaceId)) throw new NotFoundError('CannedReply');
  if (reply.ownerId !== null && reply.ownerId !== actingUserId(ctx.viewer)) throw new NotFoundError('CannedReply');
  return reply;
}

/** A reply the viewer may change: their own private one, or a workspace one as an admin or API key. */
async function changeableReply(ctx: Context, raw: string | number) {
  const reply = await usableReply(ctx, raw);
  if (reply.ownerId === null && !isAdmin(ctx.viewer, reply.workspaceId)) {
    throw new ForbiddenError('Only admins and API keys change the workspace’s canned replies; agents keep private ones.');
  }
  return reply;
}

/** The values of the variables for a conversation and the agent using the reply. */
async function variablesFor(ctx: Context, conversationId: string, agentId: string | null): Promise<Record<Variable, string | null>> {
  const [conversation, agent] = await Promise.all([
    ctx.db.conversation.findUniqueOrThrow({
      where: { id: conversationId },
      select: {
        kind: true,
        workspaceId: true,
        ticket: { select: { customer: { select: { displayName: true } } } },
        members: { select: { user: { select: { displayName: true, kind: true, memberships: { select: { workspaceId: true, role: true } } } } }, orderBy: { joinedAt: 'asc' } },
      },
    }),
    agentId ? ctx.db.user.findUnique({ where: { id: agentId }, select: { displayName: true } }) : null,
  ]);
  // Outside tickets, the customer is the first member who is not staff of the workspace.
  const customer =
    conversation.ticket?.customer.displayName ??
    conversation.members.find(
      (m) => m.user.kind === 'GUEST' || !m.user.memberships.some((x) => x.workspaceId === conversation.workspaceId && x.role !== 'CLIENT'),
    )?.user.displayName ??
    null;
  return {
    'customer.name': customer,
    'agent.name': agent?.displayName ?? null,
    'ticket.id': conversation.kind === 'TICKET' ? conversationId : null,
  };
}

/** Fills a reply's variables; a variable with no value here is refused, naming it. */
export function fill(text: string, values: Record<Variable, string | null>): string {
  return text.replace(VARIABLE, (_whole, name: string) => {
    const value = values[name as Variable];
    if (value == null) {
      throw new ValidationError([{ path: ['input', 'conversationId'], message: `{{${name}}} has no value in this conversation` }]);
    }
    return value;
  });
}

type CannedReplyRow = Prisma.CannedReplyGetPayload<object>;

export const CannedReplyRef = builder.prismaObject('CannedReply', {
  description:
    'A saved reply staff insert by its short code: the workspace’s (shared by its staff) or an agent’s private one (theirs alone). ' +
    '{{customer.name}}, {{agent.name}} and {{ticket.id}} in its body are filled when it is used.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Its id.' }),
    workspaceId: t.exposeID('workspaceId', { description: 'The workspace it belongs to.' }),
    shortCode: t.exposeString('shortCode', { description: 'What staff type to find it (lower-case, unique within the workspace’s or the owner’s replies).' }),
    title: t.exposeString('title', { description: 'A short title shown in the picker.' }),
    body: t.exposeString('body', { description: 'The text with its variables unfilled.' }),
    private: t.boolean({ description: 'Whether it is an agent’s own (true) or the workspace’s (false).', resolve: (r) => r.ownerId !== null }),
    owner: t.relation('owner', { nullable: true, type: UserRef, description: 'The agent it is private to; null for the workspace’s.' }),
    filledFor: t.string({
      description: 'Its body with the variables filled for a conversation and the viewer as the agent (a preview; `sendCannedReply` sends it).',
      args: { conversationId: t.arg.id({ description: 'The conversation it would be sent in.' }) },
      resolve: async (reply, args, ctx) => {
        const access = await loadAccess(ctx, args.conversationId);
        if (access.conversation.workspaceId !== reply.workspaceId) throw new NotFoundError('Conversation');
        return fill(reply.body, await variablesFor(ctx, access.conversation.id, actingUserId(ctx.viewer)));
      },
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was saved.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When it last changed.' }),
  }),
});

const CreateCannedReplyInput = builder.inputType('CreateCannedReplyInput', {
  description: 'A canned reply to save.',
  fields: (t) => ({
    workspaceId: t.id({ description: 'The workspace.' }),
    shortCode: t.string({ description: 'Its short code: 1 to 40 letters, digits, - or _ (lower-cased; a leading / is dropped).', validate: shortCode }),
    title: t.string({ description: 'A short title, 1 to 100 characters.', validate: title }),
    body: t.string({
      description: `The text, 1 to ${MAX_BODY_LENGTH} characters; it may use ${CANNED_VARIABLES.map((v) => `{{${v}}}`).join(', ')}.`,
      validate: replyBody,
    }),
    private: t.boolean({
      required: false,
      defaultValue: false,
      description: 'True: private to the viewer (any staff member). False (default): the workspace’s, for admins and API keys to save.',
    }),
  }),
});

const UpdateCannedReplyInput = builder.inputType('UpdateCannedReplyInput', {
  description: 'Changes to a canned reply; omitted fields stay as they are.',
  fields: (t) => ({
    id: t.id({ description: 'The reply.' }),
    shortCode: t.string({ required: false, description: 'A new short code.', validate: shortCode }),
    title: t.string({ required: false, description: 'A new title.', validate: title }),
    body: t.string({ required: false, description: 'A new text.', validate: replyBody }),
  }),
});

const SendCannedReplyInput = builder.inputType('SendCannedReplyInput', {
  description: 'A canned reply to send as a message, its variables filled.',
  fields: (t) => ({
    conversationId: t.id({ description: 'The conversation (a ticket or any conversation the sender may write in).' }),
    cannedReplyId: t.id({ required: false, description: 'The reply, by id.' }),
    shortCode: t.string({ required: false, description: 'Or by short code: the viewer’s private reply wins over the workspace’s.', validate: shortCode }),
    visibility: t.field({ type: MessageVisibilityEnum, required: false, defaultValue: 'PUBLIC', description: 'PUBLIC (default), or INTERNAL to send it as a note.' }),
    clientMessageId: t.string({ required: false, description: 'An idempotency key, as for sendMessage.', validate: clientMessageId }),
    asUserId: t.id({ required: false, description: 'For API keys: the staff member it is sent as (and whose name fills {{agent.name}}).' }),
  }),
});

const conflict = () => new ConflictError('A canned reply with this short code already exists there.', 'shortCode');

builder.queryFields((t) => ({
  cannedReplies: t.prismaField({
    type: [CannedReplyRef],
    description:
      `The canned replies the viewer may use in a workspace: its own and the viewer’s private ones, by short code (at most ${MAX_LISTED}). ` +
      'With `search`, those whose short code starts with it or whose title or body contains it (any case), exact short code first. Staff and API keys.',
    args: {
      workspaceId: t.arg.id({ description: 'The workspace.' }),
      search: t.arg.string({ required: false, description: 'Text to look for, up to 100 characters.', validate: z.string().trim().max(100, 'must be at most 100 characters') }),
    },
    resolve: async (query, _root, args, ctx) => {
      const workspaceId = parseId(args.workspaceId, 'Workspace');
      if (!isStaff(ctx.viewer, workspaceId)) throw new NotFoundError('Workspace');
      const search = args.search?.trim() ?? '';
      const code = search.replace(/^\//, '').toLowerCase();
      const rows: CannedReplyRow[] = await ctx.db.cannedReply.findMany({
        ...query,
        where: {
          AND: [
            usableBy(ctx, workspaceId),
            search
              ? {
                  OR: [
                    { shortCode: { startsWith: code } },
                    { title: { contains: search, mode: 'insensitive' } },
                    { body: { contains: search, mode: 'insensitive' } },
                  ],
                }
              : {},
          ],
        },
        orderBy: [{ shortCode: 'asc' }, { ownerId: { sort: 'asc', nulls: 'last' } }],
        take: MAX_LISTED,
      });
      return search ? [...rows.filter((r) => r.shortCode === code), ...rows.filter((r) => r.shortCode !== code)] : rows;
    },
  }),
}));

builder.mutationFields((t) => ({
  createCannedReply: t.withAuth((_root, args) => ({ workspaceStaff: idArg(args, 'input.workspaceId') })).prismaField({
    type: CannedReplyRef,
    description: 'Saves a canned reply: private to the viewer (any staff member), or the workspace’s (admins and API keys).',
    errors: { types: [ValidationError, NotFoundError, ForbiddenError, ConflictError] },
    args: { input: t.arg({ type: CreateCannedReplyInput, description: 'The reply; each field is described on its type.' }) },
    resolve: async (query, _root, { input }, ctx) => {
      const workspaceId = parseId(input.workspaceId, 'Workspace');
      const me = actingUserId(ctx.viewer);
      if (input.private && !me) throw new ForbiddenError('An API key has no private replies; save a workspace reply.');
      if (!input.private && !isAdmin(ctx.viewer, workspaceId)) {
        throw new ForbiddenError('Only admins and API keys save the workspace’s canned replies; save a private one (private: true).');
      }
      const ownerId = input.private ? me : null;
      try {
        return await ctx.db.cannedReply.create({
          ...query,
          data: {
            workspaceId,
            ownerId,
            scopeKey: ownerId ?? WORKSPACE_SCOPE,
            shortCode: input.shortCode,
            title: input.title,
            body: input.body,
            createdById: me,
          },
        });
      } catch (err) {
        if (isUniqueViolation(err)) throw conflict();
        throw err;
      }
    },
  }),
  updateCannedReply: t.prismaField({
    type: CannedReplyRef,
    description: 'Changes a canned reply: one’s own private one, or the workspace’s as an admin or API key.',
    errors: { types: [ValidationError, NotFoundError, ForbiddenError, ConflictError] },
    args: { input: t.arg({ type: UpdateCannedReplyInput, description: 'The changes; each field is described on its type.' }) },
    resolve: async (query, _root, { input }, ctx) => {
      const reply = await changeableReply(ctx, input.id);
      try {
        return await ctx.db.cannedReply.update({
          ...query,
          where: { id: reply.id },
          data: {
            ...(input.shortCode != null ? { shortCode: input.shortCode } : {}),
            ...(input.title != null ? { title: input.title } : {}),
            ...(input.body != null ? { body: input.body } : {}),
          },
        });
      } catch (err) {
        if (isUniqueViolation(err)) throw conflict();
        throw err;
      }
    },
  }),
  deleteCannedReply: t.prismaField({
    type: CannedReplyRef,
    description: 'Deletes a canned reply (answers it as it was): one’s own private one, or the workspace’s as an admin or API key.',
    errors: { types: [NotFoundError, ForbiddenError] },
    args: { id: t.arg.id({ description: 'The reply.' }) },
    resolve: async (query, _root, args, ctx) => {
      const reply = await changeableReply(ctx, args.id);
      return ctx.db.cannedReply.delete({ ...query, where: { id: reply.id } });
    },
  }),
  sendCannedReply: t.field({
    type: MessageRef,
    description:
      'Sends a canned reply in a conversation with its variables filled (for the conversation’s customer and the sender as the agent): an ' +
      'ordinary message, through the same pipeline, guards and events as sendMessage. Refused (BAD_USER_INPUT) when a variable has no value there.',
    errors: { types: [...APPEND_ERRORS, ForbiddenError] },
    args: { input: t.arg({ type: SendCannedReplyInput, description: 'What to send; each field is described on its type.' }) },
    resolve: async (_root, { input }, ctx) => {
      const access = await loadAccess(ctx, input.conversationId);
      const { workspaceId } = access.conversation;
      const { userId, member, staff } = await actingAuthor(ctx, access, input.asUserId);
      if (!staff) throw new ForbiddenError('Canned replies are for staff of the workspace.');
      let reply;
      if (input.cannedReplyId != null) {
        reply = await usableReply(ctx, input.cannedReplyId);
        if (reply.workspaceId !== workspaceId) throw new NotFoundError('CannedReply');
      } else if (input.shortCode != null) {
        const found = await ctx.db.cannedReply.findMany({
          where: { ...usableBy(ctx, workspaceId), shortCode: input.shortCode },
          orderBy: { ownerId: { sort: 'asc', nulls: 'last' } },
          take: 1,
        });
        reply = found[0];
        if (!reply) throw new NotFoundError('CannedReply');
      } else {
        throw new ValidationError([{ path: ['input', 'cannedReplyId'], message: 'name the reply by cannedReplyId or shortCode' }]);
      }
      const visibility = input.visibility ?? 'PUBLIC';
      if (visibility === 'INTERNAL' && (!seesNotes(ctx.viewer, workspaceId) || access.conversation.direct)) {
        throw new ForbiddenError('Internal notes are for staff, in conversations with a customer side.');
      }
      const body = fill(reply.body, await variablesFor(ctx, access.conversation.id, userId));
      const { record } = await ctx.pipeline.append(ctx, {
        conversationId: access.conversation.id,
        authorId: userId,
        body,
        side: 'RIGHT',
        visibility,
        clientMessageId: input.clientMessageId ?? null,
        joinAuthor: !member,
      });
      return asSeenBy(ctx.viewer, workspaceId, record);
    },
  }),
}));
