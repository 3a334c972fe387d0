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
import { claimUsername } from './usernames.js';
import { displayName, email, password, username, usernameKey } from '../../graphql/validators.js';
import { requirePerson } from '../../graphql/permissions.js';
import type { Prisma } from '../../generated/prisma/client.js';
import { needsConfirmation, requireUsernameFree, SignUpPending, SignUpPendingRef, startPendingSignUp, takePendingSignUp } from './signup-confirmation.js';


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

/** An account is named by an email, a username, or both; checked before the password is hashed. */
export function requireEmailOrUsername(input: { email?: string | null; username?: string | null }): void {
  if (!input.email && !input.username) {
    throw new ValidationError([{ path: ['input', 'email'], message: 'give an email, a username, or both' }]);
  }
}

type AccountData = { email: string | null; username: string | null; passwordHash: string; displayName: string; workspaceId?: string; role?: Role };

/**
 * Creates a registered account with its email and/or username in one transaction, so a taken
 * username leaves no account behind. CONFLICT names the field that was taken.
 */
export async function createAccount(ctx: Context, data: AccountData) {
  try {
    return await ctx.db.$transaction((tx) => insertAccount(tx, ctx.config.USERNAME_HOLD_DAYS, data));
  } catch (err) {
    if (isUniqueViolation(err)) throw new ConflictError('An account with this email already exists; log in instead.', 'email');
    throw err;
  }
}

/** Inserts the user (and claims the username) inside the caller's transaction. */
async function insertAccount(tx: Prisma.TransactionClient, holdDays: number, data: AccountData) {
  const user = await tx.user.create({
    data: {
      email: data.email,
      passwordHash: data.passwordHash,
      displayName: data.displayName,
      ...(data.workspaceId && data.role ? { memberships: { create: { workspaceId: data.workspaceId, role: data.role } } } : {}),
    },
    select: { id: true, kind: true, guestWorkspaceId: true, guestSessionId: true },
  });
  if (data.username) await claimUsername(tx, user.id, data.username, holdDays);
  return user;
}

builder.mutationFields((t) => ({
  signUp: t.errorUnionField({
    // Public: open to anonymous callers (the root types ask for a credential by default).
    skipTypeScopes: true,
    description:
      'Creates an account and signs it in (AuthPayload). While the server confirms addresses (SIGNUP_CONFIRMATION, on in production), ' +
      'a sign-up with an email answers SignUpPending instead, the same whether the address is free or registered, and the account ' +
      'is made by confirmSignUp with the token mailed to it. CONFLICT (with `field`) when the username is taken, or, without ' +
      'confirmation, the email.',
    types: [AuthPayload, SignUpPendingRef, ValidationError, ConflictError],
    union: {
      resolveType: (result) => (result instanceof SignUpPending ? 'SignUpPending' : 'AuthPayload'),
    },
    args: { input: t.arg({ type: SignUpInput, description: 'The details; each field is described on its type.' }) },
    resolve: async (_root, { input }, ctx) => {
      requireEmailOrUsername(input);
      const confirm = needsConfirmation(ctx.config, input.email);
      // A taken handle is refused before any work: usernames are public, so this tells nothing
      // about emails (the email's answer, below, is the same either way).
      if (confirm && input.username) await requireUsernameFree(ctx.db, input.username);
      const passwordHash = await hashPassword(input.password);
      if (confirm) {
        return startPendingSignUp(ctx, {
          email: input.email!,
          username: input.username ?? null,
          displayName: input.displayName,
          passwordHash,
        });
      }
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
  confirmSignUp: t.field({
    // Public: open to anonymous callers (the root types ask for a credential by default).
    skipTypeScopes: true,
    type: AuthPayload,
    description:
      'Finishes a sign-up that waited for its email address (SignUpPending): creates the account from the token in the link mailed ' +
      'to it, and signs it in. The token works once. NOT_FOUND for an unknown, used or expired token; CONFLICT when the address ' +
      'or the username was registered meanwhile. Nothing is changed on error.',
    errors: { types: [ValidationError, NotFoundError, ConflictError] },
    args: {
      token: t.arg.string({
        description: 'The `token` of the confirmation link.',
        validate: z.string().trim().min(1, 'must not be empty').max(200, 'must be at most 200 characters'),
      }),
    },
    resolve: async (_root, args, ctx) => {
      let user;
      try {
        user = await ctx.db.$transaction(async (tx) => {
          const pending = await takePendingSignUp(tx, args.token);
          return insertAccount(tx, ctx.config.USERNAME_HOLD_DAYS, {
            email: pending.email,
            username: pending.username,
            passwordHash: pending.passwordHash,
            displayName: pending.displayName,
          });
        });
      } catch (err) {
        // Registered meanwhile (another link, an admin): the token's holder owns the mailbox, so
        // telling them is no leak.
        if (isUniqueViolation(err)) throw new ConflictError('An account with this email already exists; log in instead.', 'email');
        throw err;
      }
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
    args: { username: t.arg.string({ description: 'The new handle (rules as for signUp).', validate: username }) },
    resolve: async (query, _root, args, ctx) => {
      const me = requirePerson(ctx.viewer);
      if (ctx.viewer.kind === 'guest') throw new ForbiddenError('Guests have no username; sign up for an account.');
      await ctx.db.$transaction((tx) => claimUsername(tx, me, args.username, ctx.config.USERNAME_HOLD_DAYS));
      return ctx.db.user.findUniqueOrThrow({ ...query, where: { id: me } });
    },
  }),
  logIn: t.field({
    // Public: open to anonymous callers (the root types ask for a credential by default).
    skipTypeScopes: true,
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
    // Public: open to anonymous callers (the root types ask for a credential by default).
    skipTypeScopes: true,
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
    // Public: open to anonymous callers (the root types ask for a credential by default).
    skipTypeScopes: true,
    description: 'Revokes a refresh token. True when it was still active.',
    args: { refreshToken: t.arg.string({ description: 'The refresh token to revoke.' }) },
    resolve: (_root, args, ctx) => revokeRefreshToken(ctx, args.refreshToken),
  }),
  startGuestSession: t.field({
    // Public: open to anonymous callers (the root types ask for a credential by default).
    skipTypeScopes: true,
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
