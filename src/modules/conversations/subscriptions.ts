import { builder } from '../../graphql/builder.js';
import { ConversationEventRef, InboxEventRef } from './types.js';
import { inboxStream } from './inbox.js';
import { conversationStream } from './stream.js';

builder.subscriptionFields((t) => ({
  conversationEvents: t.field({
    type: ConversationEventRef,
    description:
      'A conversation’s events, live. With `after`, first replays every message after that seq from the database, ' +
      'then goes live with no gap and no duplicate: resume with the last seq you saw. Ends with FORBIDDEN if you are removed.',
    authScopes: { authenticated: true },
    args: {
      conversationId: t.arg.id({ description: 'The conversation.' }),
      after: t.arg.int({ required: false, description: 'Replay messages after this seq first (0 for all).' }),
    },
    subscribe: (_root, args, ctx) => conversationStream(ctx, args.conversationId, args.after),
    resolve: (event) => event,
  }),
  inboxEvents: t.field({
    type: InboxEventRef,
    description:
      'The viewer’s inbox, live: first INBOX_READY (from then on nothing is missed), then conversations added (legacy 003 new_room) or ' +
      'removed, unread counts as messages arrive and as the viewer reads, and, for staff, conversations customers open. Refetch ' +
      'myConversations after INBOX_READY (or after reconnecting) to start from the truth.',
    authScopes: { authenticated: true },
    subscribe: (_root, _args, ctx) => inboxStream(ctx),
    resolve: (event) => event,
  }),
}));
