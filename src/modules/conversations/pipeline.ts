/**
 * The one message pipeline every kind of conversation uses (rooms, threads, tickets; calls and
 * attachments write their messages through it too):
 *
 *   one statement (so one transaction), for this message and any others waiting for the same
 *   conversation: next seqs (a row lock on the conversation serialises writers, so seqs have no
 *   holes), insert, advance the authors' read marks -> commit -> publish ONE event per message,
 *   carrying the whole message, on `conversation:<id>`.
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

/** Messages written together at most, when many wait for one conversation. */
const MAX_BATCH = 100;

interface Pending {
  input: AppendInput;
  resolve: (record: MessageRecord) => void;
  reject: (err: unknown) => void;
}

/** Per database client, per conversation: the appends waiting for its write in progress. */
const waiting = new WeakMap<object, Map<string, Pending[]>>();

/**
 * Writes a message: at once when its conversation has no write in progress in this process,
 * otherwise with the others that arrived meanwhile, in one statement, when that write is done
 * (group commit). A conversation's messages are numbered under its row lock, so its writes are
 * serial whatever we do; batching pays for the lock and the commit once per batch instead of
 * once per message, which is what bounds how many messages a busy conversation takes a second.
 * Nothing waits on a timer: a lone message is written immediately.
 */
function insertMessage(services: Services, input: AppendInput): Promise<MessageRecord> {
  let byConversation = waiting.get(services.db);
  if (!byConversation) waiting.set(services.db, (byConversation = new Map()));
  const conversations = byConversation;
  return new Promise((resolve, reject) => {
    const queue = conversations.get(input.conversationId);
    if (queue) {
      queue.push({ input, resolve, reject });
      return;
    }
    conversations.set(input.conversationId, [{ input, resolve, reject }]);
    void drain(services, conversations, input.conversationId);
  });
}

async function drain(services: Services, conversations: Map<string, Pending[]>, conversationId: string): Promise<void> {
  const queue = conversations.get(conversationId)!;
  for (;;) {
    const batch = queue.splice(0, MAX_BATCH);
    if (batch.length === 0) {
      conversations.delete(conversationId);
      return;
    }
    try {
      const records = await insertMessages(services, conversationId, batch.map((p) => p.input));
      batch.forEach((p, i) => p.resolve(records[i]!));
    } catch (err) {
      if (batch.length === 1) {
        batch[0]!.reject(err);
        continue;
      }
      // One refused message (a reply target elsewhere, a repeated clientMessageId) fails the
      // statement for all: write each alone, so each gets its own answer.
      for (const p of batch) {
        try {
          p.resolve((await insertMessages(services, conversationId, [p.input]))[0]!);
        } catch (e) {
          p.reject(e);
        }
      }
    }
  }
}

/**
 * The write, in ONE statement for one message or many: the conversation's UPDATE numbers them
 * (taking its row lock for one round trip, not a transaction's seven), the INSERT stores them,
 * the authors' read marks advance (staff answering by role join). The statement is atomic: a
 * reply target outside the conversation matches no row and writes nothing; a duplicate
 * clientMessageId fails the INSERT and undoes the UPDATE, so no seq is ever skipped.
 */
