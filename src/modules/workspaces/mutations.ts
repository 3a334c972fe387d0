/** Creating workspaces, managing members, issuing and revoking API keys. */
import { z } from 'zod';
import { builder } from '../../graphql/builder.js';
import { ADMIN_ROLES, assertWorkspaceAccess, canAccessWorkspace, idArg } from '../../graphql/permissions.js';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../../graphql/errors.js';
import { parseId } from '../../graphql/ids.js';
import { API_KEY_PREFIX, randomToken, sha256 } from '../../auth/tokens.js';
import { actingUserId } from '../../auth/viewer.js';
import { hashPassword } from '../../auth/passwords.js';
import { RoleEnum } from '../users/types.js';
import { createAccount, requireEmailOrUsername } from '../users/mutations.js';
import { displayName, email, name, password, username, usernameKey } from '../../graphql/validators.js';
import type { Context } from '../../graphql/context.js';
import { ApiKeyRef, IssuedApiKeyRef, MembershipRef, WorkspaceRef } from './types.js';
import { announceLeftMany, leaveWorkspaceConversations } from '../conversations/membership.js';
import type { WorkspaceEvent } from './topics.js';
import { announceStandingChange } from '../../auth/standing.js';

/**
 * Announces a change of a workspace's members or keys: to its subscribers (`workspace:<id>`),
 * and, for a change of someone's standing (their membership or role, a key revoked), to every
 * instance, whose graphql-ws connections acting as them read their standing again before their
 * next operation (src/auth/standing.ts). Resolves once that announcement is sent, so the
 * mutation answers after it: a client acting on the answer finds the change everywhere.
 */
function announce(ctx: Context, event: Omit<WorkspaceEvent, 'at'>): Promise<void> {
  void ctx.pubsub.publish('workspace', event.workspaceId, { ...event, at: new Date().toISOString() });
  if (event.type === 'API_KEY_ISSUED') return Promise.resolve();
  return announceStandingChange(ctx.pubsub, event.type === 'API_KEY_REVOKED' ? { apiKeyId: event.apiKeyId } : { userId: event.userId });
}

/** Resolves a workspace id the viewer may manage, or NOT_FOUND. */
function managedWorkspaceId(ctx: Context, raw: string | number): string {
  const id = parseId(raw, 'Workspace');
  if (!canAccessWorkspace(ctx.viewer, { workspaceId: id, roles: ADMIN_ROLES })) throw new NotFoundError('Workspace');
  return id;
}

const CreateWorkspaceInput = builder.inputType('CreateWorkspaceInput', {
  description: 'A new workspace; its creator becomes its ADMIN.',
  fields: (t) => ({ name: t.string({ description: 'Its name.', validate: name }) }),
});

const AddMemberInput = builder.inputType('AddWorkspaceMemberInput', {
  description: 'An existing registered user to add to a workspace, named by email or by username (give one).',
  fields: (t) => ({
    workspaceId: t.id({ description: 'The workspace.' }),
    email: t.string({ required: false, description: 'The user’s email.', validate: email }),
    username: t.string({ required: false, description: 'The user’s username; case does not matter.', validate: z.string().trim().min(1).max(64) }),
    role: t.field({ type: RoleEnum, description: 'Their role.' }),
  }),
});

const CreateUserInput = builder.inputType('CreateWorkspaceUserInput', {
  description: 'A new registered user created directly in a workspace by its admin (legacy 001 user creation).',
  fields: (t) => ({
    workspaceId: t.id({ description: 'The workspace.' }),
    email: t.string({ required: false, description: 'The new user’s email (give it, a username, or both).', validate: email }),
    username: t.string({ required: false, description: 'The new user’s username (rules as for signUp).', validate: username }),
    password: t.string({ description: 'At least 8 characters.', validate: password }),
    displayName: t.string({ description: 'The name shown to others.', validate: displayName }),
    role: t.field({ type: RoleEnum, description: 'Their role.' }),
  }),
});

