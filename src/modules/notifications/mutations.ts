import { builder } from '../../graphql/builder.js';
import { ForbiddenError, NotFoundError, ValidationError } from '../../graphql/errors.js';
import { parseId } from '../../graphql/ids.js';
import { unreadCount } from './feed.js';
import { requirePerson } from '../../graphql/permissions.js';

const ReadResult = builder.objectRef<{ marked: number; unreadCount: number }>('NotificationsReadResult').implement({
  description: 'What markNotificationsRead did.',
  fields: (t) => ({
    marked: t.exposeInt('marked', { description: 'How many notifications it marked read (already read ones are not counted).' }),
    unreadCount: t.exposeInt('unreadCount', { description: 'The viewer’s unread notifications now.' }),
  }),
});

builder.mutationFields((t) => ({
  markNotificationsRead: t.field({
    type: ReadResult,
    description:
      'Marks the viewer’s notifications read: those with the given ids, or every one up to a seq (give one of the two). The viewer’s ' +
      'other devices see NOTIFICATIONS_READ. Ids of other people’s notifications are ignored.',
    errors: { types: [ValidationError, ForbiddenError, NotFoundError] },
    args: {
      ids: t.arg.idList({ required: false, description: 'The notifications to mark read (at most 100).' }),
      upToSeq: t.arg.int({ required: false, description: 'Mark every notification with a seq up to this one read.' }),
    },
    resolve: async (_root, args, ctx) => {
      const me = requirePerson(ctx.viewer);
      if ((args.ids == null) === (args.upToSeq == null)) throw new ValidationError([{ path: ['ids'], message: 'give exactly one of ids and upToSeq' }]);
      if (args.ids && args.ids.length > 100) throw new ValidationError([{ path: ['ids'], message: 'at most 100 ids' }]);
      const now = new Date();
      const { count } = await ctx.db.notification.updateMany({
        where: {
          userId: me,
          readAt: null,
          ...(args.ids ? { id: { in: args.ids.map((id) => parseId(id, 'Notification')) } } : { seq: { lte: args.upToSeq! } }),
        },
        data: { readAt: now },
      });
      const unread = await unreadCount(ctx, me);
      if (count > 0) {
        await ctx.pubsub.publish('notifications', me, {
          type: 'NOTIFICATIONS_READ',
          notification: null,
          seq: args.upToSeq ?? null,
          unreadCount: unread,
          at: now.toISOString(),
        });
      }
      return { marked: count, unreadCount: unread };
    },
  }),
}));
