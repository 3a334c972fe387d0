/**
 * The one message pipeline every kind of conversation uses (rooms, threads, tickets; calls and
 * attachments write their messages through it too):
 *
 *   one transaction: next seq (a row lock on the conversation serialises senders, so seqs have
 *   no holes), insert the message, advance the author's read mark -> commit -> publish ONE event
 *   carrying the whole message on `conversation:<id>`.
 *
 * Sends are idempotent on (conversation, author, clientMessageId) through a unique index: a
 * retry returns the first message, never a second row, and a losing concurrent insert rolls back
 * its seq so no hole is left.
 */
import type { ConversationKind, MessageKind, MessageSide, RoomType } from '../../generated/prisma/enums.js';
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
  /**
   * Pending attachments (stored, not yet linked) of this conversation to link to the message in
   * its transaction (their order is their `position`); a message with attachments may have an empty body.
   */
  attachmentIds?: string[];
}

export interface AppendResult {
  record: MessageRecord;
  /** False when an earlier send with the same clientMessageId is returned. */
  created: boolean;
}

/**
 * A check another module runs before a message is written (support: a claim held by another
 * agent, a closed ticket). Throwing an AppError refuses the send; nothing is written. Not run
 * for a retry that returns an earlier message.
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

const guards: AppendGuard[] = [];
const listeners: AppendListener[] = [];

/** Registers a guard; modules call this once when imported. */
export function addAppendGuard(guard: AppendGuard): void {
  guards.push(guard);
}

/** Registers a listener; modules call this once when imported. */
export function addAppendListener(listener: AppendListener): void {
  listeners.push(listener);
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
  const attachmentIds = input.attachmentIds ?? [];
  if (input.kind !== 'SYSTEM' && body.trim().length === 0 && attachmentIds.length === 0) {
    throw new ValidationError([{ path: ['input', 'body'], message: 'must not be empty' }]);
  }
  if (body.length > MAX_BODY_LENGTH) {
    throw new ValidationError([{ path: ['input', 'body'], message: `must be at most ${MAX_BODY_LENGTH} characters` }]);
  }
  const earlier = await findByClientId(services, input);
  if (earlier) return { record: earlier, created: false };
  for (const guard of guards) await guard(services, input);

  let record: MessageRecord;
  let head: AppendedTo;
  try {
    const row = await services.db.$transaction(async (tx) => {
      if (input.replyToId) {
        const target = await tx.message.findFirst({
          where: { id: input.replyToId, conversationId: input.conversationId },
          select: { id: true },
        });
        if (!target) throw new NotFoundError('Message', 'The message replied to is not in this conversation.');
      }
      const now = new Date();
      const { lastSeq: seq, ...conversation } = await tx.conversation.update({
        where: { id: input.conversationId },
        data: { lastSeq: { increment: 1 }, lastMessageAt: now },
        select: { lastSeq: true, id: true, workspaceId: true, kind: true, roomType: true, direct: true },
      });
      let message = await tx.message.create({
        data: {
          conversationId: input.conversationId,
          seq,
          authorId: input.authorId,
          kind: input.kind ?? 'TEXT',
          side: input.side ?? null,
          body,
          replyToId: input.replyToId ?? null,
          clientMessageId: input.clientMessageId ?? null,
          createdAt: now,
        },
        select: messageSelect,
      });
      if (attachmentIds.length > 0) {
        const { count } = await tx.attachment.updateMany({
          where: { id: { in: attachmentIds }, conversationId: input.conversationId, messageId: null },
          data: { messageId: message.id },
        });
        if (count !== new Set(attachmentIds).size) {
          throw new NotFoundError('Attachment', 'An attachment is not a pending upload of this conversation.');
        }
        message = await tx.message.findUniqueOrThrow({ where: { id: message.id }, select: messageSelect });
      }
      if (input.authorId) {
        // The author has read what they wrote.
        if (input.joinAuthor) {
          await tx.conversationMember.upsert({
            where: { conversationId_userId: { conversationId: input.conversationId, userId: input.authorId } },
            create: { conversationId: input.conversationId, userId: input.authorId, lastReadSeq: seq, lastReadAt: now },
            update: { lastReadSeq: seq, lastReadAt: now },
          });
        } else {
          await tx.conversationMember.updateMany({
            where: { conversationId: input.conversationId, userId: input.authorId },
            data: { lastReadSeq: seq, lastReadAt: now },
          });
        }
      }
      return { message, conversation };
    });
    record = toMessageRecord(row.message);
    head = row.conversation;
  } catch (err) {
    if (isUniqueViolation(err)) {
      const winner = await findByClientId(services, input);
      if (winner) return { record: winner, created: false };
    }
    throw err;
  }
  await publishConversationEvent(services, { type: 'MESSAGE_ADDED', conversationId: input.conversationId, seq: record.seq, message: record });
  for (const listener of listeners) {
    await listener(services, record, head).catch((err: unknown) =>
      services.logger.error({ err, conversationId: record.conversationId, seq: record.seq }, 'append listener failed'),
    );
  }
  return { record, created: true };
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
