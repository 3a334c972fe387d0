import { builder } from '../../graphql/builder.js';
import type { Context } from '../../graphql/context.js';
import { ForbiddenError } from '../../graphql/errors.js';
import { returnsPromptly } from '../../pubsub/pubsub.js';
import { ticketEvent, ticketStateSelect } from './events.js';
import { staffWorkspace, ticketAccess } from './permissions.js';
import { estimateWait, queuePosition, serviceRate } from './queue.js';
import type { SupportQueueEvent, TicketEvent } from './topics.js';
import { SupportQueueEventRef, TicketEventRef } from './types.js';
import { endsStaffStanding } from '../workspaces/permissions.js';
import { isWorkspaceEvent } from '../workspaces/topics.js';

/**
 * A ticket's events: first a SNAPSHOT read from the database (the truth), then live events,
 * dropping any older than what was delivered (state by the ticket's version, positions by the
 * queue's version), so a customer never sees their position jump back. Staff who reach the
 * ticket by their role (not as a member) follow the workspace's events too: removed, made a
 * client, or a revoked key, the ticket's events end there with FORBIDDEN.
 */
async function* ticketStream(ctx: Context, rawId: string | number, signal: AbortSignal): AsyncGenerator<TicketEvent> {
  const { conversation, viaRole } = await ticketAccess(ctx, rawId);
  const live = ctx.pubsub.subscribeMany<'ticket' | 'workspace'>(
    viaRole
      ? [
          ['ticket', conversation.id],
          ['workspace', conversation.workspaceId],
        ]
      : [['ticket', conversation.id]],
    { signal },
  );
  try {
    // Live before the snapshot is read, so it misses nothing published after it.
    await ctx.pubsub.whenSubscribed(live);
    // The queue's version first, then the state: the snapshot is at least as new as its label.
    const desk = await ctx.db.supportDesk.findUnique({ where: { workspaceId: conversation.workspaceId }, select: { queueVersion: true } });
    const state = await ctx.db.supportTicket.findUniqueOrThrow({ where: { conversationId: conversation.id }, select: ticketStateSelect });
    const position = await queuePosition(ctx.db, state);
    const rate = position === null ? null : await serviceRate(ctx.db, conversation.workspaceId);
    const snapshot = ticketEvent('SNAPSHOT', state, {
      position,
      estimatedWaitSeconds: estimateWait(position, rate),
      queueVersion: desk?.queueVersion ?? 0,
    });
    let version = snapshot.version;
    let queueVersion = snapshot.queueVersion;
    yield snapshot;
    for await (const event of live) {
      if (isWorkspaceEvent(event)) {
        if (endsStaffStanding(ctx.viewer, event)) throw new ForbiddenError('You are no longer staff of this workspace; this ticket’s events stop here.');
        continue;
      }
      if (event.type === 'POSITION_CHANGED') {
        if (event.version < version || event.queueVersion < queueVersion) continue;
      } else if (event.version <= version) {
        continue;
      }
      version = Math.max(version, event.version);
      queueVersion = Math.max(queueVersion, event.queueVersion);
      yield event;
    }
  } finally {
    await live.return?.();
  }
}

/**
 * A workspace's queue events, starting with READY once live: read supportQueue then, and miss
 * nothing. It ends, FORBIDDEN, when the viewer stops being staff there (removed, or made a
 * client) or, for an API key, when the key is revoked: the workspace's own events say so.
 */
async function* queueStream(ctx: Context, rawWorkspaceId: string | number, signal: AbortSignal): AsyncGenerator<SupportQueueEvent> {
  const workspaceId = staffWorkspace(ctx, rawWorkspaceId);
  const live = ctx.pubsub.subscribeMany<'supportQueue' | 'workspace'>(
    [
      ['supportQueue', workspaceId],
      ['workspace', workspaceId],
    ],
    { signal },
  );
  try {
    await ctx.pubsub.whenSubscribed(live);
    yield {
      type: 'READY',
      workspaceId,
      conversationId: null,
      ticket: null,
      lineManagerOpenTickets: null,
      urgency: null,
      claim: null,
      queueVersion: null,
      at: new Date().toISOString(),
    };
    for await (const event of live) {
      if (!isWorkspaceEvent(event)) {
        yield event;
        continue;
      }
      if (endsStaffStanding(ctx.viewer, event)) throw new ForbiddenError('You no longer serve this workspace; its support queue stops here.');
    }
  } finally {
    await live.return?.();
  }
}

builder.subscriptionFields((t) => ({
  ticketEvents: t.field({
    type: TicketEventRef,
    description:
      'A ticket’s events, live, for its customer (and staff): where it stands first (SNAPSHOT, with queue position and estimated wait), then assignment, position and estimate changes, status changes, closing. NOT_FOUND for anyone else. Staff reaching it by their role (not as a member) are ended with FORBIDDEN when they stop being staff there.',
    args: { ticketId: t.arg.id({ description: 'The ticket.' }) },
    subscribe: (_root, args, ctx) => {
      const stop = new AbortController();
      return returnsPromptly(ticketStream(ctx, args.ticketId, stop.signal), stop);
    },
    resolve: (event) => event,
  }),
  supportQueueEvents: t.field({
    type: SupportQueueEventRef,
    description:
      'A workspace’s support queue, live, for its agents. First READY, once live: read supportQueue then and miss nothing. Then new tickets, assignments and transfers, status and priority changes, closes, urgency changes (TURNED_URGENT when one becomes urgent), and claims taken or released. Staff and API keys; ends with FORBIDDEN when the viewer is no longer staff there (or the API key is revoked).',
    args: { workspaceId: t.arg.id({ description: 'The workspace.' }) },
    subscribe: (_root, args, ctx) => {
      const stop = new AbortController();
      return returnsPromptly(queueStream(ctx, args.workspaceId, stop.signal), stop);
    },
    resolve: (event) => event,
  }),
}));
