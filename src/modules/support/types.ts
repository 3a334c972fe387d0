/**
 * The support desk in GraphQL: `Ticket` (a Conversation, with its support details from the 1:1
 * SupportTicket row), topics, line managers, claims, urgency, the agents' queue and the events.
 */
import { builder } from '../../graphql/builder.js';
import type { Context } from '../../graphql/context.js';
import { ConversationRef } from '../conversations/types.js';
import { UserRef } from '../users/types.js';
import { activeClaim, type ClaimRecord } from './claims.js';
import { averageServingSeconds, estimateWait, queuePosition, serviceRate } from './queue.js';
import type { SupportQueueEvent, TicketEvent } from './topics.js';
import { computeUrgency, type Urgency } from './urgency.js';
import { isStaff } from '../../graphql/permissions.js';

export const TicketStatusEnum = builder.enumType('TicketStatus', {
  description: 'Where a ticket stands.',
  values: {
    OPEN: { description: 'Queued: waiting for a line manager.' },
    ASSIGNED: { description: 'Assigned to a line manager; the customer awaits an answer.' },
    WAITING: { description: 'Assigned; the line manager answered and awaits the customer.' },
    CLOSED: { description: 'Closed by its line manager or an admin; reopenTicket queues it again.' },
  } as const,
});

export const TicketPriorityEnum = builder.enumType('TicketPriority', {
  description: 'How pressing a ticket is; part of its urgency.',
  values: {
    LOW: { description: 'Whenever convenient (0 urgency points).' },
    NORMAL: { description: 'The default (10 points).' },
    HIGH: { description: 'Sooner than most (30 points).' },
    URGENT: { description: 'At once (60 points: urgent by itself).' },
  } as const,
});

export const ClaimReleaseReasonEnum = builder.enumType('ClaimReleaseReason', {
  description: 'Why a claim ended.',
  values: {
    RELEASED: { description: 'Its holder (or an admin) released it.' },
    EXPIRED: { description: 'Its lease lapsed without renewal.' },
    CLOSED: { description: 'The ticket was closed.' },
    DISCONNECTED: { description: 'Its holder’s last live connection closed.' },
  } as const,
});

export const SupportTopicRef = builder.prismaObject('SupportTopic', {
  description: 'A subject customers file tickets under (legacy 002 topics).',
  authScopes: (topic) => ({ workspace: { workspaceId: topic.workspaceId, guests: true } }),
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The topic’s id.' }),
    workspaceId: t.exposeID('workspaceId', { description: 'The workspace it belongs to.' }),
    name: t.exposeString('name', { description: 'Its name, unique in the workspace.' }),
    archived: t.boolean({ description: 'Archived topics are offered for no new tickets.', resolve: (topic) => topic.archivedAt !== null }),
    archivedAt: t.expose('archivedAt', { type: 'DateTime', nullable: true, description: 'When it was archived.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was created (legacy created_at).' }),
  }),
});

export const LineManagerRef = builder.prismaObject('LineManager', {
  description: 'A staff member serving a workspace’s support line (legacy 002 line manager).',
  authScopes: (lm) => ({ workspace: { workspaceId: lm.workspaceId, guests: true } }),
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The line manager’s id.' }),
    workspaceId: t.exposeID('workspaceId', { description: 'The workspace they serve.' }),
    user: t.relation('user', { description: 'The staff member (legacy user_id).' }),
    positionInLine: t.exposeInt('positionInLine', { description: 'Breaks ties between equally loaded line managers: lower first (legacy positions_in_a_line).' }),
    capacity: t.exposeInt('capacity', { description: 'Open tickets they may hold at once; new tickets queue when everyone is full.' }),
    active: t.exposeBoolean('active', { description: 'Inactive line managers keep their tickets but get no new ones.' }),
    openTicketCount: t.exposeInt('openTicketCount', {
      description: 'Open (ASSIGNED or WAITING) tickets assigned to them now (legacy ticket_count); exact under concurrency.',
    }),
    averageServingSeconds: t.float({
      nullable: true,
      description:
        'Average serving time in seconds, from assignment to close, measured over their closed tickets; a seeded legacy average_serving_time counts as one. Null before anything is known.',
      resolve: (lm) => averageServingSeconds(lm),
    }),
    seededServingSeconds: t.exposeFloat('seededServingSeconds', { nullable: true, description: 'The average_serving_time given at creation, if any.' }),
    servedTicketCount: t.exposeInt('servedTicketCount', { description: 'Tickets closed while assigned to them.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When they were added.' }),
  }),
});

