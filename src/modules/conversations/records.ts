/**
 * The message as it travels: one JSON-safe record built once per message, read from the database
 * for history and carried whole in events for live delivery.
 */
import type { MessageKind, MessageSide, MessageVisibility, UserKind } from '../../generated/prisma/enums.js';
import { attachmentSelect, toAttachmentRecord, type AttachmentRecord, type AttachmentRow } from '../attachments/records.js';

export interface AuthorRecord {
  id: string;
  displayName: string;
  kind: UserKind;
  createdAt: string;
}

/** One @mention in a message's body: a person who can read the conversation, or @here. */
export interface MentionRecord {
  /** Offset of the "@" in the body, in UTF-16 code units (JavaScript string indices). */
  start: number;
  /** Length of the mention, "@" included. */
  length: number;
  userId: string | null;
  username: string | null;
  here: boolean;
}

/** One emoji's reactions to a message, in brief. */
export interface ReactionSummaryRecord {
  emoji: string;
  count: number;
  /** The first reactors (at most FIRST_REACTORS), earliest first. */
  userIds: string[];
}

/** How many reactors each emoji's summary lists; Message.reactors pages through the rest. */
export const FIRST_REACTORS = 10;

export interface MessageRecord {
  id: string;
  conversationId: string;
  /**
   * Staff numbering (every message, notes included). In a record made for a customer
   * (visibility.ts `forCustomer`) it is the customer's numbering, `publicSeq`.
   */
  seq: number;
  /** PUBLIC, or INTERNAL for a staff note (never in a customer's record). */
  visibility: MessageVisibility;
  /** Customer numbering: PUBLIC messages 1, 2, 3 … with no holes; a note has the one before it. */
  publicSeq: number;
  kind: MessageKind;
  side: MessageSide | null;
  /** Empty once deleted: the body is withheld. */
  body: string;
  authorId: string | null;
  author: AuthorRecord | null;
  replyTo: { id: string; seq: number; publicSeq: number; authorId: string | null; excerpt: string } | null;
  /** Files it carries, in order; empty once deleted (withheld like the body). */
  attachments: AttachmentRecord[];
  clientMessageId: string | null;
  createdAt: string;
  editedAt: string | null;
  deletedAt: string | null;
  /**
   * Its place in the conversation's stream (messages and changes share one order), in the staff
   * numbering; in a record made for a customer (visibility.ts `forCustomer`), in theirs.
   */
  position: number;
  /** Its place in the customer's numbering of the stream; null for a note. */
  publicPosition: number | null;
  /** Empty once deleted. */
  mentions: MentionRecord[];
  reactions: ReactionSummaryRecord[];
  pinnedAt: string | null;
  pinnedById: string | null;
}

/** The Prisma selection that {@link toMessageRecord} reads. */
export const messageSelect = {
  id: true,
  conversationId: true,
  seq: true,
  visibility: true,
  publicSeq: true,
  kind: true,
  side: true,
  body: true,
  authorId: true,
  clientMessageId: true,
  createdAt: true,
  editedAt: true,
  deletedAt: true,
  position: true,
  publicPosition: true,
  mentions: true,
  reactionSummary: true,
  pinnedAt: true,
  pinnedById: true,
  author: { select: { id: true, displayName: true, kind: true, createdAt: true } },
  replyTo: { select: { id: true, seq: true, publicSeq: true, authorId: true, body: true, deletedAt: true } },
  attachments: { select: attachmentSelect, orderBy: { position: 'asc' } },
} as const;

/** A message's own columns, as read by Prisma (messageSelect) and by the append statement. */
export interface MessageColumns {
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
}

type Row = MessageColumns & {
  author: { id: string; displayName: string; kind: UserKind; createdAt: Date } | null;
  replyTo: { id: string; seq: number; publicSeq: number; authorId: string | null; body: string; deletedAt: Date | null } | null;
  attachments: AttachmentRow[];
};

const EXCERPT = 140;

export function toMessageRecord(row: Row): MessageRecord {
  return {
    id: row.id,
    conversationId: row.conversationId,
    seq: row.seq,
    visibility: row.visibility,
    publicSeq: row.publicSeq,
    kind: row.kind,
    side: row.side,
    body: row.deletedAt ? '' : row.body,
    authorId: row.authorId,
    author: row.author ? { ...row.author, createdAt: row.author.createdAt.toISOString() } : null,
    replyTo: row.replyTo
      ? {
          id: row.replyTo.id,
          seq: row.replyTo.seq,
          publicSeq: row.replyTo.publicSeq,
          authorId: row.replyTo.authorId,
          excerpt: row.replyTo.deletedAt ? '' : row.replyTo.body.slice(0, EXCERPT),
        }
      : null,
    attachments: row.deletedAt ? [] : row.attachments.map(toAttachmentRecord),
    clientMessageId: row.clientMessageId,
    createdAt: row.createdAt.toISOString(),
    editedAt: row.editedAt?.toISOString() ?? null,
    deletedAt: row.deletedAt?.toISOString() ?? null,
    position: row.position,
    publicPosition: row.publicPosition,
    mentions: row.deletedAt ? [] : ((row.mentions as MentionRecord[] | null) ?? []),
    reactions: (row.reactionSummary as ReactionSummaryRecord[] | null) ?? [],
    pinnedAt: row.pinnedAt?.toISOString() ?? null,
    pinnedById: row.pinnedById,
  };
}
