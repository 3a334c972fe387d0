/**
 * One context builder for HTTP requests and graphql-ws operations. The credential comes from the
 * Authorization (or X-Api-Key) header over HTTP and from `connectionParams` over WebSocket; both
 * end up in {@link authenticate}, so the rules are the same on every transport. An HTTP request
 * authenticates on each request; a graphql-ws connection authenticates when it connects and its
 * operations reuse that viewer until its standing changes (src/auth/standing.ts).
 */
import type { Logger } from 'pino';
import type { PrismaClient } from '../generated/prisma/client.js';
import type { Config } from '../config/env.js';
import type { PubSub } from '../pubsub/pubsub.js';
import type { Connections } from '../realtime/connections.js';
import type { FileStorage, UrlSigner } from '../storage/index.js';
import type { Presence } from '../modules/presence/tracker.js';
import type { Defenses } from '../security/index.js';
import type { Mailer } from '../mail/mailer.js';
import type { Metrics } from '../observability/metrics.js';
import type { DatabaseHealth } from '../observability/faults.js';
import { API_KEY_PREFIX, sha256, type TokenService } from '../auth/tokens.js';
import type { Viewer } from '../auth/viewer.js';
import type { SqlRows } from '../db/raw.js';
import { UnauthenticatedError } from './errors.js';

/**
 * Long-lived parts shared by every request; built once by app.ts, which also starts and stops
 * what runs in them. A module that keeps per-app state adds its part to this interface where it
 * defines it (`declare module`, so the infrastructure here imports no module): `pipeline`
 * (conversations/pipeline.ts), `catchUp` (conversations/catch-up.ts), `calls` (calls/worker.ts),
 * `webhooks` (webhooks/worker.ts), `deskQueue` (support/desk.ts).
 */
export interface Services {
  db: PrismaClient;
  /** The app's own SQL run without Prisma's client, on db's connections (src/db/raw.ts): for per-message statements. */
  rows: SqlRows;
  pubsub: PubSub;
  tokens: TokenService;
  config: Config;
  logger: Logger;
  /** Live WebSocket connections of this instance (presence, calls). */
  connections: Connections;
  /** Uploaded files' bytes (attachments). */
  storage: FileStorage;
  /** Signs short-lived file URLs. */
  urlSigner: UrlSigner;
  /** Who is online, away or offline (ephemeral; in memory or Redis). */
  presence: Presence;
  /** Operation limits, rate limits and socket caps (src/security/). */
  defenses: Defenses;
  /** Prometheus metrics of this app (GET /metrics). */
  metrics: Metrics;
  /** Whether the database is in an outage; turns its errors into SERVICE_UNAVAILABLE. */
  databaseHealth: DatabaseHealth;
  /** Mail out of band (sign-up confirmations); src/mail/. */
  mailer: Mailer;
  /** How the parameterized scopes reach the modules' objects (graphql/builder.ts); wired in app.ts. */
  resources: ResourceAccess;
}

/**
 * Whether the viewer reaches an object, for scope-auth's parameterized scopes. Each answers false
 * for what the viewer may not reach (another workspace's, an id that names nothing), which the
 * builder turns into NOT_FOUND; the modules own the rules and load through a per-request cache
 * (request-cache.ts), so the resolver the scope guards loads nothing again.
 */
export interface ResourceAccess {
  /** A conversation the viewer may read (`read`) or write in (`write`): conversations/permissions.ts. */
  conversation(ctx: Context, id: string, mode: 'read' | 'write'): Promise<boolean>;
  /** A call the viewer is a party to: calls/permissions.ts. */
  call(ctx: Context, id: string): Promise<boolean>;
}

export interface Context extends Services {
  viewer: Viewer;
  /** Over WebSocket: this connection's id in `connections`. */
  connectionId?: string;
  /** The client's address (src/security/address.ts), for per-address rate limits. */
  clientAddress?: string;
  /**
   * The operation came in an HTTP request to /graphql (not over graphql-ws, nor from the legacy
   * shim): it spends RATE_LIMIT_HTTP_OPERATIONS (src/security/rate-limits.ts).
   */
  overHttp?: boolean;
  /**
   * The request (HTTP) or operation (`<connection id>/<operation id>` over graphql-ws) this
   * context serves: named in its errors' `extensions.requestId` and in the log lines about it.
   */
  requestId?: string;
}

/** A credential as presented: a bearer token (JWT or API key) or nothing. */
export type Credential = { kind: 'none' } | { kind: 'bearer'; value: string; customerView?: boolean };

/** Whether a request asks to read as a customer (`X-View-As: customer`, `connectionParams.viewAs`). */
function asCustomer(value: unknown): boolean {
  return typeof value === 'string' && value.trim().toLowerCase() === 'customer';
}

const ANONYMOUS: Viewer = { kind: 'anonymous' };

