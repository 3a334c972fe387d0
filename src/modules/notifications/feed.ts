/**
 * Writing to users' notification feeds. Each notification takes the user's next seq
 * (User.notificationSeq) in the statement that inserts it, under the user's row lock, so a feed
 * is numbered 1, 2, 3 … in commit order and a subscriber resumes exactly after the last seq it
 * saw. The event, published after the write, carries the notification and the unread count.
 */
import { randomUUID } from 'node:crypto';
import type { NotificationKind } from '../../generated/prisma/enums.js';
import type { Services } from '../../graphql/context.js';
import type { NotificationRecord } from './topics.js';

export interface NotificationInput {
  userId: string;
  workspaceId: string;
  kind: NotificationKind;
  conversationId?: string | null;
  messageId?: string | null;
  callId?: string | null;
  actorId?: string | null;
  excerpt?: string;
}

const EXCERPT = 140;

interface Row {
  id: string;
  seq: number;
  kind: NotificationKind;
  workspaceId: string;
  conversationId: string | null;
  messageId: string | null;
  callId: string | null;
  actorId: string | null;
  excerpt: string;
  createdAt: Date;
  readAt: Date | null;
}

export function toNotificationRecord(row: Row): NotificationRecord {
  return {
    id: row.id,
    seq: row.seq,
    kind: row.kind,
    workspaceId: row.workspaceId,
    conversationId: row.conversationId,
    messageId: row.messageId,
    callId: row.callId,
    actorId: row.actorId,
    excerpt: row.excerpt,
    createdAt: row.createdAt.toISOString(),
    readAt: row.readAt?.toISOString() ?? null,
  };
}

export const notificationSelect = {
  id: true,
  seq: true,
  kind: true,
  workspaceId: true,
  conversationId: true,
  messageId: true,
  callId: true,
  actorId: true,
  excerpt: true,
  createdAt: true,
  readAt: true,
} as const;

/** Writes one notification per input (one statement each) and announces each to its user. */
export async function notify(services: Services, inputs: NotificationInput[]): Promise<void> {
  for (const input of inputs) {
    const now = new Date();
    const excerpt = (input.excerpt ?? '').slice(0, EXCERPT);
    const rows = await services.db.$queryRaw<(Row & { unread: number })[]>`
      WITH u AS (
        UPDATE "User" SET "notificationSeq" = "notificationSeq" + 1 WHERE id = ${input.userId}::uuid RETURNING "notificationSeq"
      ), n AS (
        INSERT INTO "Notification" (id, "userId", seq, "workspaceId", kind, "conversationId", "messageId", "callId", "actorId", excerpt, "createdAt")
        SELECT ${randomUUID()}::uuid, ${input.userId}::uuid, u."notificationSeq", ${input.workspaceId}::uuid, ${input.kind}::"NotificationKind",
               ${input.conversationId ?? null}::uuid, ${input.messageId ?? null}::uuid, ${input.callId ?? null}::uuid,
               ${input.actorId ?? null}::uuid, ${excerpt}, ${now}::timestamptz
        FROM u
        RETURNING *
      )
      SELECT n.id, n.seq, n.kind::text AS kind, n."workspaceId", n."conversationId", n."messageId", n."callId", n."actorId", n.excerpt,
             n."createdAt", n."readAt",
             ((SELECT count(*) FROM "Notification" o WHERE o."userId" = ${input.userId}::uuid AND o."readAt" IS NULL) + 1)::int AS unread
      FROM n`;
    const row = rows[0];
    if (!row) continue; // the user is gone
    const notification = toNotificationRecord(row);
    await services.pubsub.publish('notifications', input.userId, {
      type: 'NOTIFICATION_ADDED',
      notification,
      seq: notification.seq,
      unreadCount: row.unread,
      at: notification.createdAt,
    });
  }
}

export async function unreadCount(services: Services, userId: string): Promise<number> {
  return services.db.notification.count({ where: { userId, readAt: null } });
}
