/** A user's notification events, published on `notifications:<userId>`. */
import type { NotificationKind } from '../../generated/prisma/enums.js';

export interface NotificationRecord {
  id: string;
  /** 1, 2, 3 … per user, in commit order: the feed's resume cursor. */
  seq: number;
  kind: NotificationKind;
  workspaceId: string;
  conversationId: string | null;
  messageId: string | null;
  callId: string | null;
  actorId: string | null;
  excerpt: string;
  createdAt: string;
  readAt: string | null;
}

export type NotificationEventType = 'NOTIFICATION_ADDED' | 'NOTIFICATIONS_READ';

export interface NotificationEvent {
  type: NotificationEventType;
  /** NOTIFICATION_ADDED: the notification. */
  notification: NotificationRecord | null;
  /** NOTIFICATION_ADDED: its seq. NOTIFICATIONS_READ: the highest seq now read (when marked up to a seq), else null. */
  seq: number | null;
  /** The user's unread notifications after the event. */
  unreadCount: number;
  at: string;
}

declare module '../../pubsub/topics.js' {
  interface Topics {
    notifications: NotificationEvent;
  }
}
