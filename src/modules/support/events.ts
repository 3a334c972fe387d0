/** Building and publishing ticket and queue events from a ticket's state after a change. */
import type { Prisma } from '../../generated/prisma/client.js';
import type { Services } from '../../graphql/context.js';
import type { SupportQueueEvent, SupportQueueEventType, TicketEvent, TicketEventType } from './topics.js';

/** What events say about a ticket; read in the transaction that changed it. */
export const ticketStateSelect = {
  conversationId: true,
  workspaceId: true,
  status: true,
  priority: true,
  lineManagerId: true,
  queueNumber: true,
  version: true,
  closeNote: true,
  lineManager: { select: { userId: true, user: { select: { id: true, displayName: true } } } },
} as const;

export type TicketState = Prisma.SupportTicketGetPayload<{ select: typeof ticketStateSelect }>;

const QUEUE_TYPE: Partial<Record<TicketEventType, SupportQueueEventType>> = {
  ASSIGNED: 'TICKET_ASSIGNED',
  TRANSFERRED: 'TICKET_TRANSFERRED',
  STATUS_CHANGED: 'TICKET_STATUS_CHANGED',
  PRIORITY_CHANGED: 'TICKET_PRIORITY_CHANGED',
  CLOSED: 'TICKET_CLOSED',
  REOPENED: 'TICKET_REOPENED',
};

export function ticketEvent(
  type: TicketEventType,
  t: TicketState,
  extra: { position?: number | null; estimatedWaitSeconds?: number | null; queueVersion?: number } = {},
): TicketEvent {
  return {
    type,
    ticketId: t.conversationId,
    status: t.status,
    priority: t.priority,
    position: extra.position ?? null,
    estimatedWaitSeconds: extra.estimatedWaitSeconds ?? null,
    lineManagerId: t.lineManagerId,
    agent: t.lineManager ? { id: t.lineManager.user.id, displayName: t.lineManager.user.displayName } : null,
    note: type === 'CLOSED' ? t.closeNote : null,
    version: t.version,
    queueVersion: extra.queueVersion ?? 0,
    at: new Date().toISOString(),
  };
}

export function queueTicketEvent(
  type: SupportQueueEventType,
  t: TicketState,
  extra: { lineManagerOpenTickets?: number | null; queueVersion?: number | null; urgency?: SupportQueueEvent['urgency'] } = {},
): SupportQueueEvent {
  return {
    type,
    workspaceId: t.workspaceId,
    conversationId: t.conversationId,
    ticket: {
      status: t.status,
      priority: t.priority,
      lineManagerId: t.lineManagerId,
      agentUserId: t.lineManager?.userId ?? null,
      queueNumber: t.queueNumber,
      version: t.version,
    },
    lineManagerOpenTickets: extra.lineManagerOpenTickets ?? null,
    urgency: extra.urgency ?? null,
    claim: null,
    queueVersion: extra.queueVersion ?? null,
    at: new Date().toISOString(),
  };
}

/** Publishes a change outside routing (status by a message, priority): to the ticket and the queue. */
export async function publishTicketChange(services: Services, type: TicketEventType, t: TicketState): Promise<void> {
  const queueType = QUEUE_TYPE[type];
  await Promise.all([
    services.pubsub.publish('ticket', t.conversationId, ticketEvent(type, t)),
    queueType ? services.pubsub.publish('supportQueue', t.workspaceId, queueTicketEvent(queueType, t)) : undefined,
  ]);
}
