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
import type { ConversationChangeType, ConversationKind, MessageKind, MessageSide, MessageVisibility, RoomType, UserKind } from '../../generated/prisma/enums.js';
import type { Services } from '../../graphql/context.js';
import { ClaimHeldError, ConflictError, NotFoundError, ValidationError } from '../../graphql/errors.js';
import { isUniqueViolation } from '../../db/errors.js';
import { messageSelect, toMessageRecord, type MentionRecord, type MessageRecord } from './records.js';
import type { ConversationEvent } from './topics.js';
import { messageCreatedOutbox, messageData, recordWebhookEvent } from '../webhooks/events.js';
import { resolveMentions } from '../notifications/mentions.js';

export const MAX_BODY_LENGTH = 10_000;

/**
 * What an append refuses with, its own checks and its guards' (a claim held by another agent, a
 * closed ticket): every mutation that sends through the pipeline lists these in its result union.
 */
export const APPEND_ERRORS = [ValidationError, NotFoundError, ClaimHeldError, ConflictError];

export interface AppendInput {
  conversationId: string;
  authorId: string | null;
  body: string;
  kind?: MessageKind;
  side?: MessageSide | null;
  replyToId?: string | null;
  clientMessageId?: string | null;
  /**
   * PUBLIC (the default) or INTERNAL: a staff note (visibility.ts). The caller checks that the
   * author is staff. A PUBLIC message may not reply to a note (the customer could not see what it answers).
   */
  visibility?: MessageVisibility;
  /** Make the author a member if they are not (staff answering a room they reach by role). */
  joinAuthor?: boolean;
  /**
   * Pending attachments (stored, not yet linked) of this conversation to link to the message in
   * its transaction (their order is their `position`); a message with attachments may have an empty body.
   */
  attachmentIds?: string[];
  /** The body's @mentions, resolved before the write (see notifications/mentions.ts); stored with it. */
  mentions?: MentionRecord[];
}

export interface AppendResult {
  record: MessageRecord;
  /** False when an earlier send with the same clientMessageId is returned. */
  created: boolean;
}

/**
 * A check another module runs before a message is written (support: a claim held by another
 * agent, a closed ticket). Throwing one of {@link APPEND_ERRORS} refuses the send; nothing is
 * written. Not run for a retry that returns an earlier message.
 */
export type AppendGuard = (services: Services, input: AppendInput) => Promise<void>;

/** The conversation a message was appended to, as the append's own update returned it. */
export interface AppendedTo {
  id: string;
  workspaceId: string;
  kind: ConversationKind;
  roomType: RoomType | null;
  direct: boolean;
}

/**
 * Told after a message is committed and announced (support: ticket status and urgency). Awaited,
 * so the sender sees its effects; a failure is logged and never fails the send.
 */
export type AppendListener = (services: Services, record: MessageRecord, conversation: AppendedTo) => Promise<void>;

/**
 * Told after a change to a message (edit, delete, reaction, pin) is committed and announced
 * (changes.ts; notifications: mentions added by an edit). Awaited; a failure is logged and never
 * fails the change.
 */
export type ChangeListener = (services: Services, type: ConversationChangeType, record: MessageRecord) => Promise<void>;

/** What other modules add to the pipeline; app.ts gives them, in the order they run. */
export interface PipelineHooks {
  /** Run before a message is written, in order (support: claims, closed tickets). */
  guards: AppendGuard[];
  /** Told after a message is committed and announced, in order (support: urgency; notifications). */
  appended: AppendListener[];
  /** Told after a change to a message is committed and announced, in order (notifications). */
  changed: ChangeListener[];
}

declare module '../../graphql/context.js' {
  interface Services {
    /** The message pipeline: every message is written through it (built by app.ts with its hooks). */
    pipeline: MessagePipeline;
  }
}

/**
 * The pipeline of one app: its hooks, and the appends waiting for a conversation's write in
 * progress (the group commit, see `insertMessage`).
 */