async function insertMessages(services: Services, conversationId: string, inputs: AppendInput[]): Promise<MessageRecord[]> {
  const now = new Date();
  const ids = inputs.map(() => randomUUID());
  const column = <T>(pick: (i: AppendInput) => T | null | undefined) => inputs.map((i) => pick(i) ?? null);
  const rows = await services.db.$queryRaw<InsertedRow[]>`
    WITH input AS (
      SELECT * FROM unnest(${ids}::uuid[], ${column((i) => i.authorId)}::uuid[], ${column((i) => i.kind ?? 'TEXT')}::text[],
                           ${column((i) => i.side)}::text[], ${column((i) => i.body)}::text[], ${column((i) => i.replyToId)}::uuid[],
                           ${column((i) => i.clientMessageId)}::text[], ${column((i) => i.joinAuthor ?? false)}::boolean[])
        WITH ORDINALITY AS t(id, "authorId", kind, side, body, "replyToId", "clientMessageId", "joinAuthor", ord)
    ), conv AS (
      UPDATE "Conversation"
      SET "lastSeq" = "lastSeq" + ${inputs.length}::int, "lastMessageAt" = ${now}::timestamptz, "updatedAt" = ${now}::timestamptz
      WHERE id = ${conversationId}::uuid
        AND NOT EXISTS (
          SELECT 1 FROM input i
          WHERE i."replyToId" IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM "Message" t WHERE t.id = i."replyToId" AND t."conversationId" = ${conversationId}::uuid))
      RETURNING "lastSeq"
    ), msg AS (
      INSERT INTO "Message" (id, "conversationId", seq, "authorId", kind, side, body, "replyToId", "clientMessageId", "createdAt")
      SELECT i.id, ${conversationId}::uuid, conv."lastSeq" - ${inputs.length}::int + i.ord::int, i."authorId", i.kind::"MessageKind",
             i.side::"MessageSide", i.body, i."replyToId", i."clientMessageId", ${now}::timestamptz
      FROM input i, conv
      RETURNING *
    ), authors AS (
      SELECT msg."authorId", max(msg.seq) AS seq, bool_or(i."joinAuthor") AS "join"
      FROM msg JOIN input i ON i.id = msg.id
      WHERE msg."authorId" IS NOT NULL
      GROUP BY msg."authorId"
    ), read_mark AS (
      UPDATE "ConversationMember" m SET "lastReadSeq" = a.seq, "lastReadAt" = ${now}::timestamptz
      FROM authors a
      WHERE NOT a."join" AND m."conversationId" = ${conversationId}::uuid AND m."userId" = a."authorId"
    ), joined AS (
      INSERT INTO "ConversationMember" ("conversationId", "userId", "lastReadSeq", "lastReadAt")
      SELECT ${conversationId}::uuid, a."authorId", a.seq, ${now}::timestamptz FROM authors a WHERE a."join"
      ON CONFLICT ("conversationId", "userId")
      DO UPDATE SET "lastReadSeq" = EXCLUDED."lastReadSeq", "lastReadAt" = EXCLUDED."lastReadAt"
    )
    SELECT msg.id, msg."conversationId", msg.seq, msg.kind::text AS kind, msg.side::text AS side, msg.body, msg."authorId",
           msg."clientMessageId", msg."createdAt", msg."editedAt", msg."deletedAt",
           u.id AS author_id, u."displayName" AS "author_displayName", u.kind::text AS author_kind, u."createdAt" AS "author_createdAt",
           r.id AS reply_id, r.seq AS reply_seq, r."authorId" AS "reply_authorId", r.body AS reply_body, r."deletedAt" AS "reply_deletedAt"
    FROM msg
    LEFT JOIN "User" u ON u.id = msg."authorId"
    LEFT JOIN "Message" r ON r.id = msg."replyToId"
    ORDER BY msg.seq`;
  if (rows.length !== inputs.length) {
    if (inputs.length > 1) throw new Error('a message of the batch was refused');
    const exists = await services.db.conversation.count({ where: { id: conversationId } });
    if (!exists) throw new NotFoundError('Conversation');
    throw new NotFoundError('Message', 'The message replied to is not in this conversation.');
  }
  const byId = new Map(rows.map((row) => [row.id, row]));
  return ids.map((id) => {
    const row = byId.get(id)!;
    return toMessageRecord({
      ...row,
      author: row.author_id
        ? { id: row.author_id, displayName: row.author_displayName!, kind: row.author_kind!, createdAt: row.author_createdAt! }
        : null,
      replyTo: row.reply_id
        ? { id: row.reply_id, seq: row.reply_seq!, authorId: row.reply_authorId, body: row.reply_body!, deletedAt: row.reply_deletedAt }
        : null,
    });
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
