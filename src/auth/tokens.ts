/**
 * Access tokens: short-lived HS256 JWTs (jose). Refresh tokens: opaque random strings kept only
 * as SHA-256 hashes and rotated on every use. API keys: `ck_` + random, also kept as hashes.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors } from 'jose';
import { UnauthenticatedError } from '../graphql/errors.js';

const ISSUER = 'chat-backend';
const AUDIENCE = 'chat-api';

export interface AccessClaims {
  /** The user id. */
  sub: string;
  /** 'user' for registered users, 'guest' for website visitors. */
  kind: 'user' | 'guest';
  /** For guests: their workspace. */
  ws?: string;
}

export class TokenService {
  private readonly key: Uint8Array;
  constructor(
    secret: string,
    readonly accessTtlSeconds: number,
  ) {
    this.key = new TextEncoder().encode(secret);
  }

  async signAccess(claims: AccessClaims): Promise<{ token: string; expiresAt: Date }> {
    const now = Math.floor(Date.now() / 1000);
    const exp = now + this.accessTtlSeconds;
    const token = await new SignJWT({ kind: claims.kind, ...(claims.ws ? { ws: claims.ws } : {}) })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject(claims.sub)
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt(now)
      .setExpirationTime(exp)
      .sign(this.key);
    return { token, expiresAt: new Date(exp * 1000) };
  }

  /**
   * A key for another purpose, derived from the server secret (so that nothing it signs can pass
   * for a token signature): the legacy shim makes guest session ids from legacy names with one.
   */
  deriveKey(purpose: string): Buffer {
    return createHmac('sha256', this.key).update(`derived/${purpose}`).digest();
  }

  /** Verifies an access token; throws UNAUTHENTICATED with a reason a client can act on. */
  async verifyAccess(token: string): Promise<AccessClaims> {
    try {
      const { payload } = await jwtVerify(token, this.key, {
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['HS256'],
      });
      const kind = payload.kind;
      if (typeof payload.sub !== 'string' || (kind !== 'user' && kind !== 'guest')) {
        throw new UnauthenticatedError('The access token is invalid; sign in again.');
      }
      if (kind === 'guest' && typeof payload.ws !== 'string') {
        throw new UnauthenticatedError('The access token is invalid; sign in again.');
      }
      return { sub: payload.sub, kind, ws: typeof payload.ws === 'string' ? payload.ws : undefined };
    } catch (err) {
      if (err instanceof UnauthenticatedError) throw err;
      if (err instanceof joseErrors.JWTExpired) {
        throw new UnauthenticatedError('The access token has expired; renew it with the refreshSession mutation.');
      }
      throw new UnauthenticatedError('The access token is invalid; sign in again.');
    }
  }
}

export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

export function randomToken(prefix: string, bytes = 32): string {
  return `${prefix}${randomBytes(bytes).toString('base64url')}`;
}

export const API_KEY_PREFIX = 'ck_';
export const REFRESH_TOKEN_PREFIX = 'rt_';