export class MessagePipeline {
  /** Per conversation: the appends waiting for its write in progress. */
  private readonly waiting = new Map<string, Pending[]>();

  constructor(private readonly hooks: PipelineHooks) {}

  /** Appends a message and announces it. */
  async append(services: Services, input: AppendInput): Promise<AppendResult> {
    const body = input.body;
    const attachmentIds = input.attachmentIds ?? [];
    if (input.kind !== 'SYSTEM' && body.trim().length === 0 && attachmentIds.length === 0) {
      throw new ValidationError([{ path: ['input', 'body'], message: 'must not be empty' }]);
    }
    if (body.length > MAX_BODY_LENGTH) {
      throw new ValidationError([{ path: ['input', 'body'], message: `must be at most ${MAX_BODY_LENGTH} characters` }]);
    }
    if (input.visibility === 'INTERNAL' && attachmentIds.length > 0) {
      throw new ValidationError([{ path: ['input', 'visibility'], message: 'an internal note carries text only' }]);
    }
    const earlier = await findByClientId(services, input);
    if (earlier) return { record: earlier, created: false };
    for (const guard of this.hooks.guards) await guard(services, input);
    if (input.mentions === undefined && input.kind !== 'SYSTEM' && body.includes('@')) {
      input = { ...input, mentions: await resolveMentions(services, input.conversationId, body, input.authorId, input.visibility ?? 'PUBLIC') };
    }

    let record: MessageRecord;
    let head: AppendedTo;
    try {
      // Text goes through the group commit; a message linking uploads (rare, and already slow for
      // its bytes) takes a transaction of its own.
      ({ record, head } = attachmentIds.length > 0 ? await insertWithAttachments(services, input, attachmentIds) : await this.insertMessage(services, input));
    } catch (err) {
      if (isUniqueViolation(err)) {
        const winner = await findByClientId(services, input);
        if (winner) return { record: winner, created: false };
      }
      throw err;
    }
    await publishConversationEvent(services, {
      type: 'MESSAGE_ADDED',
      conversationId: input.conversationId,
      seq: record.seq,
      position: record.position,
      message: record,
    });
    for (const listener of this.hooks.appended) {
      await listener(services, record, head).catch((err: unknown) =>
        services.logger.error({ err, conversationId: record.conversationId, seq: record.seq }, 'append listener failed'),
      );
    }
    return { record, created: true };
  }

  /** Tells the change listeners of a change committed and announced at `position` (changes.ts). */
  async changed(services: Services, type: ConversationChangeType, record: MessageRecord, position: number): Promise<void> {
    for (const listener of this.hooks.changed) {
      await listener(services, type, record).catch((err: unknown) =>
        services.logger.error({ err, conversationId: record.conversationId, position }, 'change listener failed'),
      );
    }
  }

