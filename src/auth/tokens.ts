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

/** Verified access tokens remembered at most (the oldest is forgotten first). */
const MAX_VERIFIED = 10_000;

export class TokenService {
  private readonly key: Uint8Array;
  /**
   * Tokens whose signature and claims were verified, with their expiry (epoch seconds). A token
   * cannot change, so verifying it again on every request of a client would only repeat the
   * HMAC through WebCrypto (about a fifth of the server's CPU under the delivery benchmark); its
   * expiry is still checked on every use. Revocation does not live in the token: the user is
   * read from the database on each HTTP request (and by a graphql-ws connection when it opens and
   * when its standing changes, src/auth/standing.ts) whatever this says.
   */
  private readonly verified = new Map<string, { claims: AccessClaims; exp: number }>();
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
    return (await this.verifyAccessWithExpiry(token)).claims;
  }

  /**
   * {@link verifyAccess}, with the token's expiry (epoch seconds): a caller that keeps what the
   * token vouched for (a graphql-ws connection's viewer) compares it on each use without asking again.
   */
  async verifyAccessWithExpiry(token: string): Promise<{ claims: AccessClaims; exp: number }> {
    const known = this.verified.get(token);
    if (known) {
      if (known.exp > Date.now() / 1000) return known;
      this.verified.delete(token);
      throw expiredAccessToken();
    }
    let claims: AccessClaims;
    let exp: number;
    try {
      const { payload } = await jwtVerify(token, this.key, {
        issuer: ISSUER,
        audience: AUDIENCE,
        algorithms: ['HS256'],
      });
      const kind = payload.kind;
      if (typeof payload.sub !== 'string' || (kind !== 'user' && kind !== 'guest') || typeof payload.exp !== 'number') {
        throw new UnauthenticatedError('The access token is invalid; sign in again.');
      }
      if (kind === 'guest' && typeof payload.ws !== 'string') {
        throw new UnauthenticatedError('The access token is invalid; sign in again.');
      }
      claims = { sub: payload.sub, kind, ws: typeof payload.ws === 'string' ? payload.ws : undefined };
      exp = payload.exp;
    } catch (err) {
      if (err instanceof UnauthenticatedError) throw err;
      if (err instanceof joseErrors.JWTExpired) throw expiredAccessToken();
      throw new UnauthenticatedError('The access token is invalid; sign in again.');
    }
    if (this.verified.size >= MAX_VERIFIED) this.verified.delete(this.verified.keys().next().value!);
    const verified = { claims, exp };
    this.verified.set(token, verified);
    return verified;
  }
}

/** The refusal of an access token past its expiry (the same wherever it is checked). */
export function expiredAccessToken(): UnauthenticatedError {
  return new UnauthenticatedError('The access token has expired; renew it with the refreshSession mutation.');
}

export function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

export function randomToken(prefix: string, bytes = 32): string {
  return `${prefix}${randomBytes(bytes).toString('base64url')}`;
}

export const API_KEY_PREFIX = 'ck_';
export const REFRESH_TOKEN_PREFIX = 'rt_';
