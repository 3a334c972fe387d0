import { z } from 'zod';
import { builder } from '../../graphql/builder.js';
import { notificationSelect, toNotificationRecord, unreadCount } from './feed.js';
import { NotificationPageRef } from './types.js';
import { requirePerson } from '../../graphql/permissions.js';

/** A page holds at most this many notifications. */
export const MAX_NOTIFICATIONS_PAGE = 100;

builder.queryFields((t) => ({
  notifications: t.field({
    type: NotificationPageRef,
    description:
      `The viewer’s notifications (mentions, replies to their messages, tickets assigned to them, missed calls), newest first, at most ` +
      `${MAX_NOTIFICATIONS_PAGE} a page, with the unread count. For people; API keys get FORBIDDEN.`,
    args: {
      first: t.arg.int({ required: false, description: `How many (default 20, at most ${MAX_NOTIFICATIONS_PAGE}).`, validate: z.number().int().min(1) }),
      before: t.arg.int({ required: false, description: 'Only those with a seq below this (the last seq of the previous page).' }),
      unreadOnly: t.arg.boolean({ required: false, description: 'Only those not yet read.' }),
    },
    resolve: async (_root, args, ctx) => {
      const me = requirePerson(ctx.viewer);
      const take = Math.min(args.first ?? 20, MAX_NOTIFICATIONS_PAGE);
      const [rows, unread] = await Promise.all([
        ctx.db.notification.findMany({
          where: { userId: me, ...(args.before != null ? { seq: { lt: args.before } } : {}), ...(args.unreadOnly ? { readAt: null } : {}) },
          orderBy: { seq: 'desc' },
          take: take + 1,
          select: notificationSelect,
        }),
        unreadCount(ctx, me),
      ]);
      return { nodes: rows.slice(0, take).map(toNotificationRecord), hasMore: rows.length > take, unreadCount: unread };
    },
  }),
}));