const IssueApiKeyInput = builder.inputType('IssueApiKeyInput', {
  description: 'A new API key for a workspace.',
  fields: (t) => ({
    workspaceId: t.id({ description: 'The workspace the key will act for.' }),
    name: t.string({ description: 'A label to tell keys apart.', validate: name }),
  }),
});

builder.mutationFields((t) => ({
  createWorkspace: t.prismaField({
    type: WorkspaceRef,
    description: 'Creates a workspace with the viewer as its ADMIN. Registered users only.',
    authScopes: { registered: true },
    errors: { types: [ValidationError] },
    args: { input: t.arg({ type: CreateWorkspaceInput, description: 'The details; each field is described on its type.' }) },
    resolve: async (query, _root, { input }, ctx) => {
      const userId = actingUserId(ctx.viewer)!;
      const workspace = await ctx.db.workspace.create({
        ...query,
        data: { name: input.name, memberships: { create: { userId, role: 'ADMIN' } } },
      });
      if (ctx.viewer.kind === 'user') ctx.viewer.roles.set(workspace.id, 'ADMIN');
      // The creator's other connections (on any instance) gain the workspace from their next operation.
      await announceStandingChange(ctx.pubsub, { userId });
      return workspace;
    },
  }),
  addWorkspaceMember: t.withAuth((_root, args) => ({ workspaceMember: idArg(args, 'input.workspaceId') })).prismaField({
    type: MembershipRef,
    description:
      'Adds a registered user to a workspace (MEMBER_ADDED), or changes their role there (MEMBER_ROLE_CHANGED; made a client, ' +
      'their staff-only subscriptions end). The same role again changes and announces nothing. Admins only.',
    errors: { types: [ValidationError, NotFoundError] },
    args: { input: t.arg({ type: AddMemberInput, description: 'The details; each field is described on its type.' }) },
    resolve: async (query, _root, { input }, ctx) => {
      const workspaceId = managedWorkspaceId(ctx, input.workspaceId);
      if ((input.email == null) === (input.username == null)) {
        throw new ValidationError([{ path: ['input', 'email'], message: 'give exactly one of email and username' }]);
      }
      const user = await ctx.db.user.findUnique({
        where: input.email != null ? { email: input.email } : { usernameKey: usernameKey(input.username!) },
        select: { id: true },
      });
      if (!user) throw new NotFoundError('User', 'No registered user has this email or username; they must sign up first.');
      const where = { workspaceId_userId: { workspaceId, userId: user.id } };
      const before = await ctx.db.membership.findUnique({ where, select: { role: true } });
      const membership = await ctx.db.membership.upsert({
        ...query,
        where,
        create: { workspaceId, userId: user.id, role: input.role },
        update: { role: input.role },
      });
      // A member already there whose role changes is MEMBER_ROLE_CHANGED: made a client, their
      // staff-only subscriptions end on it (endsStaffStanding). The same role again announces nothing.
      if (!before) await announce(ctx, { type: 'MEMBER_ADDED', workspaceId, userId: user.id, role: input.role });
      else if (before.role !== input.role) await announce(ctx, { type: 'MEMBER_ROLE_CHANGED', workspaceId, userId: user.id, role: input.role });
      return membership;
    },
  }),
  createWorkspaceUser: t.withAuth((_root, args) => ({ workspaceMember: idArg(args, 'input.workspaceId') })).prismaField({
    type: MembershipRef,
    description: 'Creates a registered user directly in a workspace with a role. Admins and API keys only.',
    errors: { types: [ValidationError, NotFoundError, ConflictError] },
    args: { input: t.arg({ type: CreateUserInput, description: 'The details; each field is described on its type.' }) },
    resolve: async (query, _root, { input }, ctx) => {
      const workspaceId = managedWorkspaceId(ctx, input.workspaceId);
      requireEmailOrUsername(input);
      const passwordHash = await hashPassword(input.password);
      const user = await createAccount(ctx, {
        email: input.email ?? null,
        username: input.username ?? null,
        passwordHash,
        displayName: input.displayName,
        workspaceId,
        role: input.role,
      }).catch((err: unknown) => {
        if (err instanceof ConflictError && err.field === 'email') {
          throw new ConflictError('An account with this email already exists; add it with addWorkspaceMember.', 'email');
        }
        throw err;
      });
      await announce(ctx, { type: 'MEMBER_ADDED', workspaceId, userId: user.id, role: input.role });
      return ctx.db.membership.findUniqueOrThrow({ ...query, where: { workspaceId_userId: { workspaceId, userId: user.id } } });
    },
  }),
  removeWorkspaceMember: t.prismaField({
    type: WorkspaceRef,
    description:
      'Removes a member from a workspace, and from its conversations (their live subscriptions end), and returns the workspace. ' +
      'Admins only; the last admin cannot be removed.',
    errors: { types: [NotFoundError, ForbiddenError] },
    args: {
      workspaceId: t.arg.id({ description: 'The workspace.' }),
      userId: t.arg.id({ description: 'The member to remove.' }),
    },
    resolve: async (query, _root, args, ctx) => {
      const workspaceId = managedWorkspaceId(ctx, args.workspaceId);
      const userId = parseId(args.userId, 'Membership');
      const left = await ctx.db.$transaction(async (tx) => {
        const member = await tx.membership.findUnique({ where: { workspaceId_userId: { workspaceId, userId } } });
        if (!member) throw new NotFoundError('Membership');
        if (member.role === 'ADMIN') {
          const admins = await tx.membership.count({ where: { workspaceId, role: 'ADMIN' } });
          if (admins <= 1) throw new ForbiddenError('The last admin cannot be removed; make someone else ADMIN first.');
        }
        await tx.membership.delete({ where: { workspaceId_userId: { workspaceId, userId } } });
        // Leaving a workspace means leaving its conversations too.
        return leaveWorkspaceConversations(tx, workspaceId, userId);
      });
      await announce(ctx, { type: 'MEMBER_REMOVED', workspaceId, userId });
      await announceLeftMany(ctx, left, userId);
      return ctx.db.workspace.findUniqueOrThrow({ ...query, where: { id: workspaceId } });
    },
  }),
  issueApiKey: t.withAuth((_root, args) => ({ workspaceMember: idArg(args, 'input.workspaceId') })).field({
    type: IssuedApiKeyRef,
    description: 'Issues an API key for a workspace. Admins only. The secret is in the result and never shown again.',
    errors: { types: [ValidationError, NotFoundError] },
    args: { input: t.arg({ type: IssueApiKeyInput, description: 'The details; each field is described on its type.' }) },
    resolve: async (_root, { input }, ctx) => {
      const workspaceId = managedWorkspaceId(ctx, input.workspaceId);
      const secret = randomToken(API_KEY_PREFIX);
      const key = await ctx.db.apiKey.create({
        data: {
          workspaceId,
          name: input.name,
          prefix: secret.slice(0, API_KEY_PREFIX.length + 6),
          keyHash: sha256(secret),
          createdById: actingUserId(ctx.viewer),
        },
        select: { id: true },
      });
      void announce(ctx, { type: 'API_KEY_ISSUED', workspaceId, apiKeyId: key.id });
      return { apiKeyId: key.id, secret };
    },
  }),
  revokeApiKey: t.prismaField({
    type: ApiKeyRef,
    description: 'Revokes an API key at once; calls made with it are refused from then on. Admins only.',
    errors: { types: [NotFoundError] },
    args: { id: t.arg.id({ description: 'The key’s id.' }) },
    resolve: async (query, _root, args, ctx) => {
      const id = parseId(args.id, 'ApiKey');
      const key = assertWorkspaceAccess(
        ctx.viewer,
        'ApiKey',
        await ctx.db.apiKey.findUnique({ where: { id }, select: { workspaceId: true, revokedAt: true } }),
        { roles: ADMIN_ROLES },
      );
      const updated = await ctx.db.apiKey.update({
        ...query,
        where: { id },
        data: { revokedAt: key.revokedAt ?? new Date() },
      });
      await announce(ctx, { type: 'API_KEY_REVOKED', workspaceId: key.workspaceId, apiKeyId: id });
      return updated;
    },
  }),
}));
