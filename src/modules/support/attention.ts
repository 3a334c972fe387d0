/**
 * Whether a customer awaits an answer, and how urgent that is, kept per conversation as messages
 * arrive (a pipeline listener), priorities change, and time passes (the sweeper).
 *
 * Who is the customer: in a ticket, the person it is for; elsewhere anyone who is not staff
 * (ADMIN, AGENT) of the workspace. Group rooms and one-to-one threads have no customer side and
 * are left alone. A customer's message starts (or extends) the wait; a staff message answers
 * everything before it. Messages are ordered by seq, so listeners running out of order still
 * leave the right state.
 *
 * A ticket's status follows the conversation too: a staff answer makes an ASSIGNED ticket
 * WAITING (on the customer), and the customer's next message makes it ASSIGNED again.
 */
import type { Prisma } from '../../generated/prisma/client.js';
import type { TicketPriority } from '../../generated/prisma/enums.js';
import type { Services } from '../../graphql/context.js';
import type { AppendedTo } from '../conversations/pipeline.js';
import type { MessageRecord } from '../conversations/records.js';
import { computeUrgency, keywordsIn, WAIT_POINTS_MAX, WAIT_POINTS_PER_MINUTE, type Urgency } from './urgency.js';
import { publishTicketChange, ticketStateSelect } from './events.js';
import type { SupportQueueEvent } from './topics.js';

type Tx = Prisma.TransactionClient;

interface AttentionRow {
  awaitingSince: Date | null;
  lastCustomerSeq: number;
  lastStaffSeq: number;
  keywords: string[];
  urgency: number;
  urgent: boolean;
}

/** Conversations with a customer side: tickets, agent/client threads, support-like rooms. */
export function hasCustomerSide(c: Pick<AppendedTo, 'kind' | 'roomType' | 'direct'>): boolean {
  if (c.direct) return false;
  if (c.kind === 'ROOM') return c.roomType !== null && c.roomType !== 'GROUP';
  return true;
}

async function lockAttention(tx: Tx, conversationId: string, workspaceId: string): Promise<AttentionRow> {
  await tx.$executeRaw`
    INSERT INTO "ConversationAttention" ("conversationId", "workspaceId", "keywords", "updatedAt")
    VALUES (${conversationId}::uuid, ${workspaceId}::uuid, '{}', now())
    ON CONFLICT ("conversationId") DO NOTHING`;
  const rows = await tx.$queryRaw<AttentionRow[]>`
    SELECT "awaitingSince", "lastCustomerSeq", "lastStaffSeq", "keywords", "urgency", "urgent"
    FROM "ConversationAttention" WHERE "conversationId" = ${conversationId}::uuid FOR UPDATE`;
  const row = rows[0]!;
  return { ...row, awaitingSince: row.awaitingSince ? new Date(row.awaitingSince) : null, keywords: row.keywords ?? [] };
}

export function urgencyEvent(
  workspaceId: string,
  conversationId: string,
  before: { urgency: number; urgent: boolean },
  after: Urgency,
): SupportQueueEvent {
  return {
    type: after.urgent && !before.urgent ? 'TURNED_URGENT' : 'URGENCY_CHANGED',
    workspaceId,
    conversationId,
    ticket: null,
    lineManagerOpenTickets: null,
    urgency: { score: after.score, urgent: after.urgent, previousScore: before.urgency },
    claim: null,
    queueVersion: null,
    at: new Date().toISOString(),
  };
}

