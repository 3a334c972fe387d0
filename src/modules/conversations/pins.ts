/**
 * Pins: staff of the workspace and owners of a conversation pin and unpin its messages; in a
 * one-to-one thread, either party. Each pin or unpin is a change of the conversation's stream
 * (changes.ts); pinning what is pinned, or unpinning what is not, changes nothing.
 */
import { builder } from '../../graphql/builder.js';
import type { Context } from '../../graphql/context.js';
import { ForbiddenError, NotFoundError, ValidationError } from '../../graphql/errors.js';
import { parseId } from '../../graphql/ids.js';
import { NoChange, recordChange } from './changes.js';
import { loadAccess } from './permissions.js';
import { MessageRef } from './types.js';
import { asSeenBy, seesNotes } from './visibility.js';
import { isStaff, requirePerson } from '../../graphql/permissions.js';

/**
 * The message to pin or unpin, with the viewer allowed to: NOT_FOUND if unreadable (a note, to
 * anyone who does not see notes), FORBIDDEN if read-only to them.
 */
async function pinnable(ctx: Context, rawId: string | number) {
  const id = parseId(rawId, 'Message');
  const message = await ctx.db.message.findUnique({ where: { id }, select: { id: true, conversationId: true, deletedAt: true, visibility: true } });
  if (!message) throw new NotFoundError('Message');
  const access = await loadAccess(ctx, message.conversationId).catch(() => {
    throw new NotFoundError('Message');
  });
  const workspaceId = access.conversation.workspaceId;
  if (message.visibility === 'INTERNAL' && !seesNotes(ctx.viewer, workspaceId)) throw new NotFoundError('Message');
  const me = requirePerson(ctx.viewer);
  const allowed = access.conversation.direct
    ? access.member !== null
    : isStaff(ctx.viewer, access.conversation.workspaceId) || access.member?.role === 'OWNER';
  if (!allowed) throw new ForbiddenError('Only staff and the conversation’s owners pin messages here (in a one-to-one thread, either party).');
  return { me, message, workspaceId };
}

builder.mutationFields((t) => ({
  pinMessage: t.field({
    type: MessageRef,
    description:
      'Pins a message in its conversation (Conversation.pinnedMessages); members see MESSAGE_PINNED. Staff and owners of the conversation; ' +
      'either party of a one-to-one thread. FORBIDDEN for other members; BAD_USER_INPUT (ValidationError) for a deleted message.',
    errors: { types: [ValidationError, NotFoundError, ForbiddenError] },
    args: { messageId: t.arg.id({ description: 'The message.' }) },
    resolve: async (_root, args, ctx) => {
      const { me, message, workspaceId } = await pinnable(ctx, args.messageId);
      if (message.deletedAt) throw new ValidationError([{ path: ['messageId'], message: 'the message was deleted; it cannot be pinned' }]);
      const { record } = await recordChange(
        ctx,
        { conversationId: message.conversationId, messageId: message.id, type: 'MESSAGE_PINNED', userId: me, visibility: message.visibility },
        async (tx, at) => {
          const { count } = await tx.message.updateMany({ where: { id: message.id, pinnedAt: null, deletedAt: null }, data: { pinnedAt: at, pinnedById: me } });
          if (count === 0) throw new NoChange();
        },
      );
      return asSeenBy(ctx.viewer, workspaceId, record);
    },
  }),
  unpinMessage: t.field({
    type: MessageRef,
    description: 'Unpins a message; members see MESSAGE_UNPINNED. Whoever may pin it.',
    errors: { types: [NotFoundError, ForbiddenError] },
    args: { messageId: t.arg.id({ description: 'The message.' }) },
    resolve: async (_root, args, ctx) => {
      const { me, message, workspaceId } = await pinnable(ctx, args.messageId);
      const { record } = await recordChange(
        ctx,
        { conversationId: message.conversationId, messageId: message.id, type: 'MESSAGE_UNPINNED', userId: me, visibility: message.visibility },
        async (tx) => {
          const { count } = await tx.message.updateMany({ where: { id: message.id, pinnedAt: { not: null } }, data: { pinnedAt: null, pinnedById: null } });
          if (count === 0) throw new NoChange();
        },
      );
      return asSeenBy(ctx.viewer, workspaceId, record);
    },
  }),
}));