export const UrgencyRef = builder.objectRef<Urgency>('Urgency').implement({
  description:
    'How urgent a conversation is: priority points + 2 a minute the customer has waited for an answer (at most 50) + 15 for each kind of alarm word in the unanswered messages (at most 45). Urgent at 60.',
  fields: (t) => ({
    score: t.exposeInt('score', { description: 'The total; queues are ordered by it, highest first.' }),
    urgent: t.exposeBoolean('urgent', { description: 'Whether the score reaches 60.' }),
    priority: t.field({ type: TicketPriorityEnum, description: 'The priority counted (NORMAL for conversations that are not tickets).', resolve: (u) => u.priority }),
    priorityPoints: t.exposeInt('priorityPoints', { description: 'Points from the priority.' }),
    waitPoints: t.exposeInt('waitPoints', { description: 'Points from the wait.' }),
    keywordPoints: t.exposeInt('keywordPoints', { description: 'Points from alarm words.' }),
    keywords: t.exposeStringList('keywords', { description: 'The kinds of alarm word found: urgent, refund, down, cancel, security.' }),
    waitingSince: t.field({ type: 'DateTime', nullable: true, description: 'Since when the customer has awaited an answer; null when answered.', resolve: (u) => u.waitingSince }),
    waitingSeconds: t.exposeInt('waitingSeconds', { description: 'How long that is, in seconds.' }),
    reasons: t.exposeStringList('reasons', { description: 'Why, in words.' }),
  }),
});

export const ClaimRef = builder.objectRef<ClaimRecord>('ConversationClaim').implement({
  description: 'An agent’s exclusive, expiring claim on a conversation or one of its messages (legacy 001). Claim again to renew.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The claim’s id.' }),
    conversationId: t.exposeID('conversationId', { description: 'The conversation claimed.' }),
    messageId: t.exposeID('messageId', { nullable: true, description: 'The message claimed; null for the whole conversation.' }),
    holderId: t.exposeID('holderId', { description: 'Who holds it.' }),
    holderName: t.exposeString('holderName', { description: 'Their display name.' }),
    holder: t.prismaField({
      type: UserRef,
      description: 'Who holds it.',
      resolve: (query, claim, _args, ctx) => ctx.db.user.findUniqueOrThrow({ ...query, where: { id: claim.holderId } }),
    }),
    claimedAt: t.field({ type: 'DateTime', description: 'When its holder took it (renewals keep this).', resolve: (c) => c.claimedAt }),
    expiresAt: t.field({ type: 'DateTime', description: 'When it lapses unless renewed.', resolve: (c) => c.expiresAt }),
    releasedAt: t.field({ type: 'DateTime', nullable: true, description: 'When it ended, if it has.', resolve: (c) => c.releasedAt }),
    releaseReason: t.field({ type: ClaimReleaseReasonEnum, nullable: true, description: 'Why it ended.', resolve: (c) => c.releaseReason }),
  }),
});

const rates = new WeakMap<object, Map<string, Promise<number | null>>>();

/** The workspace's service rate, once per request. */
function rateFor(ctx: Context, workspaceId: string): Promise<number | null> {
  let byWorkspace = rates.get(ctx);
  if (!byWorkspace) rates.set(ctx, (byWorkspace = new Map()));
  let rate = byWorkspace.get(workspaceId);
  if (!rate) byWorkspace.set(workspaceId, (rate = serviceRate(ctx.db, workspaceId)));
  return rate;
}

const ticketCore = { ticket: { select: { workspaceId: true, status: true, queueNumber: true, priority: true } } } as const;

