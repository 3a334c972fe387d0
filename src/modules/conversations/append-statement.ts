/**
 * The append's write: what an append asks for ({@link AppendInput}), the ONE SQL statement that
 * writes one message or a batch of them for a conversation, and the one mapping of its rows to
 * message records. pipeline.ts decides when it runs (checks, guards, group commit) and what
 * follows (publish, listeners).
 */
import { randomUUID } from 'node:crypto';
import type { ConversationKind, MessageKind, MessageSide, MessageVisibility, RoomType, UserKind } from '../../generated/prisma/enums.js';
import { Prisma } from '../../generated/prisma/client.js';
import type { Services } from '../../graphql/context.js';
import { NotFoundError } from '../../graphql/errors.js';
import type { AttachmentRow } from '../attachments/records.js';
import { toMessageRecord, type MentionRecord, type MessageColumns, type MessageRecord } from './records.js';
import { messageCreatedOutbox } from '../webhooks/events.js';

/** One message to append (pipeline.ts `append`). */
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

/** The conversation a message was appended to, as the append's own update returned it. */
export interface AppendedTo {
  id: string;
  workspaceId: string;
  kind: ConversationKind;
  roomType: RoomType | null;
  direct: boolean;
}

/** A message written, with its conversation. */
export interface Inserted {
  record: MessageRecord;
  head: AppendedTo;
}

