/**
 * Typing indicators: an event on the conversation's channel and nothing else. Never stored and
 * never a message; each carries `expiresAt`, after which clients drop it unless renewed, so a
 * client that vanishes mid-sentence leaves no indicator behind.
 */
import { builder } from '../../graphql/builder.js';
import { NotFoundError } from '../../graphql/errors.js';
import { publishConversationEvent } from './pipeline.js';
import { conversationAccess } from './permissions.js';
import type { ConversationEvent } from './topics.js';
import { ConversationEventRef } from './types.js';
import { seesNotes } from './visibility.js';
import { idArg, requirePerson } from '../../graphql/permissions.js';

/** How long a typing indicator lasts unless renewed; clients renew it while the user types. */
export const TYPING_TTL_MS = 6_000;

builder.mutationFields((t) => ({
  setTyping: t.withAuth((_root, args) => ({ conversationWriter: idArg(args, 'conversationId') })).field({
    type: ConversationEventRef,
    description:
      `Tells the conversation’s subscribers that the viewer is (or stopped) typing: a TYPING event that lapses at its expiresAt ` +
      `(${TYPING_TTL_MS / 1000} s) unless renewed. Nothing is stored. Returns the event sent.`,
    errors: { types: [NotFoundError] },
    args: {
      conversationId: t.arg.id({ description: 'The conversation.' }),
      typing: t.arg.boolean({ required: false, defaultValue: true, description: 'True while typing (default), false on stopping.' }),
      internal: t.arg.boolean({
        required: false,
        defaultValue: false,
        description: 'Staff writing an internal note: only those who read notes see this indicator (customers see no one typing).',
      }),
    },
    resolve: async (_root, args, ctx) => {
      const me = requirePerson(ctx.viewer);
      const access = await conversationAccess(ctx, args.conversationId);
      const now = Date.now();
      const event: ConversationEvent = {
        type: 'TYPING',
        conversationId: access.conversation.id,
        seq: access.conversation.lastSeq,
        publicSeq: access.conversation.lastPublicSeq,
        userId: me,
        ...(args.internal && seesNotes(ctx.viewer, access.conversation.workspaceId) ? { internal: true } : {}),
        typing: args.typing ?? true,
        expiresAt: new Date(now + (args.typing === false ? 0 : TYPING_TTL_MS)).toISOString(),
        at: new Date(now).toISOString(),
      };
      publishConversationEvent(ctx, event);
      return event;
    },
  }),
}));
