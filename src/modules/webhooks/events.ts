/**
 * The outbox. Modules that change something a webhook reports call {@link recordWebhookEvent}
 * inside the transaction of the change; the message pipeline, whose append is one SQL statement,
 * adds {@link messageCreatedOutbox} to that statement. Either way the event and its deliveries
 * commit with the change or not at all: no event for a change that rolled back, no change
 * without its event, whatever happens to the process after the commit.
 *
 * A workspace with no endpoint for the type pays one indexed read and writes nothing.
 *
 * Order: each conversation has a counter row (WebhookStream). Taking the next number locks that
 * row until the transaction ends, so numbers follow commit order: a later number is never
 * visible before an earlier one commits, which is what lets the worker deliver them in order.
 * Callers record their event as the last write of their transaction, so the row lock is held
 * only for its commit.
 */
import { Prisma } from '../../generated/prisma/client.js';
import type { MessageRecord } from '../conversations/records.js';

type Tx = Prisma.TransactionClient;

/** The event types an endpoint may subscribe to, by their wire names. */
export const WEBHOOK_EVENT_TYPES = [
  'message.created',
  'message.edited',
  'message.deleted',
  'ticket.opened',
  'ticket.assigned',
  'ticket.closed',
  'ticket.rated',
  'call.ended',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

export type WebhookData = Record<string, unknown>;

export interface RecordedEvent {
  type: WebhookEventType;
  workspaceId: string;
  /** The conversation (room, thread, ticket) it happened in: the unit of ordering. */
  conversationId: string;
  /**
   * The body's `data`; a function is called (inside the transaction) only when some endpoint
   * wants the event, so a workspace without webhooks never pays for building it.
   */
  data: WebhookData | ((tx: Tx) => Promise<WebhookData>);
}

/**
 * Writes an event and one pending delivery per enabled endpoint of the workspace that wants its
 * type, in the caller's transaction. Call it as the transaction's last write (see above).
 */
export async function recordWebhookEvent(tx: Tx, event: RecordedEvent): Promise<void> {
  // KEY SHARE (what the deliveries' foreign key takes anyway), so that an endpoint being deleted
  // meanwhile is waited for and skipped rather than failing the caller's change.
  const targets = await tx.$queryRaw<Array<{ id: string }>>`
    SELECT id FROM "WebhookEndpoint"
    WHERE "workspaceId" = ${event.workspaceId}::uuid AND enabled AND ${event.type} = ANY("eventTypes")
    FOR KEY SHARE`;
  if (targets.length === 0) return;
  const data = typeof event.data === 'function' ? await event.data(tx) : event.data;
  await tx.$executeRaw`
    WITH stream AS (
      INSERT INTO "WebhookStream" ("conversationId", "lastSequence") VALUES (${event.conversationId}::uuid, 1)
      ON CONFLICT ("conversationId") DO UPDATE SET "lastSequence" = "WebhookStream"."lastSequence" + 1
      RETURNING "lastSequence"
    ), ev AS (
      INSERT INTO "WebhookEvent" ("workspaceId", "conversationId", sequence, type, payload)
      SELECT ${event.workspaceId}::uuid, ${event.conversationId}::uuid, stream."lastSequence", ${event.type}, ${JSON.stringify(data)}::jsonb
      FROM stream
      RETURNING id, sequence
    )
    INSERT INTO "WebhookDelivery" ("endpointId", "eventId", "conversationId", sequence)
    SELECT t, ev.id, ${event.conversationId}::uuid, ev.sequence FROM ev, unnest(${targets.map((t) => t.id)}::uuid[]) AS t`;
}

/**
 * `message.created` for the message pipeline's single append statement: CTEs to add right after
 * its `conv` (RETURNING "lastSeq", "workspaceId"), `msg` (the inserted rows) and `linked` (the
 * attachments it linked: id, "messageId", position, name, "contentType", size) CTEs, BEFORE its
 * read-mark and member writes. PostgreSQL runs the data-modifying CTEs that the final SELECT
 * does not read at the end, later-listed first; listed before the member writes, these run after
 * them, so the statement takes the conversation's counter lock last, as every other recorder
 * does (a ticket assignment inserts the agent's membership, then records): two writers then
 * never hold one lock each while waiting for the other's. Same `data` shape as
 * {@link messageData}; nothing is written when no endpoint wants the event.
 */
export function messageCreatedOutbox(conversationId: string, count: number): Prisma.Sql {
  const iso = (column: string) => Prisma.raw(`to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`);
  return Prisma.sql`
    wh_targets AS (
      SELECT e.id FROM "WebhookEndpoint" e, conv
      WHERE e."workspaceId" = conv."workspaceId" AND e.enabled AND 'message.created' = ANY(e."eventTypes")
      FOR KEY SHARE OF e
    ), wh_stream AS (
      INSERT INTO "WebhookStream" ("conversationId", "lastSequence")
      SELECT ${conversationId}::uuid, ${count}::int WHERE EXISTS (SELECT 1 FROM wh_targets)
      ON CONFLICT ("conversationId") DO UPDATE SET "lastSequence" = "WebhookStream"."lastSequence" + EXCLUDED."lastSequence"
      RETURNING "lastSequence"
    ), wh_events AS (
      INSERT INTO "WebhookEvent" ("workspaceId", "conversationId", sequence, type, payload)
      SELECT conv."workspaceId", msg."conversationId", wh_stream."lastSequence" - conv."lastSeq" + msg.seq, 'message.created',
             jsonb_build_object('message', jsonb_build_object(
               'id', msg.id, 'conversationId', msg."conversationId", 'seq', msg.seq, 'visibility', msg.visibility, 'kind', msg.kind, 'side', msg.side,
               'body', msg.body, 'authorId', msg."authorId",
               'author', (SELECT jsonb_build_object('id', u.id, 'displayName', u."displayName", 'kind', u.kind) FROM "User" u WHERE u.id = msg."authorId"),
               'replyToId', msg."replyToId", 'clientMessageId', msg."clientMessageId",
               'attachments', COALESCE((SELECT jsonb_agg(jsonb_build_object('id', l.id, 'name', l.name, 'contentType', l."contentType", 'size', l.size)
                                                         ORDER BY l.position)
                                        FROM linked l WHERE l."messageId" = msg.id), '[]'::jsonb),
               'createdAt', ${iso('msg."createdAt"')}, 'editedAt', NULL, 'deletedAt', NULL))
      FROM msg, conv, wh_stream
      RETURNING id, "conversationId", sequence
    ), wh_deliveries AS (
      INSERT INTO "WebhookDelivery" ("endpointId", "eventId", "conversationId", sequence)
      SELECT wh_targets.id, wh_events.id, wh_events."conversationId", wh_events.sequence FROM wh_events, wh_targets
    )`;
}

/** A message as webhooks carry it (message.created, .edited, .deleted). */
export function messageData(record: MessageRecord): WebhookData {
  return {
    message: {
      id: record.id,
      conversationId: record.conversationId,
      seq: record.seq,
      // Endpoints are the workspace's own integrations: they get internal notes too, marked.
      visibility: record.visibility,
      kind: record.kind,
      side: record.side,
      body: record.body,
      authorId: record.authorId,
      author: record.author ? { id: record.author.id, displayName: record.author.displayName, kind: record.author.kind } : null,
      replyToId: record.replyTo?.id ?? null,
      clientMessageId: record.clientMessageId,
      attachments: record.attachments.map((a) => ({ id: a.id, name: a.name, contentType: a.contentType, size: a.size })),
      createdAt: record.createdAt,
      editedAt: record.editedAt,
      deletedAt: record.deletedAt,
    },
  };
}

/** A ticket as webhooks carry it, read inside the transaction (so as committed with the event). */
export function ticketData(ticketId: string, extra: WebhookData = {}): (tx: Tx) => Promise<WebhookData> {
  return async (tx) => {
    const t = await tx.supportTicket.findUniqueOrThrow({
      where: { conversationId: ticketId },
      select: {
        conversationId: true,
        status: true,
        priority: true,
        customerId: true,
        topicId: true,
        lineManagerId: true,
        lineManager: { select: { userId: true } },
        createdAt: true,
        assignedAt: true,
        closedAt: true,
        closedById: true,
        closeNote: true,
        conversation: { select: { productId: true } },
      },
    });
    return {
      ticket: {
        id: t.conversationId,
        status: t.status,
        priority: t.priority,
        customerId: t.customerId,
        topicId: t.topicId,
        productId: t.conversation.productId,
        lineManagerId: t.lineManagerId,
        agentUserId: t.lineManager?.userId ?? null,
        openedAt: t.createdAt.toISOString(),
        assignedAt: t.assignedAt?.toISOString() ?? null,
        closedAt: t.closedAt?.toISOString() ?? null,
        closedById: t.closedById,
        closeNote: t.closeNote,
      },
      ...extra,
    };
  };
}

/** A finished call as webhooks carry it, read inside the transaction. */
export function callData(callId: string): (tx: Tx) => Promise<WebhookData> {
  return async (tx) => {
    const c = await tx.call.findUniqueOrThrow({
      where: { id: callId },
      select: {
        id: true,
        conversationId: true,
        media: true,
        status: true,
        endReason: true,
        callerId: true,
        answeredById: true,
        endedById: true,
        createdAt: true,
        answeredAt: true,
        endedAt: true,
        durationSeconds: true,
        participants: { select: { userId: true, role: true } },
      },
    });
    return {
      call: {
        id: c.id,
        conversationId: c.conversationId,
        media: c.media,
        status: c.status,
        endReason: c.endReason,
        callerId: c.callerId,
        answeredById: c.answeredById,
        endedById: c.endedById,
        participants: c.participants,
        startedAt: c.createdAt.toISOString(),
        answeredAt: c.answeredAt?.toISOString() ?? null,
        endedAt: c.endedAt?.toISOString() ?? null,
        durationSeconds: c.durationSeconds,
      },
    };
  };
}
