/**
 * Support events. `ticket:<ticketId>` tells the customer (and anyone watching the ticket) what
 * happens to it: assignment, queue position and estimated wait, status, closing. `supportQueue:
 * <workspaceId>` tells a workspace's agents what happens in the queue: new tickets, assignments,
 * urgency, claims. Payloads carry what subscribers show, so fan-out reads nothing per subscriber.
 */
import type { ClaimReleaseReason, TicketPriority, TicketStatus } from '../../generated/prisma/enums.js';

export type TicketEventType =
  | 'SNAPSHOT'
  | 'ASSIGNED'
  | 'TRANSFERRED'
  | 'POSITION_CHANGED'
  | 'STATUS_CHANGED'
  | 'PRIORITY_CHANGED'
  | 'CLOSED'
  | 'REOPENED';

export interface TicketEvent {
  type: TicketEventType;
  ticketId: string;
  status: TicketStatus;
  priority: TicketPriority;
  /** Place in the queue (1 = next) while OPEN; null otherwise. */
  position: number | null;
  /** Estimated seconds until a line manager takes it, while OPEN; null when unknown. */
  estimatedWaitSeconds: number | null;
  lineManagerId: string | null;
  /** The assigned line manager as the customer sees them. */
  agent: { id: string; displayName: string } | null;
  /** CLOSED: the closing note. */
  note: string | null;
  /** The ticket's version after the change: state events older than one already seen are stale. */
  version: number;
  /** The workspace queue's version when positions were computed: position events older than one seen are stale. */
  queueVersion: number;
  at: string;
}

export type SupportQueueEventType =
  | 'READY'
  | 'TICKET_OPENED'
  | 'TICKET_ASSIGNED'
  | 'TICKET_TRANSFERRED'
  | 'TICKET_STATUS_CHANGED'
  | 'TICKET_PRIORITY_CHANGED'
  | 'TICKET_CLOSED'
  | 'TICKET_REOPENED'
  | 'URGENCY_CHANGED'
  | 'TURNED_URGENT'
  | 'CLAIM_TAKEN'
  | 'CLAIM_RELEASED'
  | 'TICKET_RATED';

export interface QueueTicketState {
  status: TicketStatus;
  priority: TicketPriority;
  lineManagerId: string | null;
  /** The assigned line manager's user id. */
  agentUserId: string | null;
  queueNumber: number;
  version: number;
}

export interface QueueClaimState {
  claimId: string;
  holderId: string;
  holderName: string;
  messageId: string | null;
  expiresAt: string;
  releaseReason: ClaimReleaseReason | null;
}

export interface QueueRatingState {
  ratingId: string;
  score: number;
  comment: string | null;
  lineManagerId: string | null;
  customerId: string;
  closedAt: string;
}

export interface SupportQueueEvent {
  type: SupportQueueEventType;
  workspaceId: string;
  /** Null for READY. */
  conversationId: string | null;
  /** For ticket events (and urgency of tickets): the ticket's state after the change. */
  ticket: QueueTicketState | null;
  /** Assignment, transfer and close: the line manager's open tickets after the change. */
  lineManagerOpenTickets: number | null;
  urgency: { score: number; urgent: boolean; previousScore: number } | null;
  claim: QueueClaimState | null;
  /** TICKET_RATED: the rating. */
  rating?: QueueRatingState | null;
  /** The workspace queue's version for routing changes; null for urgency and claim events. */
  queueVersion: number | null;
  at: string;
}

declare module '../../pubsub/topics.js' {
  interface Topics {
    ticket: TicketEvent;
    supportQueue: SupportQueueEvent;
  }
}
