/**
 * Internal notes and the two numberings of a conversation.
 *
 * A note is a message with visibility INTERNAL, written through the one pipeline into the same
 * ordered stream: staff read every message numbered by `seq` (1, 2, 3 … no holes, notes
 * included), so they resume gaplessly over notes and messages alike. Customers read only PUBLIC
 * messages, numbered by `publicSeq` (1, 2, 3 … no holes among PUBLIC messages), and every seq a
 * customer is shown (a message's seq, a cursor, a conversation's lastSeq, a read mark, an
 * unread count) is in that numbering. So for each audience "resume with after = the last seq
 * seen; no hole means nothing missed" holds exactly, and a customer cannot tell from the numbers
 * that a note exists.
 *
 * The stream (changes.ts) has the same two numberings: staff positions (`position`, every message
 * and every change, notes and changes to notes included) and the customer's `publicPosition`
 * (public messages and changes to public messages only), both taken under the conversation's row
 * lock in the statement or transaction that writes the entry. A customer's `afterPosition` is in
 * their numbering and stands for the staff position of that entry ({@link staffPositionOf}); the
 * stream orders, holds and replays in staff positions for everyone and maps what it yields.
 *
 * Who reads which: staff of the conversation's workspace (admins, agents, API keys) read the
 * staff view unless they read as a customer (`customerView`: the X-View-As header, or any legacy
 * call); everyone else reads the customer view. Every read path asks {@link seesNotes} once and,
 * for the customer view, filters with {@link PUBLIC_ONLY} and maps records with
 * {@link forCustomer} / events with {@link customerEvent}.
 */
import type { Viewer } from '../../auth/viewer.js';
import type { PrismaClient } from '../../generated/prisma/client.js';
import type { MessageRecord } from './records.js';
import type { ConversationEvent } from './topics.js';
import { isStaff } from '../../graphql/permissions.js';

/** Whether the viewer reads the staff view (notes, staff numbering) of a workspace's conversations. */
export function seesNotes(viewer: Viewer, workspaceId: string): boolean {
  if ((viewer.kind === 'user' || viewer.kind === 'apiKey') && viewer.customerView) return false;
  return isStaff(viewer, workspaceId);
}

/** The Prisma filter of the customer view. */
export const PUBLIC_ONLY = { visibility: 'PUBLIC' } as const;

const customerRecords = new WeakMap<MessageRecord, MessageRecord>();

/**
 * A PUBLIC message as a customer sees it: numbered by publicSeq. Made once per record, so that
 * every customer subscriber of an event shares one object (and one GraphQL execution).
 */
export function forCustomer(record: MessageRecord): MessageRecord {
  let mapped = customerRecords.get(record);
  if (!mapped) {
    mapped = {
      ...record,
      seq: record.publicSeq,
      // Only PUBLIC records reach here, and every PUBLIC message has a public position.
      position: record.publicPosition ?? 0,
      replyTo: record.replyTo ? { ...record.replyTo, seq: record.replyTo.publicSeq } : null,
    };
    customerRecords.set(record, mapped);
  }
  return mapped;
}

const customerEvents = new WeakMap<ConversationEvent, ConversationEvent>();

/**
 * A conversation event as a customer sees it, or null when it is about a note (the note itself,
 * or a change to it: an edit, delete, reaction or pin of a note is staff-only). Message events
 * are numbered by the message's publicSeq, other events by the publicSeq their publisher
 * stamped; an event without one (a publisher that does not know the customer's numbering) gets
 * `fallbackSeq`, the last customer seq this subscriber was given. A stream entry's position is
 * its public position (the customer's gapless numbering of the stream). Mapped once per event and
 * cached, so every customer subscriber of a live event shares one object (and one execution).
 */