export const TicketRef = builder.prismaObject('Conversation', {
  variant: 'Ticket',
  description:
    'A support ticket (legacy 002): a conversation between a customer and the workspace’s line managers, with a status, a priority, a queue position while it waits, and an urgency. Its messages, read marks and live events are the conversation’s.',
  interfaces: [ConversationRef],
  fields: (t) => ({
    status: t.field({
      type: TicketStatusEnum,
      description: 'Where it stands.',
      select: ticketCore,
      resolve: (c) => c.ticket!.status,
    }),
    priority: t.field({
      type: TicketPriorityEnum,
      description: 'How pressing it is.',
      select: ticketCore,
      resolve: (c) => c.ticket!.priority,
    }),
    product: t.relation('product', { nullable: true, description: 'The product it is about (legacy product).' }),
    topic: t.field({
      type: SupportTopicRef,
      nullable: true,
      description: 'The topic it was filed under.',
      select: { ticket: { select: { topic: true } } },
      resolve: (c) => c.ticket!.topic,
    }),
    customer: t.field({
      type: UserRef,
      description: 'The user or guest it is for (legacy user_id).',
      select: { ticket: { select: { customer: true } } },
      resolve: (c) => c.ticket!.customer,
    }),
    lineManager: t.field({
      type: LineManagerRef,
      nullable: true,
      description: 'The line manager serving it (or who served it, once closed); null while queued.',
      select: { ticket: { select: { lineManager: true } } },
      resolve: (c) => c.ticket!.lineManager,
    }),
    queuePosition: t.int({
      nullable: true,
      description: 'While OPEN: its place in the queue, 1 being next. Null otherwise. Only ever falls: the queue is first come, first served.',
      select: ticketCore,
      resolve: (c, _args, ctx) => queuePosition(ctx.db, c.ticket!),
    }),
    estimatedWaitSeconds: t.int({
      nullable: true,
      description: 'While OPEN: about how many seconds until a line manager takes it, from their measured serving times. Null otherwise or when nothing is measured yet.',
      select: ticketCore,
      resolve: async (c, _args, ctx) => {
        const position = await queuePosition(ctx.db, c.ticket!);
        return position === null ? null : estimateWait(position, await rateFor(ctx, c.ticket!.workspaceId));
      },
    }),
    urgency: t.field({
      type: UrgencyRef,
      nullable: true,
      description: 'How urgent it is now; staff only (null for customers).',
      select: { workspaceId: true, ...ticketCore, attention: { select: { awaitingSince: true, keywords: true } } },
      resolve: (c, _args, ctx) =>
        isStaff(ctx.viewer, c.workspaceId)
          ? computeUrgency({ priority: c.ticket!.priority, awaitingSince: c.attention?.awaitingSince ?? null, keywords: c.attention?.keywords ?? [] })
          : null,
    }),
    claim: t.field({
      type: ClaimRef,
      nullable: true,
      description: 'The claim an agent holds on it now, if any; staff only.',
      select: { workspaceId: true },
      resolve: (c, _args, ctx) => (isStaff(ctx.viewer, c.workspaceId) ? activeClaim(ctx, c.id) : null),
    }),
    assignedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When its line manager got it.',
      select: { ticket: { select: { assignedAt: true } } },
      resolve: (c) => c.ticket!.assignedAt,
    }),
    closedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When it was closed; null while open.',
      select: { ticket: { select: { closedAt: true } } },
      resolve: (c) => c.ticket!.closedAt,
    }),
    closedBy: t.field({
      type: UserRef,
      nullable: true,
      description: 'Who closed it (null for an API key).',
      select: { ticket: { select: { closedBy: true } } },
      resolve: (c) => c.ticket!.closedBy,
    }),
    closeNote: t.string({
      nullable: true,
      description: 'The note it was closed with.',
      select: { ticket: { select: { closeNote: true } } },
      resolve: (c) => c.ticket!.closeNote,
    }),
    reopenCount: t.int({
      description: 'How many times it was reopened.',
      select: { ticket: { select: { reopenCount: true } } },
      resolve: (c) => c.ticket!.reopenCount,
    }),
    version: t.int({
      description: 'Bumped by every change of status, assignment or priority; ticket events carry it.',
      select: { ticket: { select: { version: true } } },
      resolve: (c) => c.ticket!.version,
    }),
  }),
});

export interface QueueEntry {
  conversationId: string;
  urgency: Urgency;
  status: import('../../generated/prisma/enums.js').TicketStatus | null;
}

export const SupportQueueEntryRef = builder.objectRef<QueueEntry>('SupportQueueEntry').implement({
  description: 'One piece of work in an agent’s queue, most urgent first.',
  fields: (t) => ({
    conversation: t.prismaField({
      type: ConversationRef,
      description: 'The ticket (or conversation awaiting an answer).',
      resolve: (query, entry, _args, ctx) => ctx.db.conversation.findUniqueOrThrow({ ...query, where: { id: entry.conversationId } }),
    }),
    urgency: t.field({ type: UrgencyRef, description: 'Its urgency now.', resolve: (e) => e.urgency }),
    status: t.field({ type: TicketStatusEnum, nullable: true, description: 'For tickets, their status.', resolve: (e) => e.status }),
  }),
});

