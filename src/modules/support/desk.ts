/**
 * Routing: which line manager serves which ticket, exact under concurrency.
 *
 * Every change to assignments (opening, closing, reopening, taking, transferring a ticket;
 * creating or updating a line manager) runs in one transaction that first locks the workspace's
 * SupportDesk row (an upsert, so the row need not exist). Changes in one workspace are therefore
 * serialised across every instance, on PostgreSQL and PGlite alike; inside the lock the
 * transaction reads the line managers' open-ticket counts, picks, and writes the ticket and the
 * count together, so a count always equals the open tickets really assigned and never exceeds
 * a capacity. The lock also bumps the desk's queueVersion, which numbers queue entries (first
 * come, first served) and orders position events.
 *
 * Waiting requests queue in memory per workspace on each instance first, so a burst of 200
 * tickets holds one pooled connection per instance instead of 200 waiting on the row lock.
 */
import { notifyTicketAssigned } from '../notifications/listeners.js';
import type { Prisma } from '../../generated/prisma/client.js';
import type { TicketPriority } from '../../generated/prisma/enums.js';
import type { Services } from '../../graphql/context.js';
import { ConflictError, ForbiddenError, ValidationError } from '../../graphql/errors.js';
import { announceJoined } from '../conversations/membership.js';
import { announceClaims, endClaimsIn, type ClaimRecord } from './claims.js';
import { queueTicketEvent, ticketEvent, ticketStateSelect, type TicketState } from './events.js';
import { estimateWait, serviceRate } from './queue.js';
import type { SupportQueueEvent, TicketEvent } from './topics.js';
import { computeUrgency } from './urgency.js';
import { recordWebhookEvent, ticketData } from '../webhooks/events.js';

type Tx = Prisma.TransactionClient;

/** Generous: a routing transaction may wait behind other instances' for the desk lock. */
const TX_OPTIONS = { maxWait: 30_000, timeout: 30_000 } as const;

interface Effects {
  ticketEvents: TicketEvent[];
  queueEvents: SupportQueueEvent[];
  joins: Array<{ conversationId: string; userId: string }>;
  releasedClaims: ClaimRecord[];
  /** Queued tickets' positions (or the estimate) may have changed: tell each its own. */
  positionsChanged: boolean;
}

export interface Desk {
  tx: Tx;
  workspaceId: string;
  /** This change's desk version: a ticket entering the queue now gets it as its queueNumber. */
  queueVersion: number;
  now: Date;
  effects: Effects;
}

/** Who acts on a ticket: a person (or none, for an API key) and whether they administer. */
export interface Actor {
  userId: string | null;
  admin: boolean;
}

declare module '../../graphql/context.js' {
  interface Services {
    /** Routing changes of this instance waiting for their workspace's desk (built by app.ts). */
    deskQueue: DeskQueue;
  }
}

/**
 * Runs one workspace's routing changes one after another within this instance, so that a burst
 * does not hold every pooled connection while waiting for the desk's row lock.
 */
export class DeskQueue {
  /** Per workspace: the last change queued (settled either way). */
  private readonly chains = new Map<string, Promise<unknown>>();

  run<T>(workspaceId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.chains.get(workspaceId) ?? Promise.resolve();
    const run = previous.then(work, work);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.chains.set(workspaceId, tail);
    void tail.then(() => {
      if (this.chains.get(workspaceId) === tail) this.chains.delete(workspaceId);
    });
    return run;
  }
}

async function lockDesk(tx: Tx, workspaceId: string): Promise<number> {
  const rows = await tx.$queryRaw<Array<{ queueVersion: number }>>`
    INSERT INTO "SupportDesk" ("workspaceId", "queueVersion") VALUES (${workspaceId}::uuid, 1)
    ON CONFLICT ("workspaceId") DO UPDATE SET "queueVersion" = "SupportDesk"."queueVersion" + 1
    RETURNING "queueVersion"`;
  return Number(rows[0]!.queueVersion);
}

/**
 * Runs a routing change under the workspace's desk lock, then (committed) publishes what it did.
 * An error thrown by `work` rolls everything back: nothing changes, nothing is announced.
 */
