import { builder } from '../../graphql/builder.js';
import { usernameKey } from '../../graphql/validators.js';
import { roleIn } from '../../auth/viewer.js';
import { RoleEnum, UserRef } from '../users/types.js';
import { ADMIN_ROLES, STAFF_ROLES } from '../../graphql/permissions.js';
import type { WorkspaceEvent } from './topics.js';

export const WorkspaceRef = builder.prismaObject('Workspace', {
  description: 'A tenant: its members, API keys, products and conversations. Nothing crosses workspaces.',
  authScopes: (workspace) => ({ workspace: { workspaceId: workspace.id, guests: true } }),
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The workspace’s id (a UUID).' }),
    name: t.exposeString('name', { description: 'The workspace’s name.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was created.' }),
    viewerRole: t.field({
      type: RoleEnum,
      nullable: true,
      description: 'The viewer’s role here (API keys act as ADMIN; guests as CLIENT).',
      resolve: (workspace, _args, ctx) => roleIn(ctx.viewer, workspace.id),
    }),
    members: t.relation('memberships', {
      description: 'Members and their roles; admins and agents only.',
      authScopes: (workspace) => ({ workspace: { workspaceId: workspace.id, roles: STAFF_ROLES } }),
      query: { orderBy: { createdAt: 'asc' } },
    }),
    memberByEmail: t.prismaField({
      type: 'Membership',
      nullable: true,
      description:
        'The member with this email address, or null (legacy 003 names its admins by username). Admins, agents and API keys only.',
      authScopes: (workspace) => ({ workspace: { workspaceId: workspace.id, roles: STAFF_ROLES } }),
      args: { email: t.arg.string({ description: 'The email address; case does not matter.' }) },
      // Emails are kept lower-case (users module); the unique index on email finds the user.
      resolve: (query, workspace, args, ctx) =>
        ctx.db.membership.findFirst({ ...query, where: { workspaceId: workspace.id, user: { email: args.email.trim().toLowerCase() } } }),
    }),
    memberByUsername: t.prismaField({
      type: 'Membership',
      nullable: true,
      description: 'The member with this username (case does not matter), or null: for @mention lookups. Any member of the workspace.',
      authScopes: (workspace) => ({ workspace: { workspaceId: workspace.id } }),
      args: { username: t.arg.string({ description: 'The username.' }) },
      resolve: (query, workspace, args, ctx) =>
        ctx.db.membership.findFirst({ ...query, where: { workspaceId: workspace.id, user: { usernameKey: usernameKey(args.username) } } }),
    }),
    apiKeys: t.relation('apiKeys', {
      description: 'API keys, newest first, revoked ones included; admins only. Secrets are never shown again.',
      authScopes: (workspace) => ({ workspace: { workspaceId: workspace.id, roles: ADMIN_ROLES } }),
      query: { orderBy: { createdAt: 'desc' } },
    }),
  }),
});

export const MembershipRef = builder.prismaObject('Membership', {
  description: 'A user’s role in a workspace.',
  fields: (t) => ({
    user: t.relation('user', { description: 'The member.' }),
    workspace: t.relation('workspace', { description: 'The workspace.' }),
    role: t.expose('role', { type: RoleEnum, description: 'Their role there.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When they joined.' }),
  }),
});

export const ApiKeyRef = builder.prismaObject('ApiKey', {
  description: 'A server-to-server credential of one workspace. Send it as "Authorization: Bearer <key>" or "X-Api-Key".',
  authScopes: (key) => ({ workspace: { workspaceId: key.workspaceId, roles: ADMIN_ROLES } }),
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The key’s id (not the secret).' }),
    name: t.exposeString('name', { description: 'A label to tell keys apart.' }),
    prefix: t.exposeString('prefix', { description: 'The first characters of the key.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was issued.' }),
    lastUsedAt: t.expose('lastUsedAt', { type: 'DateTime', nullable: true, description: 'When it last authenticated a call (to the minute).' }),
    revokedAt: t.expose('revokedAt', { type: 'DateTime', nullable: true, description: 'When it was revoked; null while active.' }),
    workspace: t.relation('workspace', { description: 'The workspace it acts for.' }),
  }),
});

export const IssuedApiKeyRef = builder.objectRef<{ apiKeyId: string; secret: string }>('IssuedApiKey').implement({
  description: 'A new API key with its secret. The secret is shown this once; only its hash is kept.',
  fields: (t) => ({
    secret: t.exposeString('secret', { description: 'The whole key. Store it now: it cannot be shown again.' }),
    apiKey: t.prismaField({
      type: ApiKeyRef,
      description: 'The key’s record.',
      resolve: (query, issued, _args, ctx) => ctx.db.apiKey.findUniqueOrThrow({ ...query, where: { id: issued.apiKeyId } }),
    }),
  }),
});

export const WorkspaceEventTypeEnum = builder.enumType('WorkspaceEventType', {
  description: 'What changed in a workspace.',
  values: {
    MEMBER_ADDED: { description: 'A user joined.' },
    MEMBER_REMOVED: { description: 'A user was removed.' },
    MEMBER_ROLE_CHANGED: { description: 'A member’s role changed.' },
    API_KEY_ISSUED: { description: 'An API key was issued.' },
    API_KEY_REVOKED: { description: 'An API key was revoked.' },
  } as const,
});

export const WorkspaceEventRef = builder.objectRef<WorkspaceEvent>('WorkspaceEvent').implement({
  description: 'A change to a workspace’s members or API keys.',
  fields: (t) => ({
    type: t.field({ type: WorkspaceEventTypeEnum, description: 'What changed.', resolve: (e) => e.type }),
    workspaceId: t.exposeID('workspaceId', { description: 'The workspace.' }),
    userId: t.exposeID('userId', { nullable: true, description: 'The member concerned, for member events.' }),
    role: t.field({ type: RoleEnum, nullable: true, description: 'The member’s role after the change.', resolve: (e) => e.role ?? null }),
    apiKeyId: t.exposeID('apiKeyId', { nullable: true, description: 'The key concerned, for key events.' }),
    at: t.field({ type: 'DateTime', description: 'When it changed.', resolve: (e) => e.at }),
  }),
});

export { UserRef };
