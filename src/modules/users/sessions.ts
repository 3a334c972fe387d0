/** Issuing and renewing sessions: an access token plus a refresh token rotated on every use. */
import type { Context, Services } from '../../graphql/context.js';
import { REFRESH_TOKEN_PREFIX, randomToken, sha256 } from '../../auth/tokens.js';
import { UnauthenticatedError } from '../../graphql/errors.js';

export interface Session {
  accessToken: string;
  accessTokenExpiresAt: Date;
  refreshToken: string;
  refreshTokenExpiresAt: Date;
  userId: string;
  sessionId: string | null;
}

type SessionUser = { id: string; kind: 'REGISTERED' | 'GUEST'; guestWorkspaceId: string | null; guestSessionId: string | null };

/**
 * Makes the rest of the request act as the user just signed in, so the payload (the user's own
 * email, their workspaces) reads as they will see it with the new token.
 */
export async function actAs(ctx: Context, user: SessionUser): Promise<void> {
  if (user.kind === 'GUEST') {
    ctx.viewer = { kind: 'guest', userId: user.id, workspaceId: user.guestWorkspaceId! };
    return;
  }
  const memberships = await ctx.db.membership.findMany({ where: { userId: user.id }, select: { workspaceId: true, role: true } });
  ctx.viewer = { kind: 'user', userId: user.id, roles: new Map(memberships.map((m) => [m.workspaceId, m.role])) };
}

export async function issueSession(services: Services, user: SessionUser): Promise<Session> {
  const refreshToken = randomToken(REFRESH_TOKEN_PREFIX);
  const refreshTokenExpiresAt = new Date(Date.now() + services.config.REFRESH_TOKEN_TTL_DAYS * 86_400_000);
  await services.db.refreshToken.create({
    data: { userId: user.id, tokenHash: sha256(refreshToken), expiresAt: refreshTokenExpiresAt },
  });
  const access = await services.tokens.signAccess(
    user.kind === 'GUEST'
      ? { sub: user.id, kind: 'guest', ws: user.guestWorkspaceId! }
      : { sub: user.id, kind: 'user' },
  );
  return {
    accessToken: access.token,
    accessTokenExpiresAt: access.expiresAt,
    refreshToken,
    refreshTokenExpiresAt,
    userId: user.id,
    sessionId: user.guestSessionId,
  };
}

/**
 * Exchanges a refresh token for a new session. The old token is revoked in the same statement
 * that checks it, so two concurrent renewals with one token cannot both succeed.
 */
export async function renewSession(services: Services, refreshToken: string): Promise<{ user: SessionUser; session: Session }> {
  const now = new Date();
  const revoked = await services.db.refreshToken.updateManyAndReturn({
    where: { tokenHash: sha256(refreshToken), revokedAt: null, expiresAt: { gt: now } },
    data: { revokedAt: now },
    select: { userId: true },
  });
  const row = revoked[0];
  if (!row) throw new UnauthenticatedError('The refresh token is invalid, expired or already used; sign in again.');
  const user = await services.db.user.findUnique({
    where: { id: row.userId },
    select: { id: true, kind: true, guestWorkspaceId: true, guestSessionId: true },
  });
  if (!user) throw new UnauthenticatedError('The refresh token is invalid, expired or already used; sign in again.');
  return { user, session: await issueSession(services, user) };
}

export async function revokeRefreshToken(services: Services, refreshToken: string): Promise<boolean> {
  const { count } = await services.db.refreshToken.updateMany({
    where: { tokenHash: sha256(refreshToken), revokedAt: null },
    data: { revokedAt: new Date() },
  });
  return count > 0;
}
