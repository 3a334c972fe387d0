/**
 * A graphql-ws connection's viewer, authenticated once and reused by its operations.
 *
 * Authenticating reads the user's memberships (or the API key) from the database: about a
 * millisecond of server CPU, which every operation on a socket used to spend again. Here the
 * connection keeps what it read, and each operation checks, without the database:
 * - the access token's expiry (read when the connection authenticated): past it, the operation is
 *   refused exactly as authenticating would refuse it;
 * - whether the viewer's standing changed: a membership added or removed, a role changed, an API
 *   key revoked. Wherever that happens, {@link announceStandingChange} publishes it on one
 *   instance-wide channel (`standing:all`); each instance subscribes to it once and marks the
 *   viewers of the user (or key) named stale, through a map from user and key to their cached
 *   viewers. A stale viewer is read again from the database by the next operation (refused then
 *   if the key is revoked or the user gone, as before), then kept again;
 * - its age: a viewer read more than WS_VIEWER_MAX_AGE_SECONDS ago is read again, a bound on
 *   what an announcement pub/sub lost could leave in place (a publish dropped while Redis was
 *   down on the publishing instance, whose own subscription never stopped).
 *
 * Pub/sub may miss announcements in an outage, so while it is down (or this instance's
 * subscription is not confirmed) every operation authenticates as before, and when it is back
 * (the subscription confirmed again) every kept viewer is read again before its next use.
 *
 * Over HTTP every request still authenticates (graphql/context.ts): there is nothing to keep
 * between requests.
 */
import type { PubSub } from '../pubsub/pubsub.js';
import { authenticateWithExpiry, type Credential, type Services } from '../graphql/context.js';
import { expiredAccessToken } from './tokens.js';
import type { Viewer } from './viewer.js';

/** Whose standing changed: a user's memberships or roles, or an API key (revoked). */
export interface StandingChange {
  userId?: string;
  apiKeyId?: string;
}

declare module '../pubsub/topics.js' {
  interface Topics {
    /** Changes of a user's or API key's standing, on one channel for the whole cluster (`standing:all`). */
    standing: StandingChange;
  }
}

/** The one channel's key: every instance listens to every change (they are rare). */
const CHANNEL = 'all';

/**
 * Tells every instance that a user's memberships or roles changed, or that an API key was
 * revoked, so that graphql-ws connections acting as them read their standing again before their
 * next operation. Call it after the change is committed. Resolves once Redis acknowledged (at
 * most PUBLISH_WAIT_MS), so that the caller's answer leaves after the announcement.
 */
export function announceStandingChange(pubsub: PubSub, change: StandingChange): Promise<void> {
  return pubsub.publish('standing', CHANNEL, change);
}

/** One connection's viewer, as kept between its operations. */
export interface KeptViewer {
  readonly credential: Credential;
  viewer: Viewer;
  /** The access token's expiry (epoch seconds), or null. */
  readonly expiresAt: number | null;
  /** When the viewer was read (ms since epoch). */
  readAt: number;
  /** The {@link ConnectionViewers} epoch it was read in: older ones are read again. */
  epoch: number;
  /** Announced changed since it was read. */
  stale: boolean;
  /** Bumped by each announcement for it: a read that began before one does not clear `stale`. */
  changes: number;
  /** `u:<userId>` or `k:<apiKeyId>`: its key in the map of kept viewers; null for nobody. */
  readonly principal: string | null;
}

function principalOf(viewer: Viewer): string | null {
  switch (viewer.kind) {
    case 'user':
    case 'guest':
      return `u:${viewer.userId}`;
    case 'apiKey':
      return `k:${viewer.apiKeyId}`;
    default:
      return null;
  }
}

/** The kept viewers of one instance's graphql-ws connections; see the file's comment. */
export class ConnectionViewers {
  /** Kept viewers by principal: what an announcement marks stale. Entries leave when their connection closes. */
  private readonly byPrincipal = new Map<string, Set<KeptViewer>>();
  /** Bumped when every kept viewer must be read again (pub/sub back after an outage, subscription restarted). */
  private epoch = 0;
  /** Announcements heard so far: a connection that authenticated while one arrived reads again. */
  private heard = 0;
  /** Whether the subscription to the channel is confirmed: until then nothing kept is used. */
  private listening = false;
  /** Whether an operation found pub/sub down since the last epoch: kept viewers are read again once it is up. */
  private sawOutage = false;
  private subscription: AsyncIterableIterator<StandingChange> | null = null;
  private stopped = true;
  private offResubscribed: (() => void) | null = null;
  private readonly maxAgeMs: number;

  constructor(private readonly services: Services) {
    this.maxAgeMs = services.config.WS_VIEWER_MAX_AGE_SECONDS * 1000;
  }

