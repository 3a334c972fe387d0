/**
 * notificationEvents: the viewer's feed, live, resuming by seq. Subscribes to the user's channel
 * first, then replays from the database what came after the client's cursor, then goes live:
 * a notification at or below the cursor is a duplicate (dropped); one that skips ahead means
 * some were missed live, and they are read from the database before it (feeds are quiet, so
 * that costs a query only when it happens). Each notification is delivered exactly once.
 */
import { builder } from '../../graphql/builder.js';
import type { Context } from '../../graphql/context.js';
import { returnsPromptly } from '../../pubsub/pubsub.js';
import { notificationSelect, toNotificationRecord, unreadCount } from './feed.js';
import type { NotificationEvent } from './topics.js';
import { NotificationEventRef } from './types.js';
import { requirePerson } from '../../graphql/permissions.js';

const REPLAY_BATCH = 200;

function notificationStream(ctx: Context, after: number | null | undefined): AsyncIterableIterator<NotificationEvent> {
  const stop = new AbortController();
  return returnsPromptly(events(ctx, after, stop.signal), stop);
}

async function* events(ctx: Context, after: number | null | undefined, signal: AbortSignal): AsyncGenerator<NotificationEvent> {
  const me = requirePerson(ctx.viewer);
  const live = ctx.pubsub.subscribe('notifications', me, { signal });
  let nextLive: Promise<IteratorResult<NotificationEvent>> | null = live.next();
  try {
    let cursor: number;
    if (after == null) {
      const user = await ctx.db.user.findUnique({ where: { id: me }, select: { notificationSeq: true } });
      cursor = user?.notificationSeq ?? 0;
    } else {
      cursor = Math.max(0, after);
    }

    async function* read(from: number, below?: number): AsyncGenerator<NotificationEvent> {
      const unread = await unreadCount(ctx, me);
      for (;;) {
        const rows = await ctx.db.notification.findMany({
          where: { userId: me, seq: { gt: from, ...(below !== undefined ? { lt: below } : {}) } },
          orderBy: { seq: 'asc' },
          take: REPLAY_BATCH,
          select: notificationSelect,
        });
        for (const row of rows) {
          const notification = toNotificationRecord(row);
          from = notification.seq;
          yield { type: 'NOTIFICATION_ADDED', notification, seq: notification.seq, unreadCount: unread, at: notification.createdAt };
        }
        if (rows.length < REPLAY_BATCH) return;
      }
    }

    if (after != null) {
      for await (const event of read(cursor)) {
        cursor = event.seq!;
        yield event;
      }
    }
    for (;;) {
      nextLive ??= live.next();
      const next = await nextLive;
      nextLive = null;
      if (next.done) return;
      const event = next.value;
      if (event.type === 'NOTIFICATION_ADDED' && event.seq !== null) {
        if (event.seq <= cursor) continue;
        if (event.seq > cursor + 1) {
          for await (const missed of read(cursor, event.seq)) {
            cursor = missed.seq!;
            yield missed;
          }
        }
        cursor = event.seq;
      }
      yield event;
    }
  } finally {
    await live.return?.();
  }
}

builder.subscriptionFields((t) => ({
  notificationEvents: t.field({
    type: NotificationEventRef,
    description:
      'The viewer’s notification feed, live: each new notification (with the unread count) and reads marked on any device. With ' +
      '`after`, first replays the notifications after that seq, then goes live with no gap and no duplicate: resume with the last seq ' +
      'you saw. For people; API keys get FORBIDDEN.',
    args: { after: t.arg.int({ required: false, description: 'Replay notifications after this seq first (0 for all).' }) },
    subscribe: (_root, args, ctx) => notificationStream(ctx, args.after),
    resolve: (event) => event,
  }),
}));