export function customerEvent(event: ConversationEvent, fallbackSeq: number): ConversationEvent | null {
  if (event.message?.visibility === 'INTERNAL' || event.internal) return null;
  const cached = customerEvents.get(event);
  if (cached) return cached;
  let position: number | undefined;
  if (event.position != null) {
    position = event.publicPosition ?? (event.type === 'MESSAGE_ADDED' ? (event.message?.publicPosition ?? undefined) : undefined);
    // A stream entry with no public position is staff-only: it is not part of the customer's stream.
    if (position == null) return null;
  }
  const seq = event.message ? event.message.publicSeq : event.publicSeq;
  const { publicPosition: _staffOnly, ...rest } = event;
  const mapped: ConversationEvent = {
    ...rest,
    seq: seq ?? fallbackSeq,
    ...(position !== undefined ? { position } : {}),
    ...(event.message ? { message: forCustomer(event.message) } : {}),
  };
  if (seq !== undefined) customerEvents.set(event, mapped);
  return mapped;
}

/**
 * The staff seq that a customer's cursor stands for: the last message (notes included) at or
 * before the customer's `publicSeq`, so a replay after it misses no public message and repeats
 * none. 0 for the start.
 */
export async function staffSeqOf(db: PrismaClient, conversationId: string, publicSeq: number): Promise<number> {
  if (publicSeq <= 0) return 0;
  const row = await db.message.findFirst({
    where: { conversationId, publicSeq: { lte: publicSeq } },
    orderBy: [{ publicSeq: 'desc' }, { seq: 'desc' }],
    select: { seq: true },
  });
  return row?.seq ?? 0;
}

/** The customer's numbering at a staff seq: the publicSeq of the message there (0 at the start). */
export async function publicSeqOf(db: PrismaClient, conversationId: string, seq: number): Promise<number> {
  if (seq <= 0) return 0;
  const row = await db.message.findUnique({ where: { conversationId_seq: { conversationId, seq } }, select: { publicSeq: true } });
  return row?.publicSeq ?? 0;
}

/** A message as the viewer sees it (mutation results): as it is for staff, numbered by publicSeq for customers. */
export function asSeenBy(viewer: Viewer, workspaceId: string, record: MessageRecord): MessageRecord {
  return seesNotes(viewer, workspaceId) ? record : forCustomer(record);
}

/**
 * The staff seq of the public message a customer's read mark names (0 at the start): read
 * receipts shown to staff point at the message the customer read, not at notes after it.
 */
export async function seqOfPublic(db: PrismaClient, conversationId: string, publicSeq: number): Promise<number> {
  if (publicSeq <= 0) return 0;
  const row = await db.message.findFirst({ where: { conversationId, publicSeq, ...PUBLIC_ONLY }, select: { seq: true } });
  return row?.seq ?? 0;
}

/**
 * The staff position that a customer's stream cursor stands for: the position of the public entry
 * (message or change) numbered `publicPosition` in their numbering, so a replay after it misses no
 * public entry and repeats none. Null when there is no such entry (a number past the end).
 */
export async function staffPositionOf(db: PrismaClient, conversationId: string, publicPosition: number): Promise<number | null> {
  if (publicPosition <= 0) return 0;
  // Unique per conversation across both tables (one counter numbers them): at most one matches.
  const [message, change] = await Promise.all([
    db.message.findFirst({ where: { conversationId, publicPosition }, select: { position: true } }),
    db.conversationChange.findFirst({ where: { conversationId, publicPosition }, select: { position: true } }),
  ]);
  return message?.position ?? change?.position ?? null;
}

/** The customer's message numbering at a staff stream position: the publicSeq of the last message at or before it (0 at the start). */
export async function publicSeqAtPosition(db: PrismaClient, conversationId: string, position: number): Promise<number> {
  if (position <= 0) return 0;
  const row = await db.message.findFirst({
    where: { conversationId, position: { lte: position } },
    orderBy: { position: 'desc' },
    select: { publicSeq: true },
  });
  return row?.publicSeq ?? 0;
}
