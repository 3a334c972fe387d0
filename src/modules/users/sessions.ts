/** Issuing and renewing sessions: an access token plus a refresh token rotated on every use. */
import { randomUUID } from 'node:crypto';
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

/** Starts a session; `familyId` is the sign-in a renewal descends from (a new one otherwise). */
export async function issueSession(services: Services, user: SessionUser, familyId: string = randomUUID()): Promise<Session> {
  const refreshToken = randomToken(REFRESH_TOKEN_PREFIX);
  const refreshTokenExpiresAt = new Date(Date.now() + services.config.REFRESH_TOKEN_TTL_DAYS * 86_400_000);
  await services.db.refreshToken.create({
    data: { userId: user.id, familyId, tokenHash: sha256(refreshToken), expiresAt: refreshTokenExpiresAt },
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
 *
 * A token presented again after it was used means two holders: the client and whoever copied
 * it. Which is which cannot be told, so the whole family (every token renewed from the same
 * sign-in) is revoked and both must sign in again (OAuth 2.0 refresh token rotation, RFC 9700).
 */
export async function renewSession(services: Services, refreshToken: string): Promise<{ user: SessionUser; session: Session }> {
  const now = new Date();
  const revoked = await services.db.refreshToken.updateManyAndReturn({
    where: { tokenHash: sha256(refreshToken), revokedAt: null, expiresAt: { gt: now } },
    data: { revokedAt: now },
    select: { userId: true, familyId: true },
  });
  const row = revoked[0];
  if (!row) {
    const reused = await services.db.refreshToken.findUnique({
      where: { tokenHash: sha256(refreshToken) },
      select: { id: true, familyId: true, revokedAt: true },
    });
    if (reused?.revokedAt && reused.familyId) {
      const { count } = await services.db.refreshToken.updateMany({
        where: { familyId: reused.familyId, revokedAt: null },
        data: { revokedAt: now },
      });
      services.logger.warn({ familyId: reused.familyId, revoked: count }, 'a used refresh token was presented again; its family is revoked');
    }
    throw new UnauthenticatedError('The refresh token is invalid, expired or already used; sign in again.');
  }
  const user = await services.db.user.findUnique({
    where: { id: row.userId },
    select: { id: true, kind: true, guestWorkspaceId: true, guestSessionId: true },
  });
  if (!user) throw new UnauthenticatedError('The refresh token is invalid, expired or already used; sign in again.');
  return { user, session: await issueSession(services, user, row.familyId ?? undefined) };
}

export async function revokeRefreshToken(services: Services, refreshToken: string): Promise<boolean> {
  const { count } = await services.db.refreshToken.updateMany({
    where: { tokenHash: sha256(refreshToken), revokedAt: null },
    data: { revokedAt: new Date() },
  });
  return count > 0;
}
