/** addReaction and removeReaction: changes of the conversation's stream (see reactions.ts). */
import { builder } from '../../graphql/builder.js';
import { ForbiddenError, NotFoundError, ValidationError } from '../../graphql/errors.js';
import { NoChange, recordChange } from './changes.js';
import { emoji, reactable, summarise } from './reactions.js';
import { MessageRef } from './types.js';
import { asSeenBy } from './visibility.js';

builder.mutationFields((t) => ({
  addReaction: t.field({
    type: MessageRef,
    description:
      'Reacts to a message with an emoji (one reaction per person per emoji: again changes nothing). Anyone who can read the ' +
      'conversation; the others see REACTION_ADDED on conversationEvents. BAD_USER_INPUT (ValidationError) for an emoji that is not one or for a deleted message.',
    errors: { types: [ValidationError, NotFoundError, ForbiddenError] },
    args: {
      messageId: t.arg.id({ description: 'The message.' }),
      emoji: t.arg.string({ description: 'One Unicode emoji (👍, 👍🏽, 🇫🇷), or a :shortcode: (a-z, 0-9, _ + -).', validate: emoji }),
    },
    resolve: async (_root, args, ctx) => {
      const { me, message, workspaceId } = await reactable(ctx, args.messageId);
      const { record } = await recordChange(
        ctx,
        { conversationId: message.conversationId, messageId: message.id, type: 'REACTION_ADDED', userId: me, emoji: args.emoji, visibility: message.visibility },
        async (tx, at) => {
          const inserted = await tx.$executeRaw`
            INSERT INTO "Reaction" ("messageId", "userId", emoji, "createdAt") VALUES (${message.id}::uuid, ${me}::uuid, ${args.emoji}, ${at}::timestamptz)
            ON CONFLICT DO NOTHING`;
          if (inserted === 0) throw new NoChange();
          await summarise(tx, message.id);
        },
      );
      return asSeenBy(ctx.viewer, workspaceId, record);
    },
  }),
  removeReaction: t.field({
    type: MessageRef,
    description: 'Takes back the viewer’s reaction with an emoji (none: changes nothing); the others see REACTION_REMOVED.',
    errors: { types: [ValidationError, NotFoundError, ForbiddenError] },
    args: {
      messageId: t.arg.id({ description: 'The message.' }),
      emoji: t.arg.string({ description: 'The emoji reacted with.', validate: emoji }),
    },
    resolve: async (_root, args, ctx) => {
      const { me, message, workspaceId } = await reactable(ctx, args.messageId);
      const { record } = await recordChange(
        ctx,
        { conversationId: message.conversationId, messageId: message.id, type: 'REACTION_REMOVED', userId: me, emoji: args.emoji, visibility: message.visibility },
        async (tx) => {
          const { count } = await tx.reaction.deleteMany({ where: { messageId: message.id, userId: me, emoji: args.emoji } });
          if (count === 0) throw new NoChange();
          await summarise(tx, message.id);
        },
      );
      return asSeenBy(ctx.viewer, workspaceId, record);
    },
  }),
}));