/** The pipeline listener: a message arrived in a conversation. */
export async function noteMessage(services: Services, record: MessageRecord, conversation: AppendedTo): Promise<void> {
  // A note is staff talking among themselves: it neither answers the customer nor asks anything.
  if (!hasCustomerSide(conversation) || !record.authorId || record.kind === 'SYSTEM' || record.visibility === 'INTERNAL') return;
  let priority: TicketPriority = 'NORMAL';
  let fromCustomer: boolean;
  if (conversation.kind === 'TICKET') {
    const ticket = await services.db.supportTicket.findUnique({
      where: { conversationId: conversation.id },
      select: { customerId: true, priority: true, status: true },
    });
    if (!ticket || ticket.status === 'CLOSED') return;
    priority = ticket.priority;
    fromCustomer = record.authorId === ticket.customerId;
  } else {
    const m = await services.db.membership.findUnique({
      where: { workspaceId_userId: { workspaceId: conversation.workspaceId, userId: record.authorId } },
      select: { role: true },
    });
    fromCustomer = m?.role !== 'ADMIN' && m?.role !== 'AGENT';
  }
  const hits = fromCustomer ? keywordsIn(record.body) : [];
  const sentAt = new Date(record.createdAt);

  const outcome = await services.db.$transaction(async (tx) => {
    // Ticket row first, then attention: the order routing (close, reopen) locks them in.
    if (conversation.kind === 'TICKET') {
      await tx.$queryRaw`SELECT 1 FROM "SupportTicket" WHERE "conversationId" = ${conversation.id}::uuid FOR UPDATE`;
    }
    const row = await lockAttention(tx, conversation.id, conversation.workspaceId);
    const next = { ...row };
    if (fromCustomer) {
      next.lastCustomerSeq = Math.max(row.lastCustomerSeq, record.seq);
      if (record.seq > row.lastStaffSeq) {
        next.awaitingSince = row.awaitingSince ?? sentAt;
        next.keywords = [...new Set([...row.keywords, ...hits])];
      }
    } else {
      next.lastStaffSeq = Math.max(row.lastStaffSeq, record.seq);
      if (row.lastCustomerSeq < record.seq) {
        next.awaitingSince = null;
        next.keywords = [];
      }
    }
    const urgency = computeUrgency({ priority, awaitingSince: next.awaitingSince, keywords: next.keywords });
    await tx.conversationAttention.update({
      where: { conversationId: conversation.id },
      data: {
        awaitingSince: next.awaitingSince,
        lastCustomerSeq: next.lastCustomerSeq,
        lastStaffSeq: next.lastStaffSeq,
        keywords: next.keywords,
        urgency: urgency.score,
        urgent: urgency.urgent,
      },
    });
    let ticket = null;
    if (conversation.kind === 'TICKET') {
      // Conditional updates: a close or reassignment under the desk lock is never undone here.
      const [from, to] = fromCustomer ? (['WAITING', 'ASSIGNED'] as const) : (['ASSIGNED', 'WAITING'] as const);
      const answered = !fromCustomer && next.awaitingSince === null;
      if (fromCustomer || answered) {
        const { count } = await tx.supportTicket.updateMany({
          where: { conversationId: conversation.id, status: from },
          data: { status: to, version: { increment: 1 } },
        });
        if (count) ticket = await tx.supportTicket.findUniqueOrThrow({ where: { conversationId: conversation.id }, select: ticketStateSelect });
      }
    }
    return { before: row, urgency, ticket };
  });

  if (outcome.ticket) await publishTicketChange(services, 'STATUS_CHANGED', outcome.ticket);
  if (outcome.urgency.score !== outcome.before.urgency) {
    await services.pubsub.publish(
      'supportQueue',
      conversation.workspaceId,
      urgencyEvent(conversation.workspaceId, conversation.id, outcome.before, outcome.urgency),
    );
  }
}

/** Recomputes one conversation's urgency now (its priority changed) and announces a change. */
export async function recomputeUrgency(services: Services, conversationId: string, workspaceId: string, priority: TicketPriority): Promise<Urgency> {
  const outcome = await services.db.$transaction(async (tx) => {
    const row = await lockAttention(tx, conversationId, workspaceId);
    const urgency = computeUrgency({ priority, awaitingSince: row.awaitingSince, keywords: row.keywords });
    await tx.conversationAttention.update({ where: { conversationId }, data: { urgency: urgency.score, urgent: urgency.urgent } });
    return { before: row, urgency };
  });
  if (outcome.urgency.score !== outcome.before.urgency) {
    await services.pubsub.publish('supportQueue', workspaceId, urgencyEvent(workspaceId, conversationId, outcome.before, outcome.urgency));
  }
  return outcome.urgency;
}

/**
 * As time passes, waits grow: recompute every awaiting conversation's urgency and announce the
 * changes (TURNED_URGENT when one crosses the line). The update is conditional on the score it
 * read, so with several instances sweeping each change is announced once.
 */
export async function sweepUrgency(services: Services): Promise<number> {
  // Past WAIT_POINTS_MAX the wait adds nothing: only waits younger than that (with an hour's
  // margin for an instance that was down) can still change a score as time passes.
  const since = new Date(Date.now() - (WAIT_POINTS_MAX / WAIT_POINTS_PER_MINUTE + 60) * 60_000);
  const rows = await services.db.conversationAttention.findMany({
    where: { awaitingSince: { gt: since } },
    select: {
      conversationId: true,
      workspaceId: true,
      awaitingSince: true,
      keywords: true,
      urgency: true,
      urgent: true,
      conversation: { select: { ticket: { select: { priority: true, status: true } } } },
    },
  });
  const now = new Date();
  let changed = 0;
  for (const row of rows) {
    const ticket = row.conversation.ticket;
    if (ticket?.status === 'CLOSED') continue;
    const urgency = computeUrgency({ priority: ticket?.priority ?? 'NORMAL', awaitingSince: row.awaitingSince, keywords: row.keywords }, now);
    if (urgency.score === row.urgency) continue;
    const { count } = await services.db.conversationAttention.updateMany({
      where: { conversationId: row.conversationId, urgency: row.urgency, awaitingSince: row.awaitingSince },
      data: { urgency: urgency.score, urgent: urgency.urgent },
    });
    if (count === 0) continue;
    changed++;
    await services.pubsub.publish('supportQueue', row.workspaceId, urgencyEvent(row.workspaceId, row.conversationId, row, urgency));
  }
  return changed;
}
