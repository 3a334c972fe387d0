/**
 * Changes to messages (edits, deletes, reactions, pins) as entries of the conversation's stream.
 *
 * A conversation's stream is one order: every message and every change to one takes the next
 * `position` (Conversation.lastPosition) under the conversation's row lock, in the transaction
 * that makes it, so positions run 1, 2, 3 … with no holes in commit order. Messages carry their
 * position; changes are rows of ConversationChange. A subscriber resuming after a position replays
 * both from the database, merged by position, then goes live, holding back an event that comes
 * early until the ones before it arrive (stream.ts): each change is delivered exactly once.
 *
 * Customers have their own gapless numbering of the stream (visibility.ts): a change to a PUBLIC
 * message also takes the next `publicPosition` (Conversation.lastPublicPosition) in the same
 * update of the conversation's row; a change to an internal note takes none (staff only).
 */
import type { ConversationChangeType, MessageVisibility } from '../../generated/prisma/enums.js';
import type { Prisma } from '../../generated/prisma/client.js';
import type { Services } from '../../graphql/context.js';
import { publishConversationEvent } from './pipeline.js';
import { messageData, recordWebhookEvent } from '../webhooks/events.js';
import { messageSelect, toMessageRecord, type MessageRecord } from './records.js';

/** The webhook event a change is, for the changes webhooks carry (src/modules/webhooks). */
const WEBHOOK_EVENTS: Partial<Record<ConversationChangeType, 'message.edited' | 'message.deleted'>> = {
  MESSAGE_EDITED: 'message.edited',
  MESSAGE_DELETED: 'message.deleted',
};

/** Thrown inside a change's transaction when there is nothing to change: it rolls back, position included. */
export class NoChange extends Error {
  constructor() {
    super('no change');
  }
}

export interface ChangeInput {
  conversationId: string;
  messageId: string;
  type: ConversationChangeType;
  /** Who reacted or pinned. */
  userId?: string | null;
  emoji?: string | null;
  /** The message's visibility (it never changes): a change to a note is staff-only, with no public position. */
  visibility: MessageVisibility;
}

/**
 * Makes a change in one transaction (position taken first, under the conversation's row lock;
 * then `apply`; then the change row), then announces it with the message as it now is. `apply`
 * throws NoChange when the change is already so (a second identical reaction): nothing is written,
 * nothing announced, and the message is returned as it is.
 */
export async function recordChange(
  services: Services,
  change: ChangeInput,
  apply: (tx: Prisma.TransactionClient, at: Date) => Promise<void>,
): Promise<{ record: MessageRecord; changed: boolean }> {
  const at = new Date();
  let record: MessageRecord;
  let position: number;
  let publicPosition: number | null;
  const isPublic = change.visibility === 'PUBLIC';
  try {
    ({ record, position, publicPosition } = await services.db.$transaction(async (tx) => {
      const { lastPosition, lastPublicPosition, workspaceId } = await tx.conversation.update({
        where: { id: change.conversationId },
        data: { lastPosition: { increment: 1 }, ...(isPublic ? { lastPublicPosition: { increment: 1 } } : {}) },
        select: { lastPosition: true, lastPublicPosition: true, workspaceId: true },
      });
      await apply(tx, at);
      await tx.conversationChange.create({
        data: {
          conversationId: change.conversationId,
          position: lastPosition,
          publicPosition: isPublic ? lastPublicPosition : null,
          type: change.type,
          messageId: change.messageId,
          userId: change.userId ?? null,
          emoji: change.emoji ?? null,
          createdAt: at,
        },
      });
      const row = await tx.message.findUniqueOrThrow({ where: { id: change.messageId }, select: messageSelect });
      const changed = toMessageRecord(row);
      // Webhooks for the changes they know, in the change's transaction and as its last write.
      const webhook = WEBHOOK_EVENTS[change.type];
      if (webhook) await recordWebhookEvent(tx, { type: webhook, workspaceId, conversationId: change.conversationId, data: messageData(changed) });
      return { record: changed, position: lastPosition, publicPosition: isPublic ? lastPublicPosition : null };
    }));
  } catch (err) {
    if (!(err instanceof NoChange)) throw err;
    const row = await services.db.message.findUniqueOrThrow({ where: { id: change.messageId }, select: messageSelect });
    return { record: toMessageRecord(row), changed: false };
  }
  publishConversationEvent(services, {
    type: change.type,
    conversationId: change.conversationId,
    seq: record.seq,
    position,
    ...(publicPosition != null ? { publicPosition } : {}),
    message: record,
    ...(change.userId ? { userId: change.userId } : {}),
    ...(change.emoji ? { emoji: change.emoji } : {}),
  });
  await services.pipeline.changed(services, change.type, record, position);
  return { record, changed: true };
}

/** The Prisma selection of a change as the stream replays it. */
export const changeSelect = {
  position: true,
  publicPosition: true,
  type: true,
  userId: true,
  emoji: true,
  createdAt: true,
  message: { select: messageSelect },
} as const;
