import { builder } from '../../graphql/builder.js';
import type { Context } from '../../graphql/context.js';
import { ticketEvent, ticketStateSelect } from './events.js';
import { staffWorkspace, ticketAccess } from './permissions.js';
import { estimateWait, queuePosition, serviceRate } from './queue.js';
import type { TicketEvent } from './topics.js';
import { SupportQueueEventRef, TicketEventRef } from './types.js';

/**
 * A ticket's events: first a SNAPSHOT read from the database (the truth), then live events,
 * dropping any older than what was delivered (state by the ticket's version, positions by the
 * queue's version), so a customer never sees their position jump back.
 */
async function* ticketStream(ctx: Context, rawId: string | number): AsyncGenerator<TicketEvent> {
  const { conversation } = await ticketAccess(ctx, rawId);
  const live = ctx.pubsub.subscribe('ticket', conversation.id);
  let nextLive: Promise<IteratorResult<TicketEvent>> | null = live.next();
  try {
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
    for (;;) {
      nextLive ??= live.next();
      const next = await nextLive;
      nextLive = null;
      if (next.done) return;
      const event = next.value;
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

builder.subscriptionFields((t) => ({
  ticketEvents: t.field({
    type: TicketEventRef,
    description:
      'A ticket’s events, live, for its customer (and staff): where it stands first (SNAPSHOT, with queue position and estimated wait), then assignment, position and estimate changes, status changes, closing. NOT_FOUND for anyone else.',
    authScopes: { authenticated: true },
    args: { ticketId: t.arg.id({ description: 'The ticket.' }) },
    subscribe: (_root, args, ctx) => ticketStream(ctx, args.ticketId),
    resolve: (event) => event,
  }),
  supportQueueEvents: t.field({
    type: SupportQueueEventRef,
    description:
      'A workspace’s support queue, live, for its agents: new tickets, assignments and transfers, status and priority changes, closes, urgency changes (TURNED_URGENT when one becomes urgent), and claims taken or released. Staff and API keys.',
    authScopes: { authenticated: true },
    args: { workspaceId: t.arg.id({ description: 'The workspace.' }) },
    subscribe: (_root, args, ctx) => ctx.pubsub.subscribe('supportQueue', staffWorkspace(ctx, args.workspaceId)),
    resolve: (event) => event,
  }),
}));