export const TicketEventTypeEnum = builder.enumType('TicketEventType', {
  description: 'What happened to a ticket.',
  values: {
    SNAPSHOT: { description: 'Where it stands now: the first event of every subscription.' },
    ASSIGNED: { description: 'A line manager got it (`agent`).' },
    TRANSFERRED: { description: 'It moved to another line manager (`agent`).' },
    POSITION_CHANGED: { description: 'Its queue position or estimated wait changed.' },
    STATUS_CHANGED: { description: 'It went from ASSIGNED to WAITING (answered) or back (the customer wrote).' },
    PRIORITY_CHANGED: { description: 'Its priority changed.' },
    CLOSED: { description: 'It was closed (`note`).' },
    REOPENED: { description: 'It was reopened and queued again.' },
  } as const,
});

const AgentRef = builder.objectRef<NonNullable<TicketEvent['agent']>>('TicketAgent').implement({
  description: 'The line manager serving a ticket, as its customer sees them.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Their user id.' }),
    displayName: t.exposeString('displayName', { description: 'Their display name.' }),
  }),
});

export const TicketEventRef = builder.objectRef<TicketEvent>('TicketEvent').implement({
  description:
    'An event of one ticket. State events carry the ticket’s `version`; position events the queue’s `queueVersion`. A subscription starts with a SNAPSHOT and drops anything older than what it delivered.',
  fields: (t) => ({
    type: t.field({ type: TicketEventTypeEnum, description: 'What happened.', resolve: (e) => e.type }),
    ticketId: t.exposeID('ticketId', { description: 'The ticket (its conversation id).' }),
    status: t.field({ type: TicketStatusEnum, description: 'Its status after the event.', resolve: (e) => e.status }),
    priority: t.field({ type: TicketPriorityEnum, description: 'Its priority after the event.', resolve: (e) => e.priority }),
    position: t.exposeInt('position', { nullable: true, description: 'While OPEN: its place in the queue, 1 being next.' }),
    estimatedWaitSeconds: t.exposeInt('estimatedWaitSeconds', { nullable: true, description: 'While OPEN: about how many seconds until it is taken; null when unknown.' }),
    lineManagerId: t.exposeID('lineManagerId', { nullable: true, description: 'The line manager serving it.' }),
    agent: t.field({ type: AgentRef, nullable: true, description: 'Who serves it.', resolve: (e) => e.agent }),
    note: t.exposeString('note', { nullable: true, description: 'CLOSED: the closing note.' }),
    version: t.exposeInt('version', { description: 'The ticket’s version after the event.' }),
    queueVersion: t.exposeInt('queueVersion', { description: 'The queue’s version its position was computed at.' }),
    at: t.field({ type: 'DateTime', description: 'When it happened.', resolve: (e) => e.at }),
  }),
});

export const SupportQueueEventTypeEnum = builder.enumType('SupportQueueEventType', {
  description: 'What happened in a workspace’s support queue.',
  values: {
    READY: { description: 'The subscription is live: read supportQueue now; every change from here on is announced.' },
    TICKET_OPENED: { description: 'A ticket was opened (`urgency` holds its first score).' },
    TICKET_ASSIGNED: { description: 'A ticket was assigned to a line manager.' },
    TICKET_TRANSFERRED: { description: 'A ticket moved to another line manager.' },
    TICKET_STATUS_CHANGED: { description: 'A ticket went from ASSIGNED to WAITING or back.' },
    TICKET_PRIORITY_CHANGED: { description: 'A ticket’s priority changed.' },
    TICKET_CLOSED: { description: 'A ticket was closed.' },
    TICKET_REOPENED: { description: 'A ticket was reopened.' },
    URGENCY_CHANGED: { description: 'A conversation’s urgency score changed.' },
    TURNED_URGENT: { description: 'A conversation became urgent: see to it.' },
    CLAIM_TAKEN: { description: 'An agent claimed a conversation or message.' },
    CLAIM_RELEASED: { description: 'A claim ended (`claim.releaseReason` says why).' },
    TICKET_RATED: { description: 'A customer rated a closed ticket (`rating` holds it).' },
  } as const,
});

