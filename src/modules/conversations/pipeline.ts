/**
 * The one message pipeline every kind of conversation uses (rooms, threads, tickets; calls and
 * attachments write their messages through it too):
 *
 *   one statement (so one transaction): next seq (a row lock on the conversation serialises
 *   senders, so seqs have no holes), insert the message, advance the author's read mark ->
 *   commit -> publish ONE event carrying the whole message on `conversation:<id>`.
 *
 * Sends are idempotent on (conversation, author, clientMessageId) through a unique index: a
 * retry returns the first message, never a second row, and a losing concurrent insert rolls back
 * its seq so no hole is left.
 */
import { randomUUID } from 'node:crypto';
import { Prisma } from '../../generated/prisma/client.js';
import type { MessageKind, MessageSide, UserKind } from '../../generated/prisma/enums.js';
import type { Services } from '../../graphql/context.js';
import { NotFoundError, ValidationError } from '../../graphql/errors.js';
import { isUniqueViolation } from '../../db/errors.js';
import { messageSelect, toMessageRecord, type MessageRecord } from './records.js';
import type { ConversationEvent } from './topics.js';

export const MAX_BODY_LENGTH = 10_000;

export interface AppendInput {
  conversationId: string;
  authorId: string | null;
  body: string;
  kind?: MessageKind;
  side?: MessageSide | null;
  replyToId?: string | null;
  clientMessageId?: string | null;
  /** Make the author a member if they are not (staff answering a room they reach by role). */
  joinAuthor?: boolean;
}

export interface AppendResult {
  record: MessageRecord;
  /** False when an earlier send with the same clientMessageId is returned. */
  created: boolean;
}

async function findByClientId(services: Services, input: AppendInput) {
  if (!input.clientMessageId || !input.authorId) return null;
  const row = await services.db.message.findUnique({
    where: {
      conversationId_authorId_clientMessageId: {
        conversationId: input.conversationId,
        authorId: input.authorId,
        clientMessageId: input.clientMessageId,
      },
    },
    select: messageSelect,
  });
  return row ? toMessageRecord(row) : null;
}

/** Appends a message and announces it. */
export async function appendMessage(services: Services, input: AppendInput): Promise<AppendResult> {
  const body = input.body;
  if (input.kind !== 'SYSTEM' && body.trim().length === 0) {
    throw new ValidationError([{ path: ['input', 'body'], message: 'must not be empty' }]);
  }
  if (body.length > MAX_BODY_LENGTH) {
    throw new ValidationError([{ path: ['input', 'body'], message: `must be at most ${MAX_BODY_LENGTH} characters` }]);
  }
  const earlier = await findByClientId(services, input);
  if (earlier) return { record: earlier, created: false };

  let record: MessageRecord;
  try {
    record = await insertMessage(services, input);
  } catch (err) {
    if (isUniqueViolation(err)) {
      const winner = await findByClientId(services, input);
      if (winner) return { record: winner, created: false };
    }
    throw err;
  }
  await publishConversationEvent(services, { type: 'MESSAGE_ADDED', conversationId: input.conversationId, seq: record.seq, message: record });
  return { record, created: true };
}

interface InsertedRow {
  id: string;
  conversationId: string;
  seq: number;
  kind: MessageKind;
  side: MessageSide | null;
  body: string;
  authorId: string | null;
  clientMessageId: string | null;
  createdAt: Date;
  editedAt: Date | null;
  deletedAt: Date | null;
  author_id: string | null;
  author_displayName: string | null;
  author_kind: UserKind | null;
  author_createdAt: Date | null;
  reply_id: string | null;
  reply_seq: number | null;
  reply_authorId: string | null;
  reply_body: string | null;
  reply_deletedAt: Date | null;
}

/**
 * The write, in ONE statement: the row lock on the conversation (taken by its UPDATE, which
 * numbers the message) is held for a single round trip instead of a transaction's seven, which
 * is what bounds how many messages one conversation takes a second. The statement is atomic: a
 * reply target outside the conversation matches no row and writes nothing; a duplicate
 * clientMessageId fails the INSERT and undoes the UPDATE, so no seq is ever skipped.
 */
