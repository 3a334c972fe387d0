/** The notification feed in GraphQL. */
import { builder } from '../../graphql/builder.js';
import type { NotificationEvent, NotificationRecord } from './topics.js';

export const NotificationKindEnum = builder.enumType('NotificationKind', {
  description: 'Why a notification was sent.',
  values: {
    MENTION: { description: 'Someone @mentioned you (or called on everyone with @here in a support room or ticket you are in).' },
    REPLY: { description: 'Someone replied to your message.' },
    TICKET_ASSIGNED: { description: 'A ticket was assigned (or transferred) to you.' },
    MISSED_CALL: { description: 'A call to you rang out unanswered.' },
  } as const,
});

export const NotificationRef = builder.objectRef<NotificationRecord>('Notification').implement({
  description: 'One entry of the viewer’s notification feed.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Its id.' }),
    seq: t.exposeInt('seq', { description: 'Its number in the viewer’s feed (1, 2, 3 … with no holes): resume notificationEvents after the last one seen.' }),
    kind: t.field({ type: NotificationKindEnum, description: 'Why it was sent.', resolve: (n) => n.kind }),
    workspaceId: t.exposeID('workspaceId', { description: 'The workspace it comes from.' }),
    conversationId: t.exposeID('conversationId', { nullable: true, description: 'The conversation (mentions, replies, tickets, calls).' }),
    messageId: t.exposeID('messageId', { nullable: true, description: 'The message (mentions, replies).' }),
    callId: t.exposeID('callId', { nullable: true, description: 'The call (missed calls).' }),
    actorId: t.exposeID('actorId', { nullable: true, description: 'Who caused it (the mentioner, the replier, the caller); null for the system.' }),
    excerpt: t.exposeString('excerpt', { description: 'A short text to show: the message’s first 140 characters, "Missed video call", …' }),
    createdAt: t.field({ type: 'DateTime', description: 'When it was sent.', resolve: (n) => n.createdAt }),
    read: t.boolean({ description: 'Whether the viewer marked it read.', resolve: (n) => n.readAt !== null }),
    readAt: t.field({ type: 'DateTime', nullable: true, description: 'When it was marked read.', resolve: (n) => n.readAt }),
  }),
});

export const NotificationEventTypeEnum = builder.enumType('NotificationEventType', {
  description: 'What changed in the viewer’s notification feed.',
  values: {
    NOTIFICATION_ADDED: { description: 'A notification arrived (replayed ones too, when resuming with `after`).' },
    NOTIFICATIONS_READ: { description: 'Notifications were marked read (on any of the viewer’s devices); `unreadCount` is the count now.' },
  } as const,
});

export const NotificationEventRef = builder.objectRef<NotificationEvent>('NotificationEvent').implement({
  description: 'One event of the viewer’s notification feed.',
  fields: (t) => ({
    type: t.field({ type: NotificationEventTypeEnum, description: 'What happened.', resolve: (e) => e.type }),
    notification: t.field({ type: NotificationRef, nullable: true, description: 'For NOTIFICATION_ADDED: the notification.', resolve: (e) => e.notification }),
    seq: t.exposeInt('seq', {
      nullable: true,
      description: 'For NOTIFICATION_ADDED: its seq (the cursor to resume after). For NOTIFICATIONS_READ: the seq read up to, if marked so.',
    }),
    unreadCount: t.exposeInt('unreadCount', { description: 'The viewer’s unread notifications after this event.' }),
    at: t.field({ type: 'DateTime', description: 'When it happened.', resolve: (e) => e.at }),
  }),
});

const NotificationPageRef = builder.objectRef<{ nodes: NotificationRecord[]; hasMore: boolean; unreadCount: number }>('NotificationPage').implement({
  description: 'A page of the viewer’s notifications, newest first.',
  fields: (t) => ({
    nodes: t.field({ type: [NotificationRef], description: 'The notifications, newest first.', resolve: (p) => p.nodes }),
    hasMore: t.exposeBoolean('hasMore', { description: 'Whether older ones follow: pass the last seq here as `before`.' }),
    unreadCount: t.exposeInt('unreadCount', { description: 'The viewer’s unread notifications in all.' }),
  }),
});

export { NotificationPageRef };
