import { builder } from '../../graphql/builder.js';
import { NotFoundError } from '../../graphql/errors.js';
import { parseId } from '../../graphql/ids.js';
import { canAccessWorkspace } from '../../graphql/permissions.js';
import { WorkspaceRef } from './types.js';

builder.queryFields((t) => ({
  workspace: t.prismaField({
    type: WorkspaceRef,
    description: 'A workspace the viewer belongs to (or, for an API key or guest, its own). NOT_FOUND otherwise.',
    args: { id: t.arg.id({ description: 'The workspace’s id.' }) },
    resolve: async (query, _root, args, ctx) => {
      const id = parseId(args.id, 'Workspace');
      if (!canAccessWorkspace(ctx.viewer, { workspaceId: id, guests: true })) throw new NotFoundError('Workspace');
      const workspace = await ctx.db.workspace.findUnique({ ...query, where: { id } });
      if (!workspace) throw new NotFoundError('Workspace');
      return workspace;
    },
  }),
  myWorkspaces: t.prismaField({
    type: [WorkspaceRef],
    description: 'The workspaces the viewer belongs to, oldest first (an API key’s or guest’s own workspace).',
    resolve: (query, _root, _args, ctx) => {
      const v = ctx.viewer;
      const ids = v.kind === 'user' ? [...v.roles.keys()] : v.kind === 'anonymous' ? [] : [v.workspaceId];
      return ctx.db.workspace.findMany({ ...query, where: { id: { in: ids } }, orderBy: { createdAt: 'asc' } });
    },
  }),
}));
