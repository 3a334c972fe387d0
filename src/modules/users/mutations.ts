/** Sign-up, log-in, renewal, log-out and guest sessions. */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { builder } from '../../graphql/builder.js';
import { ConflictError, ForbiddenError, InvalidCredentialsError, NotFoundError, UnauthenticatedError, ValidationError } from '../../graphql/errors.js';
import { hashPassword, verifyPassword } from '../../auth/passwords.js';
import { isUniqueViolation } from '../../db/errors.js';
import type { Context } from '../../graphql/context.js';
import type { Role } from '../../generated/prisma/enums.js';
import { UserRef } from './types.js';
import { actAs, issueSession, renewSession, revokeRefreshToken, type Session } from './sessions.js';
import { claimUsername, username, usernameKey } from './usernames.js';
import { requirePerson } from '../../graphql/permissions.js';

export const email = z.string().trim().toLowerCase().email('must be an email address').max(254);
export const password = z
  .string()
  .min(8, 'must be at least 8 characters')
  .max(200, 'must be at most 200 characters');
export const displayName = z.string().trim().min(1, 'must not be empty').max(100, 'must be at most 100 characters');

const AuthPayload = builder.objectRef<Session>('AuthPayload').implement({
  description: 'A signed-in session. Send `accessToken` as "Authorization: Bearer <token>"; renew it with refreshSession.',
  fields: (t) => ({
    accessToken: t.exposeString('accessToken', { description: 'A JWT for the Authorization header or graphql-ws connectionParams.' }),
    accessTokenExpiresAt: t.expose('accessTokenExpiresAt', { type: 'DateTime', description: 'When the access token stops working.' }),
    refreshToken: t.exposeString('refreshToken', { description: 'Renews the session once; keep it secret.' }),
    refreshTokenExpiresAt: t.expose('refreshTokenExpiresAt', { type: 'DateTime', description: 'When the refresh token stops working.' }),
    sessionId: t.exposeString('sessionId', {
      nullable: true,
      description: 'For guests: the session id to send again to resume as the same visitor.',
    }),
    user: t.prismaField({
      type: UserRef,
      description: 'The signed-in user.',
      resolve: (query, session, _args, ctx) => ctx.db.user.findUniqueOrThrow({ ...query, where: { id: session.userId } }),
    }),
  }),
});

const SignUpInput = builder.inputType('SignUpInput', {
  description: 'A new account: an email, a username, or both (either signs in).',
  fields: (t) => ({
    email: t.string({ required: false, description: 'The email address to sign in with.', validate: email }),
    username: t.string({
      required: false,
      description:
        'A handle others @mention and that signs in like the email: 3–32 letters, digits, _ . -, beginning with a letter or digit; ' +
        'unique whatever its case; a few words (here, everyone, admin, …) are reserved.',
      validate: username,
    }),
    password: t.string({ description: 'At least 8 characters.', validate: password }),
    displayName: t.string({ description: 'The name shown to others.', validate: displayName }),
  }),
});

const LogInInput = builder.inputType('LogInInput', {
  description: 'Credentials of a registered account: `login` (the username or the email) or `email`, and the password.',
  fields: (t) => ({
    login: t.string({
      required: false,
      description: 'The username or the email address (one with an @ is taken as the email); case does not matter.',
      validate: z.string().trim().toLowerCase().min(1).max(254),
    }),
    email: t.string({ required: false, description: 'The email address signed up with.', validate: z.string().trim().toLowerCase().min(1).max(254) }),
    password: t.string({ description: 'The password.', validate: z.string().min(1).max(200) }),
  }),
});

const GuestSessionInput = builder.inputType('GuestSessionInput', {
  description: 'A website visitor starting or resuming an anonymous session.',
  fields: (t) => ({
    workspaceId: t.id({ description: 'The workspace whose website the visitor is on.' }),
    sessionId: t.string({
      required: false,
      description: 'The visitor’s session id (legacy session_id / consumer id); a new one is made when omitted.',
      validate: z.string().trim().min(8, 'must be at least 8 characters').max(128).regex(/^[\w.:-]+$/, 'may hold letters, digits, and . _ : - only'),
    }),
    displayName: t.string({ required: false, description: 'A name to show to agents.', validate: displayName }),
  }),
});

/**
 * Creates a registered account with its email and/or username in one transaction, so a taken
 * username leaves no account behind. CONFLICT names the field that was taken.
 */
/** An account is named by an email, a username, or both; checked before the password is hashed. */
export function requireEmailOrUsername(input: { email?: string | null; username?: string | null }): void {
  if (!input.email && !input.username) {
    throw new ValidationError([{ path: ['input', 'email'], message: 'give an email, a username, or both' }]);
  }
}

export async function createAccount(
  ctx: Context,
  data: { email: string | null; username: string | null; passwordHash: string; displayName: string; workspaceId?: string; role?: Role },
) {
  try {
    return await ctx.db.$transaction(async (tx) => {
      const user = await tx.user.create({
        data: {
          email: data.email,
          passwordHash: data.passwordHash,
          displayName: data.displayName,
          ...(data.workspaceId && data.role ? { memberships: { create: { workspaceId: data.workspaceId, role: data.role } } } : {}),
        },
        select: { id: true, kind: true, guestWorkspaceId: true, guestSessionId: true },
      });
      if (data.username) await claimUsername(tx, user.id, data.username, ctx.config.USERNAME_HOLD_DAYS);
      return user;
    });
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError('An account with this email already exists; log in instead.', 'email');
    throw err;
  }
}

