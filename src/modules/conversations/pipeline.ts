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
 *
 * A message carrying uploads takes the same path: the statement also links its pending
 * attachments, and runs in a transaction that is undone if one of them could not be linked.
 */
import { randomUUID } from 'node:crypto';
import type { ConversationChangeType, ConversationKind, MessageKind, MessageSide, MessageVisibility, RoomType, UserKind } from '../../generated/prisma/enums.js';
import type { Services } from '../../graphql/context.js';
import { ClaimHeldError, ConflictError, NotFoundError, ValidationError } from '../../graphql/errors.js';
import { isUniqueViolation } from '../../db/errors.js';
import { Prisma } from '../../generated/prisma/client.js';
import type { AttachmentRow } from '../attachments/records.js';
import { messageSelect, toMessageRecord, type MentionRecord, type MessageRecord } from './records.js';
import type { ConversationEvent } from './topics.js';
import { messageCreatedOutbox } from '../webhooks/events.js';
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
   * its statement (they keep the `position` they were stored with, which orders them); a message
   * with attachments may have an empty body. One that is not a pending upload of this
   * conversation refuses the send (NotFoundError) and nothing is written.
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
      // Every message, with uploads or without, goes through the group commit's one statement.
      ({ record, head } = await this.insertMessage(services, input));
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

/** A row of the append statement: the message, its author, what it replies to, its files, its conversation. */
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
  /** The attachments it linked, in their order (jsonb: every field is JSON-safe). */
  attachments: AttachmentRow[];
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

/** The one mapping of an appended row: to the record every reader gets, and its conversation. */
function toInserted(row: InsertedRow): Inserted {
  const record = toMessageRecord({
    ...row,
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
    id: row.conversationId,
    workspaceId: row.conv_workspaceId,
    kind: row.conv_kind,
    roomType: row.conv_roomType,
    direct: row.conv_direct,
  };
  return { record, head };
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
 * their pending attachments are linked, the authors' read marks advance (staff answering by role
 * join). The statement is atomic: a reply target outside the conversation matches no row and
 * writes nothing; a duplicate clientMessageId fails the INSERT and undoes the UPDATE, so no seq is
 * ever skipped.
 *
 * Attachments: the link takes the conversation's lock first and each attachment's row after it
 * (as a room's deletion does), and skips one that is not, when it gets there, a pending upload of
 * this conversation (unknown, another conversation's, already linked, swept). A statement cannot
 * undo itself for a row it skipped, so a batch carrying attachments runs in a transaction that
 * is rolled back when a message linked fewer than it was given.
 */
async function insertMessages(services: Services, conversationId: string, inputs: AppendInput[]): Promise<Inserted[]> {
  const now = new Date();
  const ids = inputs.map(() => randomUUID());
  const column = <T>(pick: (i: AppendInput) => T | null | undefined) => inputs.map((i) => pick(i) ?? null);
  // The customer's numbering: each PUBLIC message of the batch takes the next publicSeq; a note
  // takes the number of the public message before it.
  let publicCount = 0;
  const publicOrd = inputs.map((i) => ((i.visibility ?? 'PUBLIC') === 'PUBLIC' ? ++publicCount : publicCount));
  // The attachments to link, as (message, attachment) pairs.
  const links = inputs.flatMap((input, i) => (input.attachmentIds ?? []).map((attachmentId) => ({ messageId: ids[i]!, attachmentId })));
  const statement = Prisma.sql`
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
    ), linked AS (
      UPDATE "Attachment" a SET "messageId" = l."messageId"
      FROM unnest(${links.map((l) => l.messageId)}::uuid[], ${links.map((l) => l.attachmentId)}::uuid[]) AS l("messageId", id)
      JOIN msg ON msg.id = l."messageId"
      WHERE a.id = l.id AND a."conversationId" = ${conversationId}::uuid AND a."messageId" IS NULL
      RETURNING a.id, a."messageId", a.position, a.name, a.size, a."contentType", a.sha256, a.width, a.height
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
           COALESCE((SELECT jsonb_agg(jsonb_build_object('id', l.id, 'name', l.name, 'size', l.size, 'contentType', l."contentType",
                                                         'sha256', l.sha256, 'width', l.width, 'height', l.height) ORDER BY l.position)
                     FROM linked l WHERE l."messageId" = msg.id), '[]'::jsonb) AS attachments,
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
  const rows =
    links.length === 0
      ? await services.db.$queryRaw<InsertedRow[]>(statement)
      : await services.db.$transaction(async (tx) => {
          const written = await tx.$queryRaw<InsertedRow[]>(statement);
          const byId = new Map(written.map((row) => [row.id, row]));
          const short = inputs.some((input, i) => {
            const row = byId.get(ids[i]!);
            return row !== undefined && row.attachments.length !== new Set(input.attachmentIds ?? []).size;
          });
          if (short) throw new NotFoundError('Attachment', 'An attachment is not a pending upload of this conversation.');
          return written;
        });
  if (rows.length !== inputs.length) {
    if (inputs.length > 1) throw new Error('a message of the batch was refused');
    const exists = await services.db.conversation.count({ where: { id: conversationId } });
    if (!exists) throw new NotFoundError('Conversation');
    throw new NotFoundError('Message', 'The message replied to is not in this conversation.');
  }
  const byId = new Map(rows.map((row) => [row.id, toInserted(row)]));
  return ids.map((id) => byId.get(id)!);
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
