import { builder } from '../../graphql/builder.js';
import type { Context } from '../../graphql/context.js';
import { ForbiddenError } from '../../graphql/errors.js';
import { parseId } from '../../graphql/ids.js';
import { actingUserId } from '../../auth/viewer.js';
import { ChannelSet } from '../../pubsub/channel-set.js';
import { returnsPromptly } from '../../pubsub/pubsub.js';
import { endsStaffStanding } from '../workspaces/permissions.js';
import type { WorkspaceEvent } from '../workspaces/topics.js';
import { assertInWorkspace, companions } from './permissions.js';
import type { PresenceEvent } from './topics.js';
import { PresenceEventRef } from './types.js';
import { isStaff } from '../../graphql/permissions.js';

/** Non-staff watchers follow at most this many fellow customers (those they share conversations with). */
const MAX_COMPANIONS = 1000;

function presenceStream(ctx: Context, rawWorkspaceId: string | number): AsyncIterableIterator<PresenceEvent> {
  const live = new ChannelSet<'presence' | 'workspace'>(ctx.pubsub, { queueLimit: ctx.config.SUBSCRIPTION_QUEUE_LIMIT, maxChannels: 2 });
  return returnsPromptly(presenceEvents(ctx, rawWorkspaceId, live), () => live.return());
}

async function* presenceEvents(
  ctx: Context,
  rawWorkspaceId: string | number,
  live: ChannelSet<'presence' | 'workspace'>,
): AsyncGenerator<PresenceEvent> {
  const workspaceId = parseId(rawWorkspaceId, 'Workspace');
  assertInWorkspace(ctx, workspaceId);
  const me = actingUserId(ctx.viewer);
  try {
    await Promise.all([live.add('presence', workspaceId), live.add('workspace', workspaceId)]);
    const staff = isStaff(ctx.viewer, workspaceId);
    // Who a customer may see is read once; the events themselves need no query.
    const others = staff ? null : await companions(ctx, workspaceId, MAX_COMPANIONS);
    for await (const event of live as AsyncIterable<PresenceEvent | WorkspaceEvent>) {
      if ('type' in event) {
        if (event.type === 'MEMBER_REMOVED' && me && event.userId === me) {
          throw new ForbiddenError('You are no longer a member of this workspace; its presence events stop here.');
        }
        // Staff see everyone; made a client (or a revoked key), that view ends: subscribe again for what the role now allows.
        if (staff && endsStaffStanding(ctx.viewer, event)) {
          throw new ForbiddenError('You are no longer staff of this workspace; its presence events as staff see them stop here.');
        }
        continue;
      }
      if (others && !event.staff && !others.has(event.userId)) continue;
      yield event;
    }
  } finally {
    await live.return?.();
  }
}

builder.subscriptionFields((t) => ({
  presenceEvents: t.field({
    type: PresenceEventRef,
    description:
      'Presence changes in a workspace, live: someone came online, went away, or went offline. Staff see everyone; clients and visitors ' +
      'see staff and whoever shares a conversation with them. Never a message, never stored. Ends with FORBIDDEN when the viewer leaves the ' +
      'workspace or, watching as staff, is made a client there (subscribe again for what the role now allows).',
    args: { workspaceId: t.arg.id({ description: 'The workspace to watch.' }) },
    subscribe: (_root, args, ctx) => presenceStream(ctx, args.workspaceId),
    resolve: (event) => event,
  }),
}));