/** Reads the credential from HTTP headers. */
export function credentialFromHeaders(headers: Headers): Credential {
  const auth = headers.get('authorization');
  if (auth) {
    const match = /^Bearer\s+(.+)$/i.exec(auth.trim());
    if (!match) throw new UnauthenticatedError('The Authorization header must be "Bearer <token or API key>".');
    return { kind: 'bearer', value: match[1]!.trim(), ...(asCustomer(headers.get('x-view-as')) ? { customerView: true } : {}) };
  }
  const apiKey = headers.get('x-api-key');
  if (apiKey) return { kind: 'bearer', value: apiKey.trim(), ...(asCustomer(headers.get('x-view-as')) ? { customerView: true } : {}) };
  return { kind: 'none' };
}

/** Reads the credential from graphql-ws `connectionParams` ({ authorization } or { token } or { apiKey }). */
export function credentialFromConnectionParams(params: Record<string, unknown> | undefined | null): Credential {
  if (!params) return { kind: 'none' };
  const raw = params.authorization ?? params.Authorization ?? params.token ?? params.apiKey;
  if (raw === undefined || raw === null || raw === '') return { kind: 'none' };
  if (typeof raw !== 'string') throw new UnauthenticatedError('connectionParams.authorization must be a string.');
  const match = /^Bearer\s+(.+)$/i.exec(raw.trim());
  return { kind: 'bearer', value: (match ? match[1]! : raw).trim(), ...(asCustomer(params.viewAs) ? { customerView: true } : {}) };
}

/**
 * Turns a credential into a viewer. A credential that is presented but bad (forged, expired,
 * revoked, of a deleted user) is refused, never downgraded to anonymous, so a client with a
 * stale token learns so at once.
 */
export async function authenticate(services: Services, credential: Credential): Promise<Viewer> {
  return (await authenticateWithExpiry(services, credential)).viewer;
}

/** A viewer as {@link authenticate} found it, and until when its credential holds. */
export interface Authenticated {
  viewer: Viewer;
  /** The access token's expiry (epoch seconds); null for what does not expire (API keys, nobody). */
  expiresAt: number | null;
}

/**
 * {@link authenticate}, with the access token's expiry: a graphql-ws connection keeps the viewer
 * (src/auth/standing.ts) and compares the expiry on each operation instead of asking again.
 */
export async function authenticateWithExpiry(services: Services, credential: Credential): Promise<Authenticated> {
  if (credential.kind === 'none') return { viewer: ANONYMOUS, expiresAt: null };
  const found = await authenticateBearer(services, credential);
  const viewer = found.viewer;
  // Guests are customers anyway; staff and API keys may ask to read as one.
  return credential.customerView && (viewer.kind === 'user' || viewer.kind === 'apiKey') ? { ...found, viewer: { ...viewer, customerView: true } } : found;
}

async function authenticateBearer(services: Services, credential: Extract<Credential, { kind: 'bearer' }>): Promise<Authenticated> {
  const value = credential.value;
  if (value.startsWith(API_KEY_PREFIX)) {
    const key = await services.db.apiKey.findUnique({
      where: { keyHash: sha256(value) },
      select: { id: true, workspaceId: true, revokedAt: true, lastUsedAt: true },
    });
    if (!key) throw new UnauthenticatedError('The API key is not valid; issue a new one with issueApiKey.');
    if (key.revokedAt) throw new UnauthenticatedError('The API key has been revoked; issue a new one with issueApiKey.');
    // Recording use at most once a minute keeps a write off every request.
    if (!key.lastUsedAt || Date.now() - key.lastUsedAt.getTime() > 60_000) {
      services.db.apiKey
        .update({ where: { id: key.id }, data: { lastUsedAt: new Date() } })
        .catch((err: unknown) => services.logger.warn({ err }, 'could not record API key use'));
    }
    return { viewer: { kind: 'apiKey', apiKeyId: key.id, workspaceId: key.workspaceId }, expiresAt: null };
  }
  const { claims, exp } = await services.tokens.verifyAccessWithExpiry(value);
  if (claims.kind === 'guest') {
    return { viewer: { kind: 'guest', userId: claims.sub, workspaceId: claims.ws! }, expiresAt: exp };
  }
  const user = await services.db.user.findUnique({
    where: { id: claims.sub },
    select: { kind: true, memberships: { select: { workspaceId: true, role: true } } },
  });
  if (!user || user.kind !== 'REGISTERED') throw new UnauthenticatedError('The access token is invalid; sign in again.');
  return { viewer: { kind: 'user', userId: claims.sub, roles: new Map(user.memberships.map((m) => [m.workspaceId, m.role])) }, expiresAt: exp };
}

export function makeContext(services: Services, viewer: Viewer): Context {
  return { ...services, viewer };
}
