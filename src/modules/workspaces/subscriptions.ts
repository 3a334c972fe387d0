import { builder } from '../../graphql/builder.js';
import { parseId } from '../../graphql/ids.js';
import { NotFoundError } from '../../graphql/errors.js';
import { canAccessWorkspace } from '../../graphql/permissions.js';
import { WorkspaceEventRef } from './types.js';
import { STAFF } from './permissions.js';

builder.subscriptionFields((t) => ({
  workspaceEvents: t.field({
    type: WorkspaceEventRef,
    description: 'Changes to a workspace’s members and API keys, live. Admins and agents only.',
    authScopes: { authenticated: true },
    args: { workspaceId: t.arg.id({ description: 'The workspace to watch.' }) },
    subscribe: (_root, args, ctx) => {
      const workspaceId = parseId(args.workspaceId, 'Workspace');
      if (!canAccessWorkspace(ctx.viewer, { workspaceId, roles: STAFF })) throw new NotFoundError('Workspace');
      return ctx.pubsub.subscribe('workspace', workspaceId);
    },
    resolve: (event) => event,
  }),
}));
