import { z } from 'zod';
import { builder } from '../../graphql/builder.js';
import { NotFoundError } from '../../graphql/errors.js';
import { parseId } from '../../graphql/ids.js';
import { ChatbotSettingsRef } from '../conversations/chatbot.js';
import { assertInWorkspace, visibleUsers } from './permissions.js';
import { PresenceStatusEnum, UserPresenceRef } from './types.js';

/** At most this many users a presence query. */
export const MAX_PRESENCE_USERS = 100;

builder.queryFields((t) => ({
  presence: t.field({
    type: [UserPresenceRef],
    description:
      `The presence of users of a workspace (at most ${MAX_PRESENCE_USERS}), in the order asked. Staff see everyone; clients and ` +
      'visitors see staff, themselves and whoever shares a conversation with them. NOT_FOUND for anyone else.',
    args: {
      workspaceId: t.arg.id({ description: 'The workspace.' }),
      userIds: t.arg.idList({
        description: `The users, 1 to ${MAX_PRESENCE_USERS}.`,
        validate: z.array(z.unknown()).min(1, 'name at least one user').max(MAX_PRESENCE_USERS, `at most ${MAX_PRESENCE_USERS} users`),
      }),
    },
    resolve: async (_root, args, ctx) => {
      const workspaceId = parseId(args.workspaceId, 'Workspace');
      assertInWorkspace(ctx, workspaceId);
      const ids = [...new Set(args.userIds.map((id) => parseId(id, 'User')))];
      const visible = await visibleUsers(ctx, workspaceId, ids);
      if (ids.some((id) => !visible.has(id))) throw new NotFoundError('User');
      return ctx.presence.read(ids);
    },
  }),
}));

builder.prismaObjectFields(ChatbotSettingsRef, (t) => ({
  adminStatus: t.field({
    type: PresenceStatusEnum,
    description: 'The admin’s presence now: while OFFLINE the widget shows offlineMessage.',
    select: { adminId: true },
    resolve: async (s, _args, ctx) => (await ctx.presence.read([s.adminId]))[0]!.status,
  }),
}));