  /**
   * Writes a message: at once when its conversation has no write in progress in this process,
   * otherwise with the others that arrived meanwhile, in one statement, when that write is done
   * (group commit). A conversation's messages are numbered under its row lock, so its writes are
   * serial whatever we do; batching pays for the lock and the commit once per batch instead of
   * once per message, which is what bounds how many messages a busy conversation takes a second.
   * Nothing waits on a timer: a lone message is written immediately.
   */
  private insertMessage(services: Services, input: AppendInput): Promise<Inserted> {
    const conversations = this.waiting;
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

interface Inserted {
  record: MessageRecord;
  head: AppendedTo;
}

/** A message with attachments: one transaction that numbers it, inserts it and links its files. */
async function insertWithAttachments(services: Services, input: AppendInput, attachmentIds: string[]): Promise<Inserted> {
  return services.db.$transaction(async (tx) => {
    if (input.replyToId) {
      const target = await tx.message.findFirst({ where: { id: input.replyToId, conversationId: input.conversationId, visibility: 'PUBLIC' }, select: { id: true } });
      if (!target) throw new NotFoundError('Message', 'The message replied to is not in this conversation.');
    }
    const now = new Date();
    // Attachments are never notes (append refuses that): this message is PUBLIC, so it
    // takes the next number in both numberings of messages and of the stream.
    const {
      lastSeq: seq,
      lastPublicSeq: publicSeq,
      lastPosition: position,
      lastPublicPosition: publicPosition,
      ...head
    } = await tx.conversation.update({
      where: { id: input.conversationId },
      data: {
        lastSeq: { increment: 1 },
        lastPublicSeq: { increment: 1 },
        lastPosition: { increment: 1 },
        lastPublicPosition: { increment: 1 },
        lastMessageAt: now,
      },
      select: {
        lastSeq: true,
        lastPublicSeq: true,
        lastPosition: true,
        lastPublicPosition: true,
        id: true,
        workspaceId: true,
        kind: true,
        roomType: true,
        direct: true,
      },
    });
    const message = await tx.message.create({
      data: {
        conversationId: input.conversationId,
        seq,
        publicSeq,
        authorId: input.authorId,
        kind: input.kind ?? 'TEXT',
        side: input.side ?? null,
        body: input.body,
        replyToId: input.replyToId ?? null,
        clientMessageId: input.clientMessageId ?? null,
        createdAt: now,
        position,
        publicPosition,
        mentions: (input.mentions ?? []) as never,
      },
      select: { id: true },
    });
    const { count } = await tx.attachment.updateMany({
      where: { id: { in: attachmentIds }, conversationId: input.conversationId, messageId: null },
      data: { messageId: message.id },
    });
    if (count !== new Set(attachmentIds).size) throw new NotFoundError('Attachment', 'An attachment is not a pending upload of this conversation.');
    if (input.authorId) {
      if (input.joinAuthor) {
        await tx.conversationMember.upsert({
          where: { conversationId_userId: { conversationId: input.conversationId, userId: input.authorId } },
          create: { conversationId: input.conversationId, userId: input.authorId, lastReadSeq: seq, lastReadPublicSeq: publicSeq, lastReadAt: now },
          update: { lastReadSeq: seq, lastReadPublicSeq: publicSeq, lastReadAt: now },
        });
      } else {
        await tx.conversationMember.updateMany({
          where: { conversationId: input.conversationId, userId: input.authorId },
          data: { lastReadSeq: seq, lastReadPublicSeq: publicSeq, lastReadAt: now },
        });
      }
    }
    const row = await tx.message.findUniqueOrThrow({ where: { id: message.id }, select: messageSelect });
    const record = toMessageRecord(row);
    await recordWebhookEvent(tx, { type: 'message.created', workspaceId: head.workspaceId, conversationId: input.conversationId, data: messageData(record) });
    return { record, head };
  });
}

interface InsertedRow {
  id: string;
  conversationId: string;
  seq: number;
  visibility: MessageVisibility;
  publicSeq: number;
  kind: MessageKind;
  side: MessageSide | null;
  body: string;
  authorId: string | null;
  clientMessageId: string | null;
  createdAt: Date;
  editedAt: Date | null;
  deletedAt: Date | null;
  position: number;
  publicPosition: number | null;
  mentions: unknown;
  reactionSummary: unknown;
  pinnedAt: Date | null;
  pinnedById: string | null;
  author_id: string | null;
  author_displayName: string | null;
  author_kind: UserKind | null;
  author_createdAt: Date | null;
  reply_id: string | null;
  reply_seq: number | null;
  reply_publicSeq: number | null;
  reply_authorId: string | null;
  reply_body: string | null;
  reply_deletedAt: Date | null;
  conv_workspaceId: string;
  conv_kind: ConversationKind;
  conv_roomType: RoomType | null;
  conv_direct: boolean;
}

/** Messages written together at most, when many wait for one conversation. */
const MAX_BATCH = 100;

interface Pending {
  input: AppendInput;
  resolve: (inserted: Inserted) => void;
  reject: (err: unknown) => void;
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
async function insertMessages(services: Services, conversationId: string, inputs: AppendInput[]): Promise<Inserted[]> {
  const now = new Date();
  const ids = inputs.map(() => randomUUID());
  const column = <T>(pick: (i: AppendInput) => T | null | undefined) => inputs.map((i) => pick(i) ?? null);
  // The customer's numbering: each PUBLIC message of the batch takes the next publicSeq; a note
  // takes the number of the public message before it.
  let publicCount = 0;
  const publicOrd = inputs.map((i) => ((i.visibility ?? 'PUBLIC') === 'PUBLIC' ? ++publicCount : publicCount));
  const rows = await services.db.$queryRaw<InsertedRow[]>`
    WITH input AS (
      SELECT * FROM unnest(${ids}::uuid[], ${column((i) => i.authorId)}::uuid[], ${column((i) => i.kind ?? 'TEXT')}::text[],
                           ${column((i) => i.side)}::text[], ${column((i) => i.body)}::text[], ${column((i) => i.replyToId)}::uuid[],
                           ${column((i) => i.clientMessageId)}::text[], ${column((i) => i.joinAuthor ?? false)}::boolean[],
                           ${column((i) => JSON.stringify(i.mentions ?? []))}::jsonb[],
                           ${column((i) => i.visibility ?? 'PUBLIC')}::text[], ${publicOrd}::int[])
        WITH ORDINALITY AS t(id, "authorId", kind, side, body, "replyToId", "clientMessageId", "joinAuthor", mentions, visibility, "publicOrd", ord)
    ), conv AS (
      UPDATE "Conversation"
      SET "lastSeq" = "lastSeq" + ${inputs.length}::int, "lastPublicSeq" = "lastPublicSeq" + ${publicCount}::int,
          "lastPosition" = "lastPosition" + ${inputs.length}::int,
          "lastPublicPosition" = "lastPublicPosition" + ${publicCount}::int,
          "lastMessageAt" = CASE WHEN ${publicCount}::int > 0 THEN ${now}::timestamptz ELSE "lastMessageAt" END,
          "updatedAt" = ${now}::timestamptz
      WHERE id = ${conversationId}::uuid
        AND NOT EXISTS (
          SELECT 1 FROM input i
          WHERE i."replyToId" IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM "Message" t WHERE t.id = i."replyToId" AND t."conversationId" = ${conversationId}::uuid
                              AND (i.visibility = 'INTERNAL' OR t.visibility = 'PUBLIC')))
      RETURNING "lastSeq", "lastPublicSeq", "lastPosition", "lastPublicPosition", "workspaceId", kind, "roomType", direct
    ), msg AS (
      INSERT INTO "Message" (id, "conversationId", seq, visibility, "publicSeq", "authorId", kind, side, body, "replyToId", "clientMessageId",
                             "createdAt", position, "publicPosition", mentions)
      SELECT i.id, ${conversationId}::uuid, conv."lastSeq" - ${inputs.length}::int + i.ord::int, i.visibility::"MessageVisibility",
             conv."lastPublicSeq" - ${publicCount}::int + i."publicOrd", i."authorId", i.kind::"MessageKind",
             i.side::"MessageSide", i.body, i."replyToId", i."clientMessageId", ${now}::timestamptz,
             conv."lastPosition" - ${inputs.length}::int + i.ord::int,
             CASE WHEN i.visibility = 'PUBLIC' THEN conv."lastPublicPosition" - ${publicCount}::int + i."publicOrd" END,
             i.mentions
      FROM input i, conv
      RETURNING *
    ), ${messageCreatedOutbox(conversationId, inputs.length)}, authors AS (
      SELECT msg."authorId", max(msg.seq) AS seq, max(msg."publicSeq") AS "publicSeq", bool_or(i."joinAuthor") AS "join"
      FROM msg JOIN input i ON i.id = msg.id
      WHERE msg."authorId" IS NOT NULL
      GROUP BY msg."authorId"
    ), read_mark AS (
      UPDATE "ConversationMember" m SET "lastReadSeq" = a.seq, "lastReadPublicSeq" = a."publicSeq", "lastReadAt" = ${now}::timestamptz
      FROM authors a
      WHERE NOT a."join" AND m."conversationId" = ${conversationId}::uuid AND m."userId" = a."authorId"
    ), joined AS (
      INSERT INTO "ConversationMember" ("conversationId", "userId", "lastReadSeq", "lastReadPublicSeq", "lastReadAt")
      SELECT ${conversationId}::uuid, a."authorId", a.seq, a."publicSeq", ${now}::timestamptz FROM authors a WHERE a."join"
      ON CONFLICT ("conversationId", "userId")
      DO UPDATE SET "lastReadSeq" = EXCLUDED."lastReadSeq", "lastReadPublicSeq" = EXCLUDED."lastReadPublicSeq", "lastReadAt" = EXCLUDED."lastReadAt"
    )
    SELECT msg.id, msg."conversationId", msg.seq, msg.visibility::text AS visibility, msg."publicSeq", msg.kind::text AS kind,
           msg.side::text AS side, msg.body, msg."authorId",
           msg."clientMessageId", msg."createdAt", msg."editedAt", msg."deletedAt", msg.position, msg."publicPosition", msg.mentions,
           msg."reactionSummary", msg."pinnedAt", msg."pinnedById",
           u.id AS author_id, u."displayName" AS "author_displayName", u.kind::text AS author_kind, u."createdAt" AS "author_createdAt",
           r.id AS reply_id, r.seq AS reply_seq, r."publicSeq" AS "reply_publicSeq", r."authorId" AS "reply_authorId", r.body AS reply_body,
           r."deletedAt" AS "reply_deletedAt",
           conv."workspaceId" AS "conv_workspaceId", conv.kind::text AS conv_kind, conv."roomType"::text AS "conv_roomType",
           conv.direct AS conv_direct
    FROM msg
    CROSS JOIN conv
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
    const record = toMessageRecord({
      ...row,
      attachments: [],
      author: row.author_id
        ? { id: row.author_id, displayName: row.author_displayName!, kind: row.author_kind!, createdAt: row.author_createdAt! }
        : null,
      replyTo: row.reply_id
        ? {
            id: row.reply_id,
            seq: row.reply_seq!,
            publicSeq: row.reply_publicSeq!,
            authorId: row.reply_authorId,
            body: row.reply_body!,
            deletedAt: row.reply_deletedAt,
          }
        : null,
    });
    const head: AppendedTo = {
      id: conversationId,
      workspaceId: row.conv_workspaceId,
      kind: row.conv_kind,
      roomType: row.conv_roomType,
      direct: row.conv_direct,
    };
    return { record, head };
  });
}

/** Publishes one event on the conversation's channel, stamped with the time. */
export function publishConversationEvent(services: Services, event: Omit<ConversationEvent, 'at'>): Promise<void> {
  // A message announced again (legacy 004) keeps its place in the stream: a duplicate there.
  const added = event.type === 'MESSAGE_ADDED' ? event.message : undefined;
  const position = event.position ?? added?.position;
  const publicPosition = event.publicPosition ?? added?.publicPosition ?? undefined;
  return services.pubsub.publish('conversation', event.conversationId, {
    ...event,
    position,
    ...(publicPosition != null ? { publicPosition } : {}),
    at: new Date().toISOString(),
  });
}

/** Loads one message as a record, or null. */
export async function loadMessage(services: Services, id: string): Promise<MessageRecord | null> {
  const row = await services.db.message.findUnique({ where: { id }, select: messageSelect });
  return row ? toMessageRecord(row) : null;
}
