import { builder } from '../../graphql/builder.js';
import { ForbiddenError, NotFoundError } from '../../graphql/errors.js';
import { parseId } from '../../graphql/ids.js';
import { canAccessWorkspace, STAFF_ROLES } from '../../graphql/permissions.js';
import { endsStaffStanding } from '../workspaces/permissions.js';
import type { Context } from '../../graphql/context.js';
import { returnsPromptly } from '../../pubsub/pubsub.js';
import type { InboxEvent } from './topics.js';
import { ConversationEventRef, InboxEventRef } from './types.js';
import { inboxStream } from './inbox.js';
import { conversationStream } from './stream.js';

builder.subscriptionFields((t) => ({
  conversationEvents: t.field({
    type: ConversationEventRef,
    description:
      'A conversation’s events, live. Messages and the changes to them (edits, deletes, reactions, pins) form one stream ' +
      'numbered by `position` (1, 2, 3 … with no holes). With `afterPosition`, first replays every one after that position from ' +
      'the database, then goes live with no gap and no duplicate: resume with the last position you saw. `after` (a message seq, ' +
      'for older clients) replays the messages after it, and changes only from now on. READ, TYPING and ' +
      'MEMBER_* events have no position and are not replayed. Positions and seqs are in the viewer’s numbering: staff count internal ' +
      'notes and changes to notes; customers (and anyone reading as one) never get those, and count only what they see, with no holes ' +
      '(so their cursors stay exact). Ends with FORBIDDEN if you are removed, or when you stop being staff of the workspace while ' +
      'reading as staff (subscribe again: as a member you then read as a customer, in their numbering).',
    args: {
      conversationId: t.arg.id({ description: 'The conversation.' }),
      after: t.arg.int({
        required: false,
        description: 'Replay the messages after this seq (in your numbering) first (0 for all); changes come live only. Prefer afterPosition.',
      }),
      afterPosition: t.arg.int({
        required: false,
        description: 'Replay every message and change after this stream position (in your numbering) first (0 for all); wins over `after`.',
      }),
    },
    subscribe: (_root, args, ctx) => conversationStream(ctx, args.conversationId, { position: args.afterPosition, seq: args.after }),
    resolve: (event) => event,
  }),
  conversationsOpened: t.field({
    type: InboxEventRef,
    description:
      'Conversations customers open in a workspace, live: first INBOX_READY (from then on nothing is missed), then each as ' +
      'CONVERSATION_OPENED: visitor, chatbot and support rooms and client ' +
      'threads, which its staff reach by role. For dashboards and server integrations, which have no inbox of their own (the legacy ' +
      'shim tells legacy 003 admins of new chatbot rooms with it). Admins, agents and API keys; NOT_FOUND for anyone else. Ends with ' +
      'FORBIDDEN when the viewer is no longer staff there, or the API key is revoked.',
    args: { workspaceId: t.arg.id({ description: 'The workspace.' }) },
    subscribe: (_root, args, ctx) => {
      const workspaceId = parseId(args.workspaceId, 'Workspace');
      if (!canAccessWorkspace(ctx.viewer, { workspaceId, roles: STAFF_ROLES })) throw new NotFoundError('Workspace');
      return openedStream(ctx, workspaceId);
    },
    resolve: (event) => event,
  }),
  inboxEvents: t.field({
    type: InboxEventRef,
    description:
      'The viewer’s inbox, live: first INBOX_READY (from then on nothing is missed), then conversations added (legacy 003 new_room) or ' +
      'removed, unread counts as messages arrive and as the viewer reads, and, for staff, conversations customers open. Refetch ' +
      'myConversations after INBOX_READY (or after reconnecting) to start from the truth.',
    subscribe: (_root, _args, ctx) => inboxStream(ctx),
    resolve: (event) => event,
  }),
}));

/**
 * A workspace's newly opened conversations: INBOX_READY once the channel is live (with Redis,
 * SUBSCRIBE acknowledged), so a caller that acts after it cannot miss what it causes. It ends,
 * FORBIDDEN, when the viewer stops being staff there (removed, or made a client) or, for an API
 * key, when the key is revoked: the workspace's own events say so.
 */
function openedStream(ctx: Context, workspaceId: string): AsyncIterableIterator<InboxEvent> {
  const stop = new AbortController();
  return returnsPromptly(opened(ctx, workspaceId, stop.signal), stop);
}

async function* opened(ctx: Context, workspaceId: string, signal: AbortSignal): AsyncGenerator<InboxEvent> {
  const { viewer } = ctx;
  const live = ctx.pubsub.subscribeMany<'workspaceConversations' | 'workspace'>(
    [
      ['workspaceConversations', workspaceId],
      ['workspace', workspaceId],
    ],
    { signal },
  );
  try {
    await ctx.pubsub.whenSubscribed(live);
    yield { type: 'INBOX_READY', conversationId: null, lastSeq: 0, unreadCount: null, at: new Date().toISOString() };
    for await (const event of live) {
      if (!('workspaceId' in event)) {
        yield event;
        continue;
      }
      if (endsStaffStanding(viewer, event)) throw new ForbiddenError('You no longer serve this workspace; its new conversations are no longer yours to see.');
    }
  } finally {
    await live.return?.();
  }
}
