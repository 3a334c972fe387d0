/**
 * The website chatbot of legacy 003: each admin's settings (GET/POST /chatbot/api), and one room
 * per (admin, visitor) that the visitor opens and that starts with the admin's greeting.
 */
import { z } from 'zod';
import { builder } from '../../graphql/builder.js';
import { idArg, requirePerson } from '../../graphql/permissions.js';
import type { Context } from '../../graphql/context.js';
import { ForbiddenError, NotFoundError, ValidationError } from '../../graphql/errors.js';
import { parseId } from '../../graphql/ids.js';
import { roleIn } from '../../auth/viewer.js';
import { WidgetPosition } from '../../generated/prisma/enums.js';
import { announceOpened } from './membership.js';
import { openUnique, requireVisitor } from './rooms.js';
import { RoomRef } from './types.js';

/** What an admin's chatbot says and is called before its settings are saved. */
export const DEFAULT_CHATBOT = { name: 'Chat', greeting: 'Hi! How can we help you today?' } as const;

export const WidgetPositionEnum = builder.enumType(WidgetPosition, {
  name: 'WidgetPosition',
  description: 'Where a website chat widget sits on the page.',
  values: {
    BOTTOM_RIGHT: { description: 'The bottom-right corner (the usual place).' },
    BOTTOM_LEFT: { description: 'The bottom-left corner.' },
  },
});

export const ChatbotSettingsRef = builder.prismaObject('ChatbotSettings', {
  description: 'An admin’s website chatbot: what the widget shows and says (legacy 003 /chatbot/api).',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The settings’ id.' }),
    workspaceId: t.exposeID('workspaceId', { description: 'The workspace.' }),
    adminId: t.exposeID('adminId', { description: 'The admin whose chatbot this is; visitors’ rooms are with them.' }),
    name: t.exposeString('name', { description: 'The name shown in the widget’s header.' }),
    greeting: t.exposeString('greeting', { description: 'Sent as the first message when a visitor’s room opens.' }),
    color: t.exposeString('color', { description: 'The widget’s colour, "#rrggbb".' }),
    offlineMessage: t.exposeString('offlineMessage', { description: 'Shown by the widget while the admin is offline.' }),
    enabled: t.exposeBoolean('enabled', { description: 'Whether the widget is shown; while false no new visitor room opens.' }),
    avatarUrl: t.exposeString('avatarUrl', { nullable: true, description: 'The bot’s picture (an https URL), if any.' }),
    position: t.expose('position', { type: WidgetPositionEnum, description: 'Which bottom corner the widget sits in.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When the settings last changed.' }),
  }),
});

/** The admin named (or the viewer), checked to be an ADMIN of the workspace; NOT_FOUND otherwise. */
async function adminOf(ctx: Context, workspaceId: string, raw: string | number | null | undefined): Promise<string> {
  const adminId = raw != null ? parseId(raw, 'User') : requirePerson(ctx.viewer);
  const membership = await ctx.db.membership.findUnique({ where: { workspaceId_userId: { workspaceId, userId: adminId } }, select: { role: true } });
  if (membership?.role !== 'ADMIN') throw new NotFoundError('Chatbot', 'No admin of this workspace has this id, so there is no chatbot.');
  return adminId;
}

const text = (max: number) => z.string().trim().min(1, 'must not be empty').max(max, `must be at most ${max} characters`);

