import { builder } from '../../graphql/builder.js';
import { actingUserId, roleIn } from '../../auth/viewer.js';
import { NotFoundError, ValidationError } from '../../graphql/errors.js';
import { parseId } from '../../graphql/ids.js';
import { usernameKey } from '../../graphql/validators.js';
import { UserRef } from './types.js';

builder.queryFields((t) => ({
  me: t.prismaField({
    // Public: open to anonymous callers (the root types ask for a credential by default).
    skipTypeScopes: true,
    type: UserRef,
    nullable: true,
    description: 'The signed-in user or guest; null for anonymous callers and API keys.',
    resolve: (query, _root, _args, ctx) => {
      const id = actingUserId(ctx.viewer);
      return id ? ctx.db.user.findUnique({ ...query, where: { id } }) : null;
    },
  }),
  user: t.prismaField({
    type: UserRef,
    description: 'A user who shares a workspace with the viewer, by id or by username (give one). NOT_FOUND otherwise.',
    args: {
      id: t.arg.id({ required: false, description: 'The user’s id.' }),
      username: t.arg.string({ required: false, description: 'The user’s username; case does not matter.' }),
    },
    resolve: async (query, _root, args, ctx) => {
      if ((args.id == null) === (args.username == null)) {
        throw new ValidationError([{ path: ['id'], message: 'give exactly one of id and username' }]);
      }
      const user = await ctx.db.user.findUnique({
        ...query,
        where: args.id != null ? { id: parseId(args.id, 'User') } : { usernameKey: usernameKey(args.username!) },
      });
      if (!user) throw new NotFoundError('User');
      const id = user.id;
      if (actingUserId(ctx.viewer) === id) return user;
      // Visible when the user belongs to (or is a guest of) a workspace where the viewer is staff
      // or a member; guests see only themselves.
      if (ctx.viewer.kind === 'guest') throw new NotFoundError('User');
      const found = await ctx.db.user.findFirst({
        where: {
          id,
          OR: [
            { memberships: { some: { workspaceId: { in: viewerWorkspaces(ctx.viewer) } } } },
            { guestWorkspaceId: { in: viewerWorkspaces(ctx.viewer).filter((w) => roleIn(ctx.viewer, w) !== 'CLIENT') } },
          ],
        },
        select: { id: true },
      });
      if (!found) throw new NotFoundError('User');
      return user;
    },
  }),
}));

function viewerWorkspaces(viewer: Parameters<typeof roleIn>[0]): string[] {
  if (viewer.kind === 'user') return [...viewer.roles.keys()];
  if (viewer.kind === 'apiKey' || viewer.kind === 'guest') return [viewer.workspaceId];
  return [];
}
