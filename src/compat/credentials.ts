/**
 * Legacy credentials mapped onto the product's identities, each through a GraphQL operation:
 * - the shim's own API key (LEGACY_API_KEY), for legacy calls that had no authentication; its
 *   workspace is the one legacy 000, 001 and 003 clients live in;
 * - a session_id (000) or anonymous consumer id (003): a guest of that workspace
 *   (startGuestSession), one per session id;
 * - a username and password (001 form fields): a registered user (logIn), usernames mapped to
 *   emails as legacy 003 does.
 * Tokens are cached until shortly before they expire, so a chatty legacy client does not sign
 * in on every call; a password is never cached, only a hash of it as part of the key.
 */
import { createHash } from 'node:crypto';
import type { Credential } from '../graphql/context.js';
import type { Executor } from './executor.js';
import { LegacyGuestSessionDocument, LegacyPasswordLogInDocument, LegacyServiceWorkspaceDocument } from './generated/graphql.js';
import { legacyLogin } from './legacy-accounts.js';

export class LegacyNotConfigured extends Error {
  constructor() {
    super('The legacy API is not configured: set LEGACY_API_KEY to an API key of the workspace legacy clients use.');
  }
}

export interface Identity {
  credential: Credential;
  userId: string;
}

interface Cached {
  identity: Identity;
  until: number;
}

const MARGIN_MS = 30_000;
const MAX_CACHED = 10_000;

export class LegacyCredentials {
  private workspace: Promise<string> | null = null;
  private readonly cache = new Map<string, Cached>();

  /**
   * @param executor the shim's own (bound to no client): it looks the workspace up once, for
   * every caller; sign-ins run on the executor of the client they are for.
   */
  constructor(
    private readonly executor: Executor,
    private readonly apiKey: string | undefined,
  ) {}

  /** The shim's own credential (an API key acting as its workspace's admin). */
  service(): Credential {
    if (!this.apiKey) throw new LegacyNotConfigured();
    return { kind: 'bearer', value: this.apiKey };
  }

  /** The workspace legacy clients live in: the API key's. */
  workspaceId(): Promise<string> {
    this.workspace ??= this.executor.run(LegacyServiceWorkspaceDocument, {}, this.service()).then((r) => {
      const id = r.data?.myWorkspaces[0]?.id;
      if (!id) {
        this.workspace = null;
        throw new LegacyNotConfigured();
      }
      return id;
    });
    return this.workspace;
  }

  /** The guest identity of a legacy session id (created on first use, by `executor`'s client). */
  async guest(executor: Executor, sessionId: string, displayName?: string): Promise<Identity | null> {
    return this.guestIn(executor, await this.workspaceId(), sessionId, displayName);
  }

  /** The guest identity of a session id in a given workspace (legacy 002 names one per call). */
  async guestIn(executor: Executor, workspaceId: string, sessionId: string, displayName?: string): Promise<Identity | null> {
    const key = `guest:${workspaceId}:${sessionId}`;
    const hit = this.hit(key);
    if (hit) return hit;
    const result = await executor.run(
      LegacyGuestSessionDocument,
      { input: { workspaceId, sessionId, ...(displayName ? { displayName } : {}) } },
      { kind: 'none' },
    );
    const session = result.data?.startGuestSession;
    if (session?.__typename !== 'AuthPayload') return null;
    return this.keep(key, session.accessToken, session.user.id, session.accessTokenExpiresAt);
  }

  /** The registered user behind a legacy username and password, or null when they do not match (signed in by `executor`'s client). */
  async password(executor: Executor, username: string, password: string): Promise<Identity | null> {
    const key = `password:${createHash('sha256').update(`${username}\0${password}`).digest('hex')}`;
    const hit = this.hit(key);
    if (hit) return hit;
    const result = await executor.run(
      LegacyPasswordLogInDocument,
      { input: { login: legacyLogin(username), password } },
      { kind: 'none' },
    );
    const session = result.data?.logIn;
    if (session?.__typename !== 'AuthPayload') return null;
    return this.keep(key, session.accessToken, session.user.id, session.accessTokenExpiresAt);
  }

  private hit(key: string): Identity | null {
    const cached = this.cache.get(key);
    if (cached && cached.until > Date.now()) return cached.identity;
    if (cached) this.cache.delete(key);
    return null;
  }

  private keep(key: string, token: string, userId: string, expiresAt: string): Identity {
    if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
    const identity: Identity = { credential: { kind: 'bearer', value: token }, userId };
    this.cache.set(key, { identity, until: new Date(expiresAt).getTime() - MARGIN_MS });
    return identity;
  }
}
