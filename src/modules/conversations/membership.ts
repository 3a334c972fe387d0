/** Adding and removing members, with the events that tell everyone concerned. */
import type { MemberRole } from '../../generated/prisma/enums.js';
import type { Services } from '../../graphql/context.js';
import { publishConversationEvent } from './pipeline.js';

/** Announces a new member to the conversation and to the member's inbox. */
export async function announceJoined(services: Services, conversationId: string, userId: string, lastSeq: number): Promise<void> {
  const at = new Date().toISOString();
  await Promise.all([
    publishConversationEvent(services, { type: 'MEMBER_JOINED', conversationId, seq: lastSeq, userId }),
    services.pubsub.publish('inbox', userId, { type: 'CONVERSATION_ADDED', conversationId, lastSeq, unreadCount: lastSeq, at }),
  ]);
}

/** Announces a departure; live subscriptions of that member end on seeing it. */
export async function announceLeft(services: Services, conversationId: string, userId: string, lastSeq: number): Promise<void> {
  const at = new Date().toISOString();
  await Promise.all([
    publishConversationEvent(services, { type: 'MEMBER_LEFT', conversationId, seq: lastSeq, userId }),
    services.pubsub.publish('inbox', userId, { type: 'CONVERSATION_REMOVED', conversationId, lastSeq, unreadCount: 0, at }),
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