export async function runDesk<T>(services: Services, workspaceId: string, work: (desk: Desk) => Promise<T>): Promise<T> {
  let assigned: TicketEvent[] = [];
  const result = await services.deskQueue.run(workspaceId, async () => {
    const effects: Effects = { ticketEvents: [], queueEvents: [], joins: [], releasedClaims: [], positionsChanged: false };
    let queueVersion = 0;
    const result = await services.db.$transaction(async (tx) => {
      queueVersion = await lockDesk(tx, workspaceId);
      return work({ tx, workspaceId, queueVersion, now: new Date(), effects });
    }, TX_OPTIONS);
    // Published in commit order: the next change of this workspace waits for this. The change
    // is committed whatever happens here; a failed announcement is logged, never reported as a
    // failed change (subscribers catch up from the database).
    await publishEffects(services, workspaceId, queueVersion, effects).catch((err: unknown) =>
      services.logger.error({ err, workspaceId }, 'announcing a routing change failed'),
    );
    assigned = effects.ticketEvents.filter((e) => (e.type === 'ASSIGNED' || e.type === 'TRANSFERRED') && e.agent);
    return result;
  });
  // Outside the workspace's queue: a notification needs no place in the desk's order, so the
  // next routing change does not wait for it.
  for (const e of assigned) {
    await notifyTicketAssigned(services, { ticketId: e.ticketId, workspaceId, assigneeId: e.agent!.id }).catch((err: unknown) =>
      services.logger.error({ err, workspaceId, ticketId: e.ticketId }, 'notifying of an assigned ticket failed'),
    );
  }
  return result;
}

async function publishEffects(services: Services, workspaceId: string, queueVersion: number, effects: Effects): Promise<void> {
  await Promise.all([
    ...effects.ticketEvents.map((e) => services.pubsub.publish('ticket', e.ticketId, e)),
    ...effects.queueEvents.map((e) => services.pubsub.publish('supportQueue', workspaceId, e)),
    announceClaims(services, 'CLAIM_RELEASED', effects.releasedClaims),
    ...effects.joins.map(async (j) => {
      const { lastSeq } = await services.db.conversation.findUniqueOrThrow({ where: { id: j.conversationId }, select: { lastSeq: true } });
      await announceJoined(services, j.conversationId, j.userId, lastSeq);
    }),
  ]);
  if (effects.positionsChanged) await publishPositions(services, workspaceId, queueVersion);
}

/** Tells every queued ticket its position and estimated wait. */
async function publishPositions(services: Services, workspaceId: string, queueVersion: number): Promise<void> {
  const [queued, rate] = await Promise.all([
    services.db.supportTicket.findMany({ where: { workspaceId, status: 'OPEN' }, orderBy: { queueNumber: 'asc' }, select: ticketStateSelect }),
    serviceRate(services.db, workspaceId),
  ]);
  await Promise.all(
    queued.map((t, i) =>
      services.pubsub.publish(
        'ticket',
        t.conversationId,
        ticketEvent('POSITION_CHANGED', t, { position: i + 1, estimatedWaitSeconds: estimateWait(i + 1, rate), queueVersion }),
      ),
    ),
  );
}

/** The least loaded active line manager with room (ties by position in line), or null. */
async function pickLineManager(desk: Desk): Promise<{ id: string } | null> {
  return desk.tx.lineManager.findFirst({
    where: { workspaceId: desk.workspaceId, active: true, openTicketCount: { lt: desk.tx.lineManager.fields.capacity } },
    orderBy: [{ openTicketCount: 'asc' }, { positionInLine: 'asc' }, { createdAt: 'asc' }, { id: 'asc' }],
    select: { id: true },
  });
}