  /** Subscribes to the channel (once for the instance); returns how to stop. */
  start(): () => Promise<void> {
    this.stopped = false;
    // Redis came back and this instance's subscriptions are confirmed again: what was announced
    // meanwhile may be lost, so everything kept is read again.
    this.offResubscribed = this.services.pubsub.onResubscribed(() => {
      this.epoch++;
      // A subscription refused while Redis was down is made again now rather than at the next operation.
      if (!this.subscription && !this.stopped) this.listen();
    });
    this.listen();
    return async () => {
      this.stopped = true;
      this.listening = false;
      this.offResubscribed?.();
      this.offResubscribed = null;
      const subscription = this.subscription;
      this.subscription = null;
      await subscription?.return?.();
    };
  }

  /** How many principals have kept viewers (tests: entries leave with their connections). */
  get size(): number {
    return this.byPrincipal.size;
  }

  /**
   * Authenticates a connection's credential (refusing it as {@link authenticate} would) and
   * keeps the viewer for its operations; {@link release} it when the connection closes.
   */
  async open(credential: Credential): Promise<KeptViewer> {
    const heard = this.heard;
    const epoch = this.epoch;
    const { viewer, expiresAt } = await authenticateWithExpiry(this.services, credential);
    const kept: KeptViewer = {
      credential,
      viewer,
      expiresAt,
      readAt: Date.now(),
      epoch,
      // Something was announced while reading: it may have been about this viewer.
      stale: this.heard !== heard,
      changes: 0,
      principal: principalOf(viewer),
    };
    if (kept.principal) {
      let set = this.byPrincipal.get(kept.principal);
      if (!set) this.byPrincipal.set(kept.principal, (set = new Set()));
      set.add(kept);
    }
    return kept;
  }

  /** Forgets a connection's viewer (its connection closed, or was refused after authenticating). */
  release(kept: KeptViewer): void {
    if (!kept.principal) return;
    const set = this.byPrincipal.get(kept.principal);
    if (!set) return;
    set.delete(kept);
    if (set.size === 0) this.byPrincipal.delete(kept.principal);
  }

  /**
   * The viewer for an operation on the connection: the kept one while it is current, else read
   * again from the database (and kept again). Throws UNAUTHENTICATED as authenticating would:
   * an expired token, a revoked key, a deleted user.
   */
  async viewerFor(kept: KeptViewer): Promise<Viewer> {
    if (kept.expiresAt !== null && kept.expiresAt <= Date.now() / 1000) throw expiredAccessToken();
    if (!this.services.pubsub.health.up) {
      // Announcements may be lost while pub/sub is down: authenticate as an HTTP request would.
      this.sawOutage = true;
      return (await authenticateWithExpiry(this.services, kept.credential)).viewer;
    }
    if (this.sawOutage) {
      this.sawOutage = false;
      this.epoch++;
    }
    if (!this.listening) {
      // The subscription ended (it overflowed, or could not subscribe while Redis was down).
      if (!this.subscription && !this.stopped) this.listen();
      return (await authenticateWithExpiry(this.services, kept.credential)).viewer;
    }
    if (!kept.stale && kept.epoch === this.epoch && Date.now() - kept.readAt < this.maxAgeMs) return kept.viewer;
    const changes = kept.changes;
    const epoch = this.epoch;
    const { viewer } = await authenticateWithExpiry(this.services, kept.credential);
    // Kept only if nothing was announced for it while reading (the next operation reads again).
    if (kept.changes === changes) {
      kept.viewer = viewer;
      kept.readAt = Date.now();
      kept.epoch = epoch;
      kept.stale = false;
    }
    return viewer;
  }

  /** Marks the kept viewers a change names stale. */
  private changed(change: StandingChange): void {
    this.heard++;
    if (change.userId) this.markStale(`u:${change.userId}`);
    if (change.apiKeyId) this.markStale(`k:${change.apiKeyId}`);
  }

  private markStale(principal: string): void {
    const set = this.byPrincipal.get(principal);
    if (!set) return;
    for (const kept of set) {
      kept.stale = true;
      kept.changes++;
    }
  }

  /** Subscribes to the channel and reads it until stopped; on any end, nothing kept is used until subscribed again. */
  private listen(): void {
    const { pubsub, logger } = this.services;
    const subscription = pubsub.subscribe('standing', CHANNEL, {
      internal: true,
      // Announcements came faster than they were read: some are lost, so everything is read again.
      onOverflow: () => logger.warn('standing announcements overflowed; every connection reads its viewer again'),
    });
    this.subscription = subscription;
    this.listening = false;
    pubsub.whenSubscribed(subscription).then(
      () => {
        if (this.subscription !== subscription) return;
        // Whatever was kept before the subscription was confirmed may have missed a change.
        this.epoch++;
        this.listening = true;
      },
      () => undefined,
    );
    void (async () => {
      try {
        for await (const change of subscription) this.changed(change);
      } catch (err) {
        logger.debug({ err }, 'the standing subscription ended; connections authenticate per operation until it is back');
      } finally {
        if (this.subscription === subscription) {
          this.subscription = null;
          this.listening = false;
          this.epoch++;
        }
      }
    })();
  }
}