const UpdateChatbotSettingsInput = builder.inputType('UpdateChatbotSettingsInput', {
  description: 'Changes to an admin’s chatbot; omitted fields keep their value (or their default, the first time).',
  fields: (t) => ({
    workspaceId: t.id({ description: 'The workspace.' }),
    adminId: t.id({ required: false, description: 'The admin whose chatbot it is; the viewer when omitted (required for API keys).' }),
    name: t.string({ required: false, description: `The name shown in the widget (default "${DEFAULT_CHATBOT.name}").`, validate: text(100) }),
    greeting: t.string({ required: false, description: 'The first message of each visitor’s room.', validate: text(1000) }),
    color: t.string({
      required: false,
      description: 'The widget’s colour, "#rrggbb".',
      validate: z.string().regex(/^#[0-9a-fA-F]{6}$/, 'must be a colour like #3b82f6'),
    }),
    offlineMessage: t.string({ required: false, description: 'Shown while the admin is offline.', validate: text(1000) }),
    enabled: t.boolean({ required: false, description: 'Whether the widget is shown and new visitor rooms open.' }),
    avatarUrl: t.string({
      required: false,
      description: 'The bot’s picture, an https URL; an empty string removes it.',
      validate: z.union([z.literal(''), z.url({ protocol: /^https$/, error: 'must be an https URL' }).max(2048)]),
    }),
    position: t.field({ type: WidgetPositionEnum, required: false, description: 'Which bottom corner the widget sits in.' }),
  }),
});

builder.queryFields((t) => ({
  chatbotSettings: t.prismaField({
    type: ChatbotSettingsRef,
    nullable: true,
    description:
      'An admin’s chatbot settings (legacy 003 GET /chatbot/api): the viewer’s own when adminId is omitted. Anyone of the workspace may ' +
      'read them, its website visitors included (the widget needs them); null while the admin has saved none.',
    args: {
      workspaceId: t.arg.id({ description: 'The workspace.' }),
      adminId: t.arg.id({ required: false, description: 'The admin; the viewer when omitted.' }),
    },
    resolve: async (query, _root, args, ctx) => {
      const workspaceId = parseId(args.workspaceId, 'Workspace');
      if (!roleIn(ctx.viewer, workspaceId)) throw new NotFoundError('Workspace');
      const adminId = await adminOf(ctx, workspaceId, args.adminId);
      return ctx.db.chatbotSettings.findUnique({ ...query, where: { workspaceId_adminId: { workspaceId, adminId } } });
    },
  }),
}));

builder.mutationFields((t) => ({
  updateChatbotSettings: t.withAuth((_root, args) => ({ workspaceMember: idArg(args, 'input.workspaceId') })).prismaField({
    type: ChatbotSettingsRef,
    description:
      'Creates or changes an admin’s chatbot settings (legacy 003 POST /chatbot/api). The admin themself, another admin of the workspace, or an API key.',
    errors: { types: [ValidationError, NotFoundError] },
    args: { input: t.arg({ type: UpdateChatbotSettingsInput, description: 'The changes; each field is described on its type.' }) },
    resolve: async (query, _root, { input }, ctx) => {
      const workspaceId = parseId(input.workspaceId, 'Workspace');
      // The workspaceMember scope let no guest through (the narrowed viewer is a user or an API key).
      if (roleIn(ctx.viewer, workspaceId) !== 'ADMIN') throw new NotFoundError('Workspace');
      if (input.adminId == null && ctx.viewer.kind === 'apiKey') {
        throw new ValidationError([{ path: ['input', 'adminId'], message: 'an API key must name the admin whose chatbot it sets' }]);
      }
      const adminId = await adminOf(ctx, workspaceId, input.adminId);
      const changes = {
        ...(input.name != null ? { name: input.name } : {}),
        ...(input.greeting != null ? { greeting: input.greeting } : {}),
        ...(input.color != null ? { color: input.color.toLowerCase() } : {}),
        ...(input.offlineMessage != null ? { offlineMessage: input.offlineMessage } : {}),
        ...(input.enabled != null ? { enabled: input.enabled } : {}),
        ...(input.avatarUrl != null ? { avatarUrl: input.avatarUrl === '' ? null : input.avatarUrl } : {}),
        ...(input.position != null ? { position: input.position } : {}),
      };
      return ctx.db.chatbotSettings.upsert({
        ...query,
        where: { workspaceId_adminId: { workspaceId, adminId } },
        create: { workspaceId, adminId, name: DEFAULT_CHATBOT.name, greeting: DEFAULT_CHATBOT.greeting, ...changes },
        update: changes,
      });
    },
  }),
  openChatbotRoom: t.prismaField({
    type: RoomRef,
    description:
      'Opens the visitor’s chatbot room with an admin, starting with the admin’s greeting; opening it again returns the same room. ' +
      'Guests only. The admin gets CONVERSATION_ADDED in their inbox (legacy 003 new_room). FORBIDDEN while the chatbot is switched off.',
    errors: { types: [NotFoundError, ForbiddenError] },
    args: {
      workspaceId: t.arg.id({ description: 'The workspace whose website the visitor is on.' }),
      adminId: t.arg.id({ description: 'The admin whose chatbot it is.' }),
    },
    resolve: async (query, _root, args, ctx) => {
      const workspaceId = parseId(args.workspaceId, 'Workspace');
      const visitor = requireVisitor(ctx, workspaceId, 'chatbot rooms');
      const adminId = await adminOf(ctx, workspaceId, args.adminId);
      const uniqueKey = `chatbot:${adminId}:${visitor}`;
      const existing = await ctx.db.conversation.findUnique({ ...query, where: { workspaceId_uniqueKey: { workspaceId, uniqueKey } } });
      if (existing) return existing;
      const [settings, me] = await Promise.all([
        ctx.db.chatbotSettings.findUnique({ where: { workspaceId_adminId: { workspaceId, adminId } }, select: { greeting: true, enabled: true } }),
        ctx.db.user.findUniqueOrThrow({ where: { id: visitor }, select: { displayName: true } }),
      ]);
      if (settings && !settings.enabled) throw new ForbiddenError('This chatbot is switched off; no new conversation can start.');
      const { id, created } = await openUnique(
        ctx,
        {
          workspaceId,
          uniqueKey,
          kind: 'ROOM',
          roomType: 'CHATBOT',
          name: me.displayName,
          createdById: visitor,
          members: { create: [{ userId: adminId, role: 'OWNER' }, { userId: visitor, role: 'MEMBER' }] },
        },
        async (roomId) => {
          await ctx.pipeline.append(ctx, { conversationId: roomId, authorId: adminId, side: 'RIGHT', body: settings?.greeting ?? DEFAULT_CHATBOT.greeting });
        },
      );
      if (created) await announceOpened(ctx, id);
      return ctx.db.conversation.findUniqueOrThrow({ ...query, where: { id } });
    },
  }),
}));