async function assign(desk: Desk, ticketId: string, lineManagerId: string, type: 'ASSIGNED' | 'TRANSFERRED' = 'ASSIGNED'): Promise<TicketState> {
  const { tx, now, effects } = desk;
  const lm = await tx.lineManager.update({
    where: { id: lineManagerId },
    data: { openTicketCount: { increment: 1 } },
    select: { userId: true, openTicketCount: true },
  });
  const ticket = await tx.supportTicket.update({
    where: { conversationId: ticketId },
    data: {
      lineManagerId,
      assignedAt: now,
      version: { increment: 1 },
      ...(type === 'ASSIGNED' ? { status: 'ASSIGNED' as const } : {}),
    },
    select: ticketStateSelect,
  });
  const { count } = await tx.conversationMember.createMany({ data: [{ conversationId: ticketId, userId: lm.userId }], skipDuplicates: true });
  if (count) effects.joins.push({ conversationId: ticketId, userId: lm.userId });
  const transferred = type === 'TRANSFERRED';
  await recordWebhookEvent(tx, { type: 'ticket.assigned', workspaceId: desk.workspaceId, conversationId: ticketId, data: ticketData(ticketId, { transferred }) });
  effects.ticketEvents.push(ticketEvent(type, ticket, { queueVersion: desk.queueVersion }));
  effects.queueEvents.push(
    queueTicketEvent(type === 'ASSIGNED' ? 'TICKET_ASSIGNED' : 'TICKET_TRANSFERRED', ticket, {
      lineManagerOpenTickets: lm.openTicketCount,
      queueVersion: desk.queueVersion,
    }),
  );
  return ticket;
}

/** Gives queued tickets, head first, to line managers with room until one side runs out. */
export async function drainQueue(desk: Desk): Promise<void> {
  for (;;) {
    const lm = await pickLineManager(desk);
    if (!lm) return;
    const head = await desk.tx.supportTicket.findFirst({
      where: { workspaceId: desk.workspaceId, status: 'OPEN' },
      orderBy: { queueNumber: 'asc' },
      select: { conversationId: true },
    });
    if (!head) return;
    await assign(desk, head.conversationId, lm.id);
    desk.effects.positionsChanged = true;
  }
}

async function lineManagerOf(tx: Tx, id: string | null) {
  if (!id) return null;
  return tx.lineManager.findUnique({
    where: { id },
    select: { id: true, userId: true, active: true, capacity: true, openTicketCount: true, user: { select: { displayName: true } } },
  });
}

async function lockedTicket(desk: Desk, ticketId: string) {
  // Status moves into and out of OPEN and CLOSED only under the desk lock, which we hold; the
  // row lock also keeps a message's ASSIGNED/WAITING flip from interleaving with this change.
  await desk.tx.$queryRaw`SELECT 1 FROM "SupportTicket" WHERE "conversationId" = ${ticketId}::uuid FOR UPDATE`;
  return desk.tx.supportTicket.findUniqueOrThrow({
    where: { conversationId: ticketId },
    select: { ...ticketStateSelect, assignedAt: true, customerId: true },
  });
}

export interface OpenTicketInput {
  customerId: string;
  productId: string;
  topicId: string | null;
  topicName: string | null;
  priority: TicketPriority;
}

/** Opens a ticket: a TICKET conversation with its customer, queued, then routed. */
export async function openTicketIn(desk: Desk, input: OpenTicketInput): Promise<string> {
  const { tx, now } = desk;
  const conversation = await tx.conversation.create({
    data: {
      workspaceId: desk.workspaceId,
      kind: 'TICKET',
      productId: input.productId,
      name: input.topicName,
      createdById: input.customerId,
      members: { create: { userId: input.customerId, role: 'OWNER' } },
    },
    select: { id: true },
  });
  const ticket = await tx.supportTicket.create({
    data: {
      conversationId: conversation.id,
      workspaceId: desk.workspaceId,
      topicId: input.topicId,
      customerId: input.customerId,
      priority: input.priority,
      queueNumber: desk.queueVersion,
      createdAt: now,
    },
    select: ticketStateSelect,
  });
  // Opening a ticket is the customer's request: the wait for an answer starts now.
  const urgency = computeUrgency({ priority: input.priority, awaitingSince: now, keywords: [] }, now);
  await tx.conversationAttention.create({
    data: { conversationId: conversation.id, workspaceId: desk.workspaceId, awaitingSince: now, keywords: [], urgency: urgency.score, urgent: urgency.urgent },
  });
  desk.effects.queueEvents.push(
    queueTicketEvent('TICKET_OPENED', ticket, {
      queueVersion: desk.queueVersion,
      urgency: { score: urgency.score, urgent: urgency.urgent, previousScore: 0 },
    }),
  );
  await recordWebhookEvent(tx, { type: 'ticket.opened', workspaceId: desk.workspaceId, conversationId: conversation.id, data: ticketData(conversation.id) });
  await drainQueue(desk);
  return conversation.id;
}