const QueueTicketRef = builder.objectRef<NonNullable<SupportQueueEvent['ticket']>>('SupportQueueTicketState').implement({
  description: 'A ticket’s state as a queue event reports it.',
  fields: (t) => ({
    status: t.field({ type: TicketStatusEnum, description: 'Its status.', resolve: (s) => s.status }),
    priority: t.field({ type: TicketPriorityEnum, description: 'Its priority.', resolve: (s) => s.priority }),
    lineManagerId: t.exposeID('lineManagerId', { nullable: true, description: 'Its line manager.' }),
    agentUserId: t.exposeID('agentUserId', { nullable: true, description: 'Its line manager’s user id.' }),
    queueNumber: t.exposeInt('queueNumber', { description: 'Its order in the queue (first come, first served).' }),
    version: t.exposeInt('version', { description: 'The ticket’s version.' }),
  }),
});

const QueueUrgencyRef = builder.objectRef<NonNullable<SupportQueueEvent['urgency']>>('SupportQueueUrgency').implement({
  description: 'An urgency change as a queue event reports it.',
  fields: (t) => ({
    score: t.exposeInt('score', { description: 'The score now.' }),
    urgent: t.exposeBoolean('urgent', { description: 'Whether it is urgent now.' }),
    previousScore: t.exposeInt('previousScore', { description: 'The score before.' }),
  }),
});

const QueueClaimRef = builder.objectRef<NonNullable<SupportQueueEvent['claim']>>('SupportQueueClaim').implement({
  description: 'A claim as a queue event reports it.',
  fields: (t) => ({
    claimId: t.exposeID('claimId', { description: 'The claim’s id.' }),
    holderId: t.exposeID('holderId', { description: 'Who holds (or held) it.' }),
    holderName: t.exposeString('holderName', { description: 'Their display name.' }),
    messageId: t.exposeID('messageId', { nullable: true, description: 'The message claimed; null for the whole conversation.' }),
    expiresAt: t.field({ type: 'DateTime', description: 'When it lapses (or lapsed).', resolve: (c) => c.expiresAt }),
    releaseReason: t.field({ type: ClaimReleaseReasonEnum, nullable: true, description: 'CLAIM_RELEASED: why.', resolve: (c) => c.releaseReason }),
  }),
});

const QueueRatingRef = builder.objectRef<NonNullable<SupportQueueEvent['rating']>>('SupportQueueRating').implement({
  description: 'A satisfaction rating as a queue event reports it.',
  fields: (t) => ({
    ratingId: t.exposeID('ratingId', { description: 'The rating’s id.' }),
    score: t.exposeInt('score', { description: '1 (very dissatisfied) to 5 (very satisfied).' }),
    comment: t.exposeString('comment', { nullable: true, description: 'The customer’s comment, if any.' }),
    lineManagerId: t.exposeID('lineManagerId', { nullable: true, description: 'The line manager the ticket was assigned to when it closed.' }),
    customerId: t.exposeID('customerId', { description: 'The customer who rated.' }),
    closedAt: t.field({ type: 'DateTime', description: 'When the rated closing happened.', resolve: (r) => r.closedAt }),
  }),
});

export const SupportQueueEventRef = builder.objectRef<SupportQueueEvent>('SupportQueueEvent').implement({
  description: 'An event of a workspace’s support queue, for its agents.',
  fields: (t) => ({
    type: t.field({ type: SupportQueueEventTypeEnum, description: 'What happened.', resolve: (e) => e.type }),
    workspaceId: t.exposeID('workspaceId', { description: 'The workspace.' }),
    conversationId: t.exposeID('conversationId', { nullable: true, description: 'The ticket or conversation concerned; null for READY.' }),
    ticket: t.field({ type: QueueTicketRef, nullable: true, description: 'Ticket events: its state after the change.', resolve: (e) => e.ticket }),
    lineManagerOpenTickets: t.exposeInt('lineManagerOpenTickets', {
      nullable: true,
      description: 'Assignments, transfers and closes: the line manager’s open tickets after the change.',
    }),
    urgency: t.field({ type: QueueUrgencyRef, nullable: true, description: 'Urgency events (and TICKET_OPENED): the score.', resolve: (e) => e.urgency }),
    claim: t.field({ type: QueueClaimRef, nullable: true, description: 'Claim events: the claim.', resolve: (e) => e.claim }),
    rating: t.field({ type: QueueRatingRef, nullable: true, description: 'TICKET_RATED: the rating.', resolve: (e) => e.rating ?? null }),
    queueVersion: t.exposeInt('queueVersion', { nullable: true, description: 'Routing events: the queue’s version after the change.' }),
    at: t.field({ type: 'DateTime', description: 'When it happened.', resolve: (e) => e.at }),
  }),
});