async function insertMessage(services: Services, input: AppendInput): Promise<MessageRecord> {
  const id = randomUUID();
  const now = new Date();
  const conversationId = input.conversationId;
  const replyToId = input.replyToId ?? null;
  // The author has read what they wrote (and staff answering by role join).
  const readMark = !input.authorId
    ? Prisma.empty
    : input.joinAuthor
      ? Prisma.sql`, read_mark AS (
          INSERT INTO "ConversationMember" ("conversationId", "userId", "lastReadSeq", "lastReadAt")
          SELECT msg."conversationId", msg."authorId", msg.seq, msg."createdAt" FROM msg
          ON CONFLICT ("conversationId", "userId")
          DO UPDATE SET "lastReadSeq" = EXCLUDED."lastReadSeq", "lastReadAt" = EXCLUDED."lastReadAt"
        )`
      : Prisma.sql`, read_mark AS (
          UPDATE "ConversationMember" m SET "lastReadSeq" = msg.seq, "lastReadAt" = msg."createdAt"
          FROM msg WHERE m."conversationId" = msg."conversationId" AND m."userId" = msg."authorId"
        )`;
  const rows = await services.db.$queryRaw<InsertedRow[]>`
    WITH conv AS (
      UPDATE "Conversation"
      SET "lastSeq" = "lastSeq" + 1, "lastMessageAt" = ${now}::timestamptz, "updatedAt" = ${now}::timestamptz
      WHERE id = ${conversationId}::uuid
        AND (${replyToId}::uuid IS NULL OR EXISTS (
          SELECT 1 FROM "Message" t WHERE t.id = ${replyToId}::uuid AND t."conversationId" = ${conversationId}::uuid))
      RETURNING "lastSeq"
    ), msg AS (
      INSERT INTO "Message" (id, "conversationId", seq, "authorId", kind, side, body, "replyToId", "clientMessageId", "createdAt")
      SELECT ${id}::uuid, ${conversationId}::uuid, conv."lastSeq", ${input.authorId}::uuid, ${input.kind ?? 'TEXT'}::"MessageKind",
             ${input.side ?? null}::"MessageSide", ${input.body}::text, ${replyToId}::uuid, ${input.clientMessageId ?? null}::text,
             ${now}::timestamptz
      FROM conv
      RETURNING *
    )${readMark}
    SELECT msg.id, msg."conversationId", msg.seq, msg.kind::text AS kind, msg.side::text AS side, msg.body, msg."authorId",
           msg."clientMessageId", msg."createdAt", msg."editedAt", msg."deletedAt",
           u.id AS author_id, u."displayName" AS "author_displayName", u.kind::text AS author_kind, u."createdAt" AS "author_createdAt",
           r.id AS reply_id, r.seq AS reply_seq, r."authorId" AS "reply_authorId", r.body AS reply_body, r."deletedAt" AS "reply_deletedAt"
    FROM msg
    LEFT JOIN "User" u ON u.id = msg."authorId"
    LEFT JOIN "Message" r ON r.id = msg."replyToId"`;
  const row = rows[0];
  if (!row) {
    const exists = await services.db.conversation.count({ where: { id: conversationId } });
    if (!exists) throw new NotFoundError('Conversation');
    throw new NotFoundError('Message', 'The message replied to is not in this conversation.');
  }
  return toMessageRecord({
    ...row,
    author: row.author_id
      ? { id: row.author_id, displayName: row.author_displayName!, kind: row.author_kind!, createdAt: row.author_createdAt! }
      : null,
    replyTo: row.reply_id
      ? { id: row.reply_id, seq: row.reply_seq!, authorId: row.reply_authorId, body: row.reply_body!, deletedAt: row.reply_deletedAt }
      : null,
  });
}

/** Publishes one event on the conversation's channel, stamped with the time. */
export function publishConversationEvent(services: Services, event: Omit<ConversationEvent, 'at'>): Promise<void> {
  return services.pubsub.publish('conversation', event.conversationId, { ...event, at: new Date().toISOString() });
}

/** Loads one message as a record, or null. */
export async function loadMessage(services: Services, id: string): Promise<MessageRecord | null> {
  const row = await services.db.message.findUnique({ where: { id }, select: messageSelect });
  return row ? toMessageRecord(row) : null;
}