builder.mutationFields((t) => ({
  signUp: t.field({
    type: AuthPayload,
    description: 'Creates an account and signs it in. CONFLICT (with `field`) when the email or the username is taken.',
    errors: { types: [ValidationError, ConflictError] },
    args: { input: t.arg({ type: SignUpInput, description: 'The details; each field is described on its type.' }) },
    resolve: async (_root, { input }, ctx) => {
      requireEmailOrUsername(input);
      const passwordHash = await hashPassword(input.password);
      const user = await createAccount(ctx, {
        email: input.email ?? null,
        username: input.username ?? null,
        passwordHash,
        displayName: input.displayName,
      });
      await actAs(ctx, user);
      return issueSession(ctx, user);
    },
  }),
  setUsername: t.prismaField({
    type: UserRef,
    description:
      'Sets or changes the viewer’s username. The previous one stays reserved for the viewer for a while (USERNAME_HOLD_DAYS) and ' +
      'then becomes free. CONFLICT when someone else holds it; FORBIDDEN for guests and API keys.',
    errors: { types: [ValidationError, ConflictError, ForbiddenError] },
    authScopes: { authenticated: true },
    args: { username: t.arg.string({ description: 'The new handle (rules as for signUp).', validate: username }) },
    resolve: async (query, _root, args, ctx) => {
      const me = requirePerson(ctx.viewer);
      if (ctx.viewer.kind === 'guest') throw new ForbiddenError('Guests have no username; sign up for an account.');
      await ctx.db.$transaction((tx) => claimUsername(tx, me, args.username, ctx.config.USERNAME_HOLD_DAYS));
      return ctx.db.user.findUniqueOrThrow({ ...query, where: { id: me } });
    },
  }),
  logIn: t.field({
    type: AuthPayload,
    description:
      'Signs in with the username or the email, and the password. The same INVALID_CREDENTIALS error whether the login or the password is wrong.',
    errors: { types: [ValidationError, InvalidCredentialsError] },
    args: { input: t.arg({ type: LogInInput, description: 'The details; each field is described on its type.' }) },
    resolve: async (_root, { input }, ctx) => {
      const login = input.login ?? input.email;
      if (!login) throw new ValidationError([{ path: ['input', 'login'], message: 'give the username or the email' }]);
      const user = await ctx.db.user.findUnique({
        where: login.includes('@') ? { email: login } : { usernameKey: usernameKey(login) },
        select: { id: true, kind: true, guestWorkspaceId: true, guestSessionId: true, passwordHash: true },
      });
      const ok = await verifyPassword(user?.passwordHash, input.password);
      if (!user || !ok) throw new InvalidCredentialsError();
      await actAs(ctx, user);
      return issueSession(ctx, user);
    },
  }),
  refreshSession: t.field({
    type: AuthPayload,
    description: 'Exchanges a refresh token for a new session; the old refresh token stops working.',
    errors: { types: [UnauthenticatedError] },
    args: { refreshToken: t.arg.string({ description: 'The refresh token of the current session.' }) },
    resolve: async (_root, args, ctx) => {
      const { user, session } = await renewSession(ctx, args.refreshToken);
      await actAs(ctx, user);
      return session;
    },
  }),
  logOut: t.boolean({
    description: 'Revokes a refresh token. True when it was still active.',
    args: { refreshToken: t.arg.string({ description: 'The refresh token to revoke.' }) },
    resolve: (_root, args, ctx) => revokeRefreshToken(ctx, args.refreshToken),
  }),
  startGuestSession: t.field({
    type: AuthPayload,
    description:
      'Starts (or, with the same sessionId, resumes) an anonymous visitor session in a workspace. ' +
      'The guest reaches only its own conversations.',
    errors: { types: [ValidationError, NotFoundError] },
    args: { input: t.arg({ type: GuestSessionInput, description: 'The details; each field is described on its type.' }) },
    resolve: async (_root, { input }, ctx) => {
      const workspaceId = String(input.workspaceId);
      const workspace = z.uuid().safeParse(workspaceId).success
        ? await ctx.db.workspace.findUnique({ where: { id: workspaceId }, select: { id: true } })
        : null;
      if (!workspace) throw new NotFoundError('Workspace');
      const sessionId = input.sessionId ?? randomUUID();
      const user = await ctx.db.user.upsert({
        where: { guestWorkspaceId_guestSessionId: { guestWorkspaceId: workspaceId, guestSessionId: sessionId } },
        create: {
          kind: 'GUEST',
          guestWorkspaceId: workspaceId,
          guestSessionId: sessionId,
          displayName: input.displayName ?? `Visitor ${sessionId.slice(0, 6)}`,
        },
        update: input.displayName ? { displayName: input.displayName } : {},
        select: { id: true, kind: true, guestWorkspaceId: true, guestSessionId: true },
      });
      await actAs(ctx, user);
      return issueSession(ctx, user);
    },
  }),
}));
