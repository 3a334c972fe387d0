/** Adding and removing members, with the events that tell everyone concerned. */
import type { MemberRole } from '../../generated/prisma/enums.js';
import type { TransactionClient } from '../../generated/prisma/internal/prismaNamespace.js';
import type { Services } from '../../graphql/context.js';
import { announceStandingChange } from '../../auth/standing.js';
import { publishConversationEvent } from './pipeline.js';

/** Announces a new member to the conversation and to the member's inbox. */
export async function announceJoined(services: Services, conversationId: string, userId: string, lastSeq: number): Promise<void> {
  const at = new Date().toISOString();
  publishConversationEvent(services, { type: 'MEMBER_JOINED', conversationId, seq: lastSeq, userId });
  await services.pubsub.publish('inbox', userId, { type: 'CONVERSATION_ADDED', conversationId, lastSeq, unreadCount: lastSeq, at });
}

/**
 * Announces a departure; live subscriptions of that member end on seeing it, and their
 * graphql-ws connections read their standing again before their next operation (the write access
 * they keep per conversation goes with it: permissions.ts).
 */
export async function announceLeft(services: Services, conversationId: string, userId: string, lastSeq: number): Promise<void> {
  const at = new Date().toISOString();
  publishConversationEvent(services, { type: 'MEMBER_LEFT', conversationId, seq: lastSeq, userId });
  await Promise.all([
    services.pubsub.publish('inbox', userId, { type: 'CONVERSATION_REMOVED', conversationId, lastSeq, unreadCount: 0, at }),
    announceStandingChange(services.pubsub, { userId }),
  ]);
}

/** Adds members (ignoring those already in) and announces each new one. */
export async function addMembers(
  services: Services,
  conversationId: string,
  members: ReadonlyArray<{ userId: string; role?: MemberRole }>,
): Promise<void> {
  if (members.length === 0) return;
  const { count } = await services.db.conversationMember.createMany({
    data: members.map((m) => ({ conversationId, userId: m.userId, role: m.role ?? 'MEMBER' })),
    skipDuplicates: true,
  });
  if (count === 0) return;
  const { lastSeq } = await services.db.conversation.findUniqueOrThrow({ where: { id: conversationId }, select: { lastSeq: true } });
  await Promise.all(members.map((m) => announceJoined(services, conversationId, m.userId, lastSeq)));
}

/**
 * Announces a conversation just opened: CONVERSATION_ADDED in each member's inbox with their own
 * unread count (so a greeting written before this counts for the visitor and not for its author),
 * and, when staff reach it by role, CONVERSATION_OPENED to the workspace's staff inboxes.
 */
export async function announceOpened(services: Services, conversationId: string): Promise<void> {
  const c = await services.db.conversation.findUnique({
    where: { id: conversationId },
    select: { workspaceId: true, direct: true, lastSeq: true, members: { select: { userId: true, lastReadSeq: true } } },
  });
  if (!c) return;
  const at = new Date().toISOString();
  await Promise.all([
    ...c.members.map((m) =>
      services.pubsub.publish('inbox', m.userId, {
        type: 'CONVERSATION_ADDED',
        conversationId,
        lastSeq: c.lastSeq,
        unreadCount: Math.max(0, c.lastSeq - m.lastReadSeq),
        at,
      }),
    ),
    ...(c.direct
      ? []
      : [services.pubsub.publish('workspaceConversations', c.workspaceId, { type: 'CONVERSATION_OPENED', conversationId, lastSeq: c.lastSeq, unreadCount: null, at })]),
  ]);
}

/** A conversation a user was taken out of, with its last seq then. */
export interface LeftConversation {
  conversationId: string;
  lastSeq: number;
}

/**
 * Takes a user out of every conversation of a workspace (they left the workspace). Runs inside
 * the caller's transaction; announce the result with {@link announceLeftMany} after commit.
 */
export async function leaveWorkspaceConversations(tx: TransactionClient, workspaceId: string, userId: string): Promise<LeftConversation[]> {
  const rows = await tx.conversationMember.findMany({
    where: { userId, conversation: { workspaceId } },
    select: { conversationId: true, conversation: { select: { lastSeq: true } } },
  });
  if (rows.length === 0) return [];
  await tx.conversationMember.deleteMany({ where: { userId, conversationId: { in: rows.map((r) => r.conversationId) } } });
  return rows.map((r) => ({ conversationId: r.conversationId, lastSeq: r.conversation.lastSeq }));
}

/** Announces each departure, so the user's live subscriptions to those conversations end. */
export async function announceLeftMany(services: Services, left: readonly LeftConversation[], userId: string): Promise<void> {
  await Promise.all(left.map((l) => announceLeft(services, l.conversationId, userId, l.lastSeq)));
}