/**
 * Closes a ticket: by its line manager, or an admin (API keys are admins). An API key caller
 * naming `expectLineManagerId` (legacy close_ticket's line_manager) must name the assigned one.
 */
export async function closeTicketIn(
  desk: Desk,
  input: { ticketId: string; actor: Actor; note: string | null; expectLineManagerId: string | null },
): Promise<void> {
  const { tx, now } = desk;
  const ticket = await lockedTicket(desk, input.ticketId);
  if (ticket.status === 'CLOSED') throw new ConflictError('This ticket is already closed.');
  const lm = await lineManagerOf(tx, ticket.lineManagerId);
  const assignedName = lm ? `${lm.user.displayName} (line manager ${lm.id})` : 'no one';
  if (input.expectLineManagerId && input.expectLineManagerId !== ticket.lineManagerId) {
    throw new ForbiddenError(`This ticket is assigned to ${assignedName}, not to line manager ${input.expectLineManagerId}.`);
  }
  const mine = lm !== null && input.actor.userId !== null && lm.userId === input.actor.userId;
  if (!mine && !input.actor.admin) {
    throw new ForbiddenError(
      ticket.status === 'OPEN'
        ? 'This ticket is still queued; only an admin may close it.'
        : `This ticket is assigned to ${assignedName}; only they or an admin may close it.`,
    );
  }
  const wasServed = ticket.status === 'ASSIGNED' || ticket.status === 'WAITING';
  const closed = await tx.supportTicket.update({
    where: { conversationId: ticket.conversationId },
    data: { status: 'CLOSED', closedAt: now, closedById: input.actor.userId, closeNote: input.note, version: { increment: 1 } },
    select: ticketStateSelect,
  });
  let openTickets: number | null = null;
  if (wasServed && lm) {
    const servedSeconds = ticket.assignedAt ? Math.max(0, (now.getTime() - ticket.assignedAt.getTime()) / 1000) : 0;
    const updated = await tx.lineManager.update({
      where: { id: lm.id },
      data: { openTicketCount: { decrement: 1 }, servedTicketCount: { increment: 1 }, servingSecondsTotal: { increment: servedSeconds } },
      select: { openTicketCount: true },
    });
    openTickets = updated.openTicketCount;
  }
  await tx.conversationAttention.updateMany({
    where: { conversationId: ticket.conversationId },
    data: { awaitingSince: null, keywords: [], urgency: 0, urgent: false },
  });
  desk.effects.releasedClaims.push(...(await endClaimsIn(tx, ticket.conversationId, 'CLOSED', now)));
  await recordWebhookEvent(tx, { type: 'ticket.closed', workspaceId: desk.workspaceId, conversationId: ticket.conversationId, data: ticketData(ticket.conversationId) });
  desk.effects.ticketEvents.push(ticketEvent('CLOSED', closed, { queueVersion: desk.queueVersion }));
  desk.effects.queueEvents.push(queueTicketEvent('TICKET_CLOSED', closed, { lineManagerOpenTickets: openTickets, queueVersion: desk.queueVersion }));
  // A closed ticket frees its line manager (or leaves the queue), and the serving time just
  // measured changes every estimate.
  desk.effects.positionsChanged = true;
  await drainQueue(desk);
}

