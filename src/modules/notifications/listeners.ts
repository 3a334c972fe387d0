/**
 * What puts something in a user's feed: a mention (on send, and on an edit that adds one), a
 * reply to their message, a ticket assigned to them, a call to them that nobody answered. A
 * message with no mention and no reply costs nothing here (no query), so sends stay as cheap.
 * Nobody is notified of their own doing, nor of a conversation they cannot read, nor of an
 * internal note unless they can see notes (staff of the workspace): a note's mention, @here or
 * reply never reaches a customer, so its excerpt never leaks.
 */
import type { Services } from '../../graphql/context.js';
import type { AppendListener, AppendedTo, ChangeListener } from '../conversations/pipeline.js';
import type { MessageRecord } from '../conversations/records.js';
import { notify, type NotificationInput } from './feed.js';

/**
 * Who among `userIds` can read the conversation: members, and staff unless it is one-to-one;
 * for an internal note (`notesOnly`), only staff of the workspace among them.
 */
async function readers(
  services: Services,
  conversation: Pick<AppendedTo, 'id' | 'workspaceId' | 'direct'>,
  userIds: string[],
  notesOnly = false,
): Promise<Set<string>> {
  if (userIds.length === 0) return new Set();
  const users = await services.db.user.findMany({
    where: { id: { in: userIds } },
    select: {
      id: true,
      memberships: { where: { workspaceId: conversation.workspaceId }, select: { role: true } },
      conversationMemberships: { where: { conversationId: conversation.id }, select: { userId: true } },
    },
  });
  return new Set(
    users
      .filter((u) => {
        const role = u.memberships[0]?.role;
        const staff = role === 'ADMIN' || role === 'AGENT';
        if (notesOnly && !staff) return false;
        return u.conversationMemberships.length > 0 || (!conversation.direct && staff);
      })
      .map((u) => u.id),
  );
}

async function notifyOfMessage(services: Services, record: MessageRecord, conversation: AppendedTo, skip: Set<string>): Promise<void> {
  const author = record.authorId;
  const mentioned = new Set(record.mentions.filter((m) => m.userId).map((m) => m.userId!));
  if (record.mentions.some((m) => m.here)) {
    const members = await services.db.conversationMember.findMany({ where: { conversationId: conversation.id }, select: { userId: true } });
    for (const m of members) mentioned.add(m.userId);
  }
  const replyTo = record.replyTo?.authorId ?? null;
  const candidates = [...new Set([...mentioned, ...(replyTo ? [replyTo] : [])])].filter((id) => id !== author && !skip.has(id));
  if (candidates.length === 0) return;
  // Mentions were resolved to readers when written; checked again, as membership may have changed since.
  const allowed = await readers(services, conversation, candidates, record.visibility === 'INTERNAL');
  const base = { workspaceId: conversation.workspaceId, conversationId: conversation.id, messageId: record.id, actorId: author, excerpt: record.body };
  const inputs: NotificationInput[] = candidates
    .filter((id) => allowed.has(id))
    .map((userId) => ({ ...base, userId, kind: mentioned.has(userId) ? 'MENTION' : 'REPLY' }));
  await notify(services, inputs);
}

/** A pipeline listener (app.ts): who a new message mentions or replies to hears of it. */
export const notifyOfMessageSent: AppendListener = async (services, record, conversation) => {
  if (record.mentions.length === 0 && !record.replyTo?.authorId) return;
  await notifyOfMessage(services, record, conversation, new Set());
};

/** A pipeline change listener (app.ts): who an edit newly mentions hears of it. */
export const notifyOfMessageEdited: ChangeListener = async (services, type, record) => {
  if (type !== 'MESSAGE_EDITED' || record.mentions.length === 0) return;
  const conversation = await services.db.conversation.findUnique({
    where: { id: record.conversationId },
    select: { id: true, workspaceId: true, kind: true, roomType: true, direct: true },
  });
  if (!conversation) return;
  // Only people the edit newly mentions: nobody hears twice of one message; a reply is told at send.
  const already = await services.db.notification.findMany({ where: { messageId: record.id, kind: { in: ['MENTION', 'REPLY'] } }, select: { userId: true } });
  const skip = new Set(already.map((n) => n.userId));
  await notifyOfMessage(services, { ...record, replyTo: null }, conversation, skip);
};

/** A ticket was assigned (or transferred) to a line manager: they hear of it. */
export async function notifyTicketAssigned(
  services: Services,
  ticket: { ticketId: string; workspaceId: string; assigneeId: string },
): Promise<void> {
  await notify(services, [
    { userId: ticket.assigneeId, workspaceId: ticket.workspaceId, kind: 'TICKET_ASSIGNED', conversationId: ticket.ticketId, excerpt: 'A ticket was assigned to you.' },
  ]);
}

/** A call rang out unanswered: each callee hears of it. */
export async function notifyMissedCall(
  services: Services,
  call: { id: string; workspaceId: string; conversationId: string; callerId: string; media: string; calleeIds: string[] },
): Promise<void> {
  const text = call.media === 'VIDEO' ? 'Missed video call' : 'Missed audio call';
  await notify(
    services,
    call.calleeIds.map((userId) => ({
      userId,
      workspaceId: call.workspaceId,
      kind: 'MISSED_CALL' as const,
      conversationId: call.conversationId,
      callId: call.id,
      actorId: call.callerId,
      excerpt: text,
    })),
  );
}
