/** Sign-up, log-in, renewal, log-out and guest sessions. */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { builder } from '../../graphql/builder.js';
import { ConflictError, InvalidCredentialsError, NotFoundError, UnauthenticatedError, ValidationError } from '../../graphql/errors.js';
import { hashPassword, verifyPassword } from '../../auth/passwords.js';
import { isUniqueViolation } from '../../db/errors.js';
import { UserRef } from './types.js';
import { actAs, issueSession, renewSession, revokeRefreshToken, type Session } from './sessions.js';

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
  description: 'A new account.',
  fields: (t) => ({
    email: t.string({ description: 'The email address to sign in with.', validate: email }),
    password: t.string({ description: 'At least 8 characters.', validate: password }),
    displayName: t.string({ description: 'The name shown to others.', validate: displayName }),
  }),
});

const LogInInput = builder.inputType('LogInInput', {
  description: 'Credentials of a registered account.',
  fields: (t) => ({
    email: t.string({ description: 'The email address signed up with.', validate: z.string().trim().toLowerCase().min(1).max(254) }),
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

builder.mutationFields((t) => ({
  signUp: t.field({
    type: AuthPayload,
    description: 'Creates an account and signs it in. CONFLICT when the email is taken.',
    errors: { types: [ValidationError, ConflictError] },
    args: { input: t.arg({ type: SignUpInput, description: 'The details; each field is described on its type.' }) },
    resolve: async (_root, { input }, ctx) => {
      const passwordHash = await hashPassword(input.password);
      try {
        const user = await ctx.db.user.create({
          data: { email: input.email, passwordHash, displayName: input.displayName },
          select: { id: true, kind: true, guestWorkspaceId: true, guestSessionId: true },
        });
        await actAs(ctx, user);
        return issueSession(ctx, user);
      } catch (err) {
        if (isUniqueViolation(err)) throw new ConflictError('An account with this email already exists; log in instead.', 'email');
        throw err;
      }
    },
  }),
  logIn: t.field({
    type: AuthPayload,
    description: 'Signs in with email and password. The same INVALID_CREDENTIALS error whether the email or the password is wrong.',
    errors: { types: [ValidationError, InvalidCredentialsError] },
    args: { input: t.arg({ type: LogInInput, description: 'The details; each field is described on its type.' }) },
    resolve: async (_root, { input }, ctx) => {
      const user = await ctx.db.user.findUnique({
        where: { email: input.email },
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