/** A row of the append statement: the message, its author, what it replies to, its files, its conversation. */
interface InsertedRow extends MessageColumns {
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

/** What the statement answers: a row per message written, or one row with no message when none was. */
type StatementRow = WrittenRow | { id: null; cleared: boolean };
type WrittenRow = InsertedRow & { cleared: boolean };
const isWritten = (row: StatementRow): row is WrittenRow => row.id !== null;

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

/**
 * An array parameter the planner cannot see into: `(SELECT $n::type)`. PostgreSQL plans a
 * prepared statement for each execution's values (a custom plan) unless its generic plan is
 * estimated no dearer than those (plus their planning). `unnest` of a parameter it can see is
 * estimated at the array's length in a custom plan (1 row for a lone send) and at 10 rows in the
 * generic one: on a database with a few busy conversations the generic plan read 245 against the
 * custom plan's 88, so the append statement, a dozen relations, was planned on every send: 60 %
 * of PostgreSQL's CPU at 100 msg/s (perf, 2026-12-07), in the send's path. Behind a sub-select both
 * estimate 10 rows, the costs match, and after five executions the statement keeps its generic plan.
 */
function opaque(values: unknown[], type: 'uuid[]' | 'text[]' | 'boolean[]' | 'jsonb[]' | 'int[]'): Prisma.Sql {
  return Prisma.sql`(SELECT ${values}::${Prisma.raw(type)})`;
}

/**
 * The append statement for `inputs` (see {@link insertMessages}), with the message ids it gives
 * them and the attachments it links. Exported for the test that checks how PostgreSQL plans it.
 */
export function appendStatement(
  conversationId: string,
  inputs: AppendInput[],
  conditions: readonly Prisma.Sql[] = [],
): { statement: Prisma.Sql; ids: string[]; links: { messageId: string; attachmentId: string }[] } {
  const now = new Date();
  const ids = inputs.map(() => randomUUID());
  const column = <T>(pick: (i: AppendInput) => T | null | undefined) => inputs.map((i) => pick(i) ?? null);
  // The customer's numbering: each PUBLIC message of the batch takes the next publicSeq; a note
  // takes the number of the public message before it.
  let publicCount = 0;
  const publicOrd = inputs.map((i) => ((i.visibility ?? 'PUBLIC') === 'PUBLIC' ? ++publicCount : publicCount));
  // The attachments to link, as (message, attachment) pairs.
  const links = inputs.flatMap((input, i) => (input.attachmentIds ?? []).map((attachmentId) => ({ messageId: ids[i]!, attachmentId })));
  const cleared = conditions.length === 0 ? Prisma.sql`true` : Prisma.join(conditions.map((c) => Prisma.sql`(${c})`), ' AND ');
  const statement = Prisma.sql`
    WITH cleared AS (
      SELECT ${cleared} AS ok
    ), input AS (
      SELECT * FROM unnest(${opaque(ids, 'uuid[]')}, ${opaque(column((i) => i.authorId), 'uuid[]')}, ${opaque(column((i) => i.kind ?? 'TEXT'), 'text[]')},
                           ${opaque(column((i) => i.side), 'text[]')}, ${opaque(column((i) => i.body), 'text[]')}, ${opaque(column((i) => i.replyToId), 'uuid[]')},
                           ${opaque(column((i) => i.clientMessageId), 'text[]')}, ${opaque(column((i) => i.joinAuthor ?? false), 'boolean[]')},
                           ${opaque(column((i) => JSON.stringify(i.mentions ?? [])), 'jsonb[]')},
                           ${opaque(column((i) => i.visibility ?? 'PUBLIC'), 'text[]')}, ${opaque(publicOrd, 'int[]')})
        WITH ORDINALITY AS t(id, "authorId", kind, side, body, "replyToId", "clientMessageId", "joinAuthor", mentions, visibility, "publicOrd", ord)
    ), conv AS (
      UPDATE "Conversation"
      SET "lastSeq" = "lastSeq" + ${inputs.length}::int, "lastPublicSeq" = "lastPublicSeq" + ${publicCount}::int,
          "lastPosition" = "lastPosition" + ${inputs.length}::int,
          "lastPublicPosition" = "lastPublicPosition" + ${publicCount}::int,
          "lastMessageAt" = CASE WHEN ${publicCount}::int > 0 THEN ${now}::timestamptz ELSE "lastMessageAt" END,
          "updatedAt" = ${now}::timestamptz
      WHERE id = ${conversationId}::uuid
        AND (SELECT ok FROM cleared)
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
    SELECT g.ok AS cleared, msg.id, msg."conversationId", msg.seq, msg.visibility::text AS visibility, msg."publicSeq", msg.kind::text AS kind,
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
    FROM cleared g
    -- One row with no message when nothing was written: it tells whether the conditions held.
    LEFT JOIN (msg
      CROSS JOIN conv
      LEFT JOIN "User" u ON u.id = msg."authorId"
      LEFT JOIN "Message" r ON r.id = msg."replyToId") ON true
    ORDER BY msg.seq`;
  return { statement, ids, links };
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
 *
 * `onlyIf`: boolean SQL expressions (the pipeline's guards' `clear`) that the conversation's
 * UPDATE also requires, so the statement writes only if every one holds. They are evaluated once,
 * in the statement's own snapshot, and the statement reports whether they held: when one did not,
 * nothing is written and the answer is null (not an error: the caller asks the guards what to
 * refuse); when they held and nothing was written, the errors are those without conditions.
 */
export async function insertMessages(services: Services, conversationId: string, inputs: AppendInput[]): Promise<Inserted[]>;
export async function insertMessages(
  services: Services,
  conversationId: string,
  inputs: AppendInput[],
  options: { onlyIf: readonly Prisma.Sql[] },
): Promise<Inserted[] | null>;
export async function insertMessages(
  services: Services,
  conversationId: string,
  inputs: AppendInput[],
  options?: { onlyIf: readonly Prisma.Sql[] },
): Promise<Inserted[] | null> {
  const { statement, ids, links } = appendStatement(conversationId, inputs, options?.onlyIf);
  const answer =
    links.length === 0
      ? await services.rows<StatementRow>(statement)
      : await services.db.$transaction(async (tx) => {
          const written = await tx.$queryRaw<StatementRow[]>(statement);
          const byId = new Map(written.filter(isWritten).map((row) => [row.id, row]));
          const short = inputs.some((input, i) => {
            const row = byId.get(ids[i]!);
            return row !== undefined && row.attachments.length !== new Set(input.attachmentIds ?? []).size;
          });
          if (short) throw new NotFoundError('Attachment', 'An attachment is not a pending upload of this conversation.');
          return written;
        });
  const rows = answer.filter(isWritten);
  if (rows.length !== inputs.length) {
    // Nothing written (the statement is atomic): a guard's condition, or a message refused.
    if (answer[0]?.cleared === false) return null;
    if (inputs.length > 1) throw new Error('a message of the batch was refused');
    const exists = await services.db.conversation.count({ where: { id: conversationId } });
    if (!exists) throw new NotFoundError('Conversation');
    throw new NotFoundError('Message', 'The message replied to is not in this conversation.');
  }
  const byId = new Map(rows.map((row) => [row.id, toInserted(row)]));
  return ids.map((id) => byId.get(id)!);
}
