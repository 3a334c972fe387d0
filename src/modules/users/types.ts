/** Users and roles: who people are, and what the viewer may see of them. */
import { builder } from '../../graphql/builder.js';
import { Role, UserKind } from '../../generated/prisma/enums.js';
import { actingUserId, roleIn, type Viewer } from '../../auth/viewer.js';

export const RoleEnum = builder.enumType(Role, {
  name: 'Role',
  description: 'A role a user holds in one workspace.',
  values: {
    ADMIN: { description: 'Manages the workspace: members, API keys, settings, and every conversation in it.' },
    AGENT: { description: 'Serves customers: reads and answers the workspace’s conversations and tickets.' },
    CLIENT: { description: 'A customer: reaches only the conversations they are part of.' },
  },
});

export const UserKindEnum = builder.enumType(UserKind, {
  name: 'UserKind',
  description: 'Whether a user is a registered account or an anonymous website visitor.',
  values: {
    REGISTERED: { description: 'A registered account with an email and a password.' },
    GUEST: { description: 'An anonymous website visitor known by a session id.' },
  },
});

const NO_USER = '00000000-0000-0000-0000-000000000000';

/** Staff of any workspace the user belongs to may see their email; so may the user. */
function staffOf(viewer: Viewer, workspaceIds: string[]): boolean {
  return workspaceIds.some((id) => {
    const role = roleIn(viewer, id);
    return role === 'ADMIN' || role === 'AGENT';
  });
}

export const UserRef = builder.prismaObject('User', {
  description: 'A person or website visitor who can sign in.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The user’s id (a UUID).' }),
    kind: t.expose('kind', { type: UserKindEnum, description: 'Registered account or guest.' }),
    displayName: t.exposeString('displayName', { description: 'The name shown to others.' }),
    username: t.exposeString('username', {
      nullable: true,
      description: 'Their handle (as they typed it; unique whatever its case), for @mentions and signing in; null for guests and accounts without one.',
    }),
    email: t.string({
      nullable: true,
      description: 'The email address; visible to the user and to admins and agents of their workspaces, null otherwise.',
      select: { email: true, guestWorkspaceId: true, memberships: { select: { workspaceId: true } } },
      resolve: (user, _args, ctx) => {
        if (actingUserId(ctx.viewer) === user.id) return user.email;
        const workspaces = user.memberships.map((m) => m.workspaceId);
        if (user.guestWorkspaceId) workspaces.push(user.guestWorkspaceId);
        return staffOf(ctx.viewer, workspaces) ? user.email : null;
      },
    }),
    sessionId: t.string({
      nullable: true,
      description:
        'For guests: the session id their browser keeps (legacy session_id / consumer id). Only the guest themself and API keys of ' +
        'their workspace see it (it resumes the guest’s session, so it is a credential); null otherwise and for registered users.',
      select: { guestSessionId: true, guestWorkspaceId: true },
      resolve: (user, _args, ctx) => {
        if (!user.guestSessionId) return null;
        if (actingUserId(ctx.viewer) === user.id) return user.guestSessionId;
        return ctx.viewer.kind === 'apiKey' && ctx.viewer.workspaceId === user.guestWorkspaceId ? user.guestSessionId : null;
      },
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the account was created.' }),
    memberships: t.relation('memberships', {
      description: 'The workspaces this user belongs to and their role in each; only the user sees their own.',
      // Filtering on the viewer's own id yields nothing for anyone else, with no error to handle.
      query: (_args, ctx) => ({ where: { userId: actingUserId(ctx.viewer) ?? NO_USER }, orderBy: { createdAt: 'asc' } }),
    }),
  }),
});