/** Reopens a closed ticket: it joins the back of the queue and is routed again. */
export async function reopenTicketIn(desk: Desk, ticketId: string): Promise<void> {
  const ticket = await lockedTicket(desk, ticketId);
  if (ticket.status !== 'CLOSED') throw new ConflictError('This ticket is not closed; only a closed ticket can be reopened.');
  const reopened = await desk.tx.supportTicket.update({
    where: { conversationId: ticketId },
    data: {
      status: 'OPEN',
      lineManagerId: null,
      assignedAt: null,
      closedAt: null,
      closedById: null,
      closeNote: null,
      queueNumber: desk.queueVersion,
      reopenCount: { increment: 1 },
      version: { increment: 1 },
    },
    select: ticketStateSelect,
  });
  const urgency = computeUrgency({ priority: reopened.priority, awaitingSince: desk.now, keywords: [] }, desk.now);
  await desk.tx.conversationAttention.upsert({
    where: { conversationId: ticketId },
    create: { conversationId: ticketId, workspaceId: desk.workspaceId, awaitingSince: desk.now, keywords: [], urgency: urgency.score, urgent: urgency.urgent },
    update: { awaitingSince: desk.now, keywords: [], urgency: urgency.score, urgent: urgency.urgent },
  });
  desk.effects.ticketEvents.push(ticketEvent('REOPENED', reopened, { queueVersion: desk.queueVersion }));
  desk.effects.queueEvents.push(queueTicketEvent('TICKET_REOPENED', reopened, { queueVersion: desk.queueVersion }));
  desk.effects.positionsChanged = true;
  await drainQueue(desk);
}

/** A line manager takes a queued ticket out of turn (manual take). */
export async function takeTicketIn(desk: Desk, ticketId: string, lineManagerId: string): Promise<void> {
  const ticket = await lockedTicket(desk, ticketId);
  if (ticket.status === 'CLOSED') throw new ConflictError('This ticket is closed; reopen it first.');
  if (ticket.status !== 'OPEN') {
    const holder = ticket.lineManager?.user.displayName ?? 'someone';
    throw new ConflictError(`This ticket is already assigned to ${holder}; use transferTicket to move it.`);
  }
  const lm = await lineManagerOf(desk.tx, lineManagerId);
  if (!lm || !lm.active) throw new ConflictError('This line manager is inactive and takes no tickets.');
  if (lm.openTicketCount >= lm.capacity) {
    throw new ConflictError(`${lm.user.displayName} is at capacity (${lm.openTicketCount} of ${lm.capacity} open tickets).`);
  }
  await assign(desk, ticketId, lm.id);
  desk.effects.positionsChanged = true;
}

/** Moves an open ticket from its line manager to another with room. */
export async function transferTicketIn(desk: Desk, input: { ticketId: string; lineManagerId: string; actor: Actor }): Promise<void> {
  const { tx } = desk;
  const ticket = await lockedTicket(desk, input.ticketId);
  if (ticket.status === 'CLOSED') throw new ConflictError('This ticket is closed; reopen it first.');
  if (ticket.status === 'OPEN' || !ticket.lineManagerId) {
    throw new ConflictError('This ticket is still queued; use takeTicket to assign it.');
  }
  const from = (await lineManagerOf(tx, ticket.lineManagerId))!;
  if (from.userId !== input.actor.userId && !input.actor.admin) {
    throw new ForbiddenError(`This ticket is assigned to ${from.user.displayName}; only they or an admin may transfer it.`);
  }
  if (input.lineManagerId === from.id) {
    throw new ValidationError([{ path: ['lineManagerId'], message: 'is already assigned this ticket' }]);
  }
  const to = await lineManagerOf(tx, input.lineManagerId);
  if (!to || !to.active) throw new ConflictError('That line manager is inactive and takes no tickets.');
  if (to.openTicketCount >= to.capacity) {
    throw new ConflictError(`${to.user.displayName} is at capacity (${to.openTicketCount} of ${to.capacity} open tickets).`);
  }
  await tx.lineManager.update({ where: { id: from.id }, data: { openTicketCount: { decrement: 1 } } });
  await assign(desk, ticket.conversationId, to.id, 'TRANSFERRED');
  await drainQueue(desk);
}
