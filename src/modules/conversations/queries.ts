import { builder } from '../../graphql/builder.js';
import { actingUserId } from '../../auth/viewer.js';
import { ConversationRef } from './types.js';
import { conversationAccess } from './permissions.js';
import { idArg } from '../../graphql/permissions.js';

builder.queryFields((t) => ({
  conversation: t.withAuth((_root, args) => ({ conversationReader: idArg(args, 'id') })).prismaField({
    type: ConversationRef,
    description: 'A conversation the viewer may read. NOT_FOUND otherwise.',
    args: { id: t.arg.id({ description: 'The conversation’s id.' }) },
    resolve: async (query, _root, args, ctx) => {
      const access = await conversationAccess(ctx, args.id);
      return ctx.db.conversation.findUniqueOrThrow({ ...query, where: { id: access.conversation.id } });
    },
  }),
  myConversations: t.prismaConnection({
    type: ConversationRef,
    cursor: 'id',
    description: 'The conversations the viewer is a member of, most recently active first, with last message and unread count.',
    maxSize: 100,
    defaultSize: 30,
    resolve: (query, _root, _args, ctx) =>
      ctx.db.conversation.findMany({
        ...query,
        where: { members: { some: { userId: actingUserId(ctx.viewer) ?? '00000000-0000-0000-0000-000000000000' } } },
        orderBy: [{ lastMessageAt: { sort: 'desc', nulls: 'last' } }, { createdAt: 'desc' }, { id: 'asc' }],
      }),
  }),
}));
