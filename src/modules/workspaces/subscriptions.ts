import { builder } from '../../graphql/builder.js';
import { parseId } from '../../graphql/ids.js';
import { ForbiddenError, NotFoundError } from '../../graphql/errors.js';
import type { Context } from '../../graphql/context.js';
import { returnsPromptly } from '../../pubsub/pubsub.js';
import type { WorkspaceEvent } from './topics.js';
import { canAccessWorkspace } from '../../graphql/permissions.js';
import { WorkspaceEventRef } from './types.js';
import { endsStaffStanding } from './permissions.js';
import { STAFF_ROLES } from '../../graphql/permissions.js';

builder.subscriptionFields((t) => ({
  workspaceEvents: t.field({
    type: WorkspaceEventRef,
    description:
      'Changes to a workspace’s members and API keys, live. Admins, agents and API keys; ends with FORBIDDEN when the viewer is no ' +
      'longer staff there (or the API key is revoked), after the event that says so.',
    args: { workspaceId: t.arg.id({ description: 'The workspace to watch.' }) },
    subscribe: (_root, args, ctx) => {
      const workspaceId = parseId(args.workspaceId, 'Workspace');
      if (!canAccessWorkspace(ctx.viewer, { workspaceId, roles: STAFF_ROLES })) throw new NotFoundError('Workspace');
      const stop = new AbortController();
      return returnsPromptly(events(ctx, workspaceId, stop.signal), stop);
    },
    resolve: (event) => event,
  }),
}));

/** A workspace's events until one ends the viewer's standing there (told, then FORBIDDEN). */
async function* events(ctx: Context, workspaceId: string, signal: AbortSignal): AsyncGenerator<WorkspaceEvent> {
  const live = ctx.pubsub.subscribe('workspace', workspaceId, { signal });
  try {
    for await (const event of live) {
      yield event;
      if (endsStaffStanding(ctx.viewer, event)) throw new ForbiddenError('You no longer serve this workspace; its events stop here.');
    }
  } finally {
    await live.return?.();
  }
}
