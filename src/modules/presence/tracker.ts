/**
 * Presence: who is ONLINE, AWAY or OFFLINE, and when they were last seen. Ephemeral by design:
 * nothing goes to the database and nothing is a message; every mark lapses on its own. The one
 * answer to "is this user connected anywhere" ({@link Presence.connectedAmong}), which calls and
 * support claims ask when someone's last connection closes.
 *
 * - A user is online while they hold a live graphql-ws connection on some instance. Each instance
 *   marks the users connected to it as live until now + TTL, and renews the marks every TTL/3;
 *   an instance that dies stops renewing, so its users lapse within the TTL.
 * - AWAY is a mark the user sets (setPresence) on top of being online; it lapses with them.
 * - OFFLINE: no live mark anywhere, after the last connection closed or the marks lapsed.
 *
 * The marks live in a TTL store: in memory by default (one instance), in Redis when REDIS_URL is
 * set, so that instances agree. Changes are announced on `presence:<workspaceId>` for each
 * workspace of the user: one event per change and workspace, never one per watcher.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RedisConnection } from '../../redis/connect.js';
import type { Logger } from 'pino';
import type { Viewer } from '../../auth/viewer.js';
import type { PubSub } from '../../pubsub/pubsub.js';
import type { PresenceEvent, PresenceStatus } from './topics.js';
import type { ConnectionInfo, Connections } from '../../realtime/connections.js';

export type { PresenceStatus };

export interface PresenceState {
  userId: string;
  status: PresenceStatus;
  /** When they were last seen online (now-ish while online); null when never seen or forgotten. */
  lastSeenAt: string | null;
}

/** How long "last seen" is remembered after a user goes offline. */
const LAST_SEEN_TTL_MS = 30 * 24 * 3600 * 1000;

/** Where a user is announced: each workspace of theirs, and whether they are staff there. */
export interface Place {
  workspaceId: string;
  /** ADMIN or AGENT there: visible to everyone of the workspace. */
  staff: boolean;
}

export interface Holder {
  userId: string;
  places: Place[];
}

/** Where the marks live. Every method is safe to call from several instances at once. */
export interface PresenceStore {
  /**
   * Marks users live on an instance until now + ttl (renewing their AWAY marks) and keeps where
   * to announce them; returns those who were live nowhere before.
   */
  beat(instanceId: string, holders: readonly Holder[], ttlMs: number): Promise<string[]>;
  /** The instance no longer holds the user; true when they are now live nowhere (AWAY is then cleared). */
  drop(instanceId: string, userId: string): Promise<boolean>;
  /** Sets or clears the AWAY mark; it lapses after ttl unless a beat renews it. */
  setAway(userId: string, away: boolean, ttlMs: number): Promise<void>;
  read(userIds: readonly string[]): Promise<PresenceState[]>;
  /** The users among these with a live mark of an instance other than `instanceId`. */
  liveElsewhere(instanceId: string, userIds: readonly string[]): Promise<Set<string>>;
  /** Users whose every live mark lapsed (an instance died), with where to announce them; each is reported to one caller only. */
  sweep(limit: number): Promise<Holder[]>;
  /** True while the store is in an outage (its own line says so): failures then go to debug. */
  readonly unavailable: boolean;
  close(): Promise<void>;
}

/** The store of a single instance. */
export class MemoryPresenceStore implements PresenceStore {
  private readonly live = new Map<string, Map<string, number>>();
  private readonly away = new Map<string, number>();
  private readonly seen = new Map<string, number>();
  private readonly places = new Map<string, Place[]>();

  private liveAnywhere(userId: string, now: number, except?: string): boolean {
    for (const [instanceId, until] of this.live.get(userId) ?? []) if (until > now && instanceId !== except) return true;
    return false;
  }

  async liveElsewhere(instanceId: string, userIds: readonly string[]): Promise<Set<string>> {
    const now = Date.now();
    return new Set(userIds.filter((userId) => this.liveAnywhere(userId, now, instanceId)));
  }

  async beat(instanceId: string, holders: readonly Holder[], ttlMs: number): Promise<string[]> {
    const now = Date.now();
    const fresh: string[] = [];
    for (const { userId, places } of holders) {
      this.places.set(userId, places);
      if (!this.liveAnywhere(userId, now)) {
        fresh.push(userId);
        this.away.delete(userId);
      }
      let marks = this.live.get(userId);
      if (!marks) this.live.set(userId, (marks = new Map()));
      marks.set(instanceId, now + ttlMs);
      if (this.away.has(userId)) this.away.set(userId, now + ttlMs);
      this.seen.set(userId, now);
    }
    return fresh;
  }

  async drop(instanceId: string, userId: string): Promise<boolean> {
    const now = Date.now();
    this.live.get(userId)?.delete(instanceId);
    if (this.liveAnywhere(userId, now)) return false;
    this.live.delete(userId);
    this.away.delete(userId);
    this.places.delete(userId);
    this.seen.set(userId, now);
    return true;
  }

  async setAway(userId: string, away: boolean, ttlMs: number): Promise<void> {
    if (away) this.away.set(userId, Date.now() + ttlMs);
    else this.away.delete(userId);
  }

  async read(userIds: readonly string[]): Promise<PresenceState[]> {
    const now = Date.now();
    return userIds.map((userId) => {
      const online = this.liveAnywhere(userId, now);
      const away = online && (this.away.get(userId) ?? 0) > now;
      const seen = this.seen.get(userId);
      return {
        userId,
        status: online ? (away ? 'AWAY' : 'ONLINE') : 'OFFLINE',
        lastSeenAt: seen !== undefined && now - seen < LAST_SEEN_TTL_MS ? new Date(online ? now : seen).toISOString() : null,
      };
    });
  }

  async sweep(limit: number): Promise<Holder[]> {
    const now = Date.now();
    const lapsed: Holder[] = [];
    for (const [userId, marks] of this.live) {
      if (lapsed.length >= limit) break;
      if (this.liveAnywhere(userId, now)) continue;
      // Last seen stays when the marks were last renewed, not when they ran out.
      this.live.delete(userId);
      this.away.delete(userId);
      if (marks.size > 0) lapsed.push({ userId, places: this.places.get(userId) ?? [] });
      this.places.delete(userId);
    }
    for (const [userId, at] of this.seen) if (now - at >= LAST_SEEN_TTL_MS) this.seen.delete(userId);
    return lapsed;
  }

  readonly unavailable = false;

  async close(): Promise<void> {}
}

/**
 * The store shared by instances, in Redis:
 * - `presence:live:<user>`: a hash, instance id -> the time its mark lapses (ms); the key itself
 *   expires with the latest mark;
 * - `presence:away:<user>`: set while AWAY, with the same TTL, renewed by beats;
 * - `presence:seen:<user>`: last seen (ms), kept for 30 days;
 * - `presence:places:<user>`: where to announce them (JSON), so any instance can;
 * - `presence:due`: a sorted set, user -> when their latest mark lapses, to find the users of an
 *   instance that died (ZREM decides which instance announces it).
 */
export class RedisPresenceStore implements PresenceStore {
  private readonly redis: Redis;

  /** `connection`: the instance's state connection (the app opens and closes it). */
  constructor(private readonly connection: RedisConnection) {
    this.redis = connection.client;
  }

  private static liveIn(hash: Record<string, string>, now: number, except?: string): boolean {
    return Object.entries(hash).some(([instanceId, until]) => Number(until) > now && instanceId !== except);
  }

  async liveElsewhere(instanceId: string, userIds: readonly string[]): Promise<Set<string>> {
    if (userIds.length === 0) return new Set();
    const now = Date.now();
    const marks = (await this.redis.pipeline(userIds.map((u) => ['hgetall', `presence:live:${u}`])).exec()) ?? [];
    return new Set(
      userIds.filter((_, i) => {
        const [err, hash] = marks[i] ?? [null, {}];
        if (err) throw err;
        return RedisPresenceStore.liveIn((hash ?? {}) as Record<string, string>, now, instanceId);
      }),
    );
  }

  async beat(instanceId: string, holders: readonly Holder[], ttlMs: number): Promise<string[]> {
    if (holders.length === 0) return [];
    const userIds = holders.map((h) => h.userId);
    const now = Date.now();
    const before = await this.redis.pipeline(userIds.map((u) => ['hgetall', `presence:live:${u}`])).exec();
    const fresh = userIds.filter((_, i) => !RedisPresenceStore.liveIn((before?.[i]?.[1] ?? {}) as Record<string, string>, now));
    const until = now + ttlMs;
    const write = this.redis.multi();
    for (const { userId: u, places } of holders) {
      write.hset(`presence:live:${u}`, instanceId, String(until));
      write.set(`presence:places:${u}`, JSON.stringify(places), 'PX', 2 * ttlMs);
      write.pexpire(`presence:live:${u}`, ttlMs);
      write.pexpire(`presence:away:${u}`, ttlMs);
      write.set(`presence:seen:${u}`, String(now), 'PX', LAST_SEEN_TTL_MS);
      write.zadd('presence:due', 'GT', until, u);
    }
    // A user who was offline starts without a stale AWAY mark.
    for (const u of fresh) write.del(`presence:away:${u}`);
    await write.exec();
    return fresh;
  }

  async drop(instanceId: string, userId: string): Promise<boolean> {
    const now = Date.now();
    await this.redis.hdel(`presence:live:${userId}`, instanceId);
    const rest = await this.redis.hgetall(`presence:live:${userId}`);
    if (RedisPresenceStore.liveIn(rest, now)) return false;
    await this.redis
      .multi()
      .del(`presence:live:${userId}`, `presence:away:${userId}`, `presence:places:${userId}`)
      .zrem('presence:due', userId)
      .set(`presence:seen:${userId}`, String(now), 'PX', LAST_SEEN_TTL_MS)
      .exec();
    return true;
  }

  async setAway(userId: string, away: boolean, ttlMs: number): Promise<void> {
    if (away) await this.redis.set(`presence:away:${userId}`, '1', 'PX', ttlMs);
    else await this.redis.del(`presence:away:${userId}`);
  }

  async read(userIds: readonly string[]): Promise<PresenceState[]> {
    if (userIds.length === 0) return [];
    const now = Date.now();
    const cmds = userIds.flatMap((u) => [
      ['hgetall', `presence:live:${u}`],
      ['exists', `presence:away:${u}`],
      ['get', `presence:seen:${u}`],
    ]);
    const res = (await this.redis.pipeline(cmds).exec()) ?? [];
    return userIds.map((userId, i) => {
      const online = RedisPresenceStore.liveIn((res[i * 3]?.[1] ?? {}) as Record<string, string>, now);
      const away = online && res[i * 3 + 1]?.[1] === 1;
      const seen = res[i * 3 + 2]?.[1] as string | null | undefined;
      return {
        userId,
        status: online ? (away ? 'AWAY' : 'ONLINE') : 'OFFLINE',
        lastSeenAt: online ? new Date(now).toISOString() : seen ? new Date(Number(seen)).toISOString() : null,
      };
    });
  }

  async sweep(limit: number): Promise<Holder[]> {
    const due = await this.redis.zrangebyscore('presence:due', '-inf', Date.now(), 'LIMIT', 0, limit);
    const lapsed: Holder[] = [];
    for (const userId of due) {
      // The score is the latest mark's lapse, so every mark has lapsed; ZREM picks one announcer.
      if ((await this.redis.zrem('presence:due', userId)) === 1) {
        // Renewed between the two reads (the user came back): not lapsed after all.
        const marks = await this.redis.hgetall(`presence:live:${userId}`);
        const latest = Math.max(0, ...Object.values(marks).map(Number));
        if (latest > Date.now()) {
          await this.redis.zadd('presence:due', 'GT', latest, userId);
          continue;
        }
        const places = await this.redis.get(`presence:places:${userId}`);
        await this.redis.del(`presence:live:${userId}`, `presence:away:${userId}`, `presence:places:${userId}`);
        lapsed.push({ userId, places: places ? (JSON.parse(places) as Place[]) : [] });
      }
    }
    return lapsed;
  }

  get unavailable(): boolean {
    return this.connection.unavailable;
  }

  async close(): Promise<void> {}
}

function placesOf(viewer: Viewer): Place[] {
  if (viewer.kind === 'user') return [...viewer.roles].map(([workspaceId, role]) => ({ workspaceId, staff: role !== 'CLIENT' }));
  if (viewer.kind === 'guest') return [{ workspaceId: viewer.workspaceId, staff: false }];
  return [];
}

export interface PresenceDeps {
  connections: Connections;
  pubsub: PubSub;
  logger: Logger;
}

export class Presence {
  /** Names this instance's marks (the app's instance id). */
  readonly instanceId: string;
  readonly ttlMs: number;
  readonly store: PresenceStore;
  private readonly deps: PresenceDeps;
  private readonly logger: Logger;
  /** Users with a connection on this instance, and where to announce them. */
  private readonly local = new Map<string, Place[]>();
  /** Per-user queue: one user's comings and goings are applied in order. */
  private readonly queues = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | null = null;
  private ticking: Promise<void> | null = null;
  private stopping = false;

  /** `redis`: the instance's state connection, where the marks live (in memory without it). */
  constructor(deps: PresenceDeps, options: { instanceId?: string; ttlMs: number; redis?: RedisConnection | null }) {
    this.deps = deps;
    this.instanceId = options.instanceId ?? randomUUID();
    this.ttlMs = options.ttlMs;
    this.logger = deps.logger.child({ component: 'presence' });
    this.store = options.redis ? new RedisPresenceStore(options.redis) : new MemoryPresenceStore();
  }

  start(): void {
    this.deps.connections.on('opened', this.onOpened);
    this.deps.connections.on('closed', this.onClosed);
    this.timer = setInterval(() => {
      this.ticking ??= this.tick().finally(() => (this.ticking = null));
    }, Math.max(200, Math.floor(this.ttlMs / 3)));
    this.timer.unref();
  }

  /** Stops renewing; users still connected here go offline (unless live elsewhere). */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.deps.connections.off('opened', this.onOpened);
    this.deps.connections.off('closed', this.onClosed);
    await this.ticking;
    this.stopping = true;
    for (const userId of [...this.local.keys()]) this.leave(userId);
    await Promise.all(this.queues.values());
    await this.store.close();
  }

  read(userIds: readonly string[]): Promise<PresenceState[]> {
    return this.store.read(userIds);
  }

  /** True while the marks' store (Redis) is in an outage, whose own line says so. */
  get unavailable(): boolean {
    return this.store.unavailable;
  }

  /**
   * The users among these with a live WebSocket on any instance: "is this user connected
   * anywhere", what ending a call or releasing a support claim on a last disconnect asks. This
   * instance's own connections answer for it; other instances' live marks for them. A user whose
   * last connection here just closed has their mark here dropped first (their queue is awaited;
   * this tracker's 'closed' listener runs before any worker's, as it starts before them in
   * app.ts), so of two instances losing a user's last connections at the same moment, the later
   * one sees them connected nowhere. An instance that dies stops renewing its marks: its users
   * count as connected until the marks lapse (PRESENCE_TTL_SECONDS), as they show ONLINE.
   */
  async connectedAmong(userIds: readonly string[]): Promise<Set<string>> {
    const connected = new Set<string>();
    const elsewhere: string[] = [];
    for (const userId of userIds) {
      if (this.deps.connections.countFor(userId) > 0) connected.add(userId);
      else elsewhere.push(userId);
    }
    if (elsewhere.length === 0) return connected;
    await Promise.all(elsewhere.map((userId) => this.queues.get(userId)));
    for (const userId of await this.store.liveElsewhere(this.instanceId, elsewhere)) connected.add(userId);
    return connected;
  }

  /** Sets or clears AWAY for the viewer and announces the result. */
  async setAway(viewer: Viewer, userId: string, away: boolean): Promise<PresenceState> {
    await this.enqueue(userId, () => this.store.setAway(userId, away, this.ttlMs));
    const [state] = await this.store.read([userId]);
    await this.announce(state!, placesOf(viewer));
    return state!;
  }

  private readonly onOpened = (info: ConnectionInfo): void => {
    const userId = info.userId;
    if (!userId) return;
    this.local.set(userId, placesOf(info.viewer));
    if (this.deps.connections.countFor(userId) !== 1) return;
    void this.enqueue(userId, async () => {
      const fresh = await this.store.beat(this.instanceId, [{ userId, places: this.local.get(userId) ?? [] }], this.ttlMs);
      if (fresh.length) await this.announceUser(userId);
    });
  };

  private readonly onClosed = (info: ConnectionInfo, { remaining }: { remaining: number }): void => {
    if (!info.userId || remaining > 0) return;
    this.leave(info.userId);
  };

  private leave(userId: string): void {
    const places = this.local.get(userId) ?? [];
    this.local.delete(userId);
    void this.enqueue(userId, async () => {
      // Reconnected meanwhile: still here (unless this instance is going away).
      if (!this.stopping && this.deps.connections.countFor(userId) > 0) return;
      if (await this.store.drop(this.instanceId, userId)) {
        const [state] = await this.store.read([userId]);
        await this.announce(state!, places);
      }
    });
  }

  private enqueue(userId: string, task: () => Promise<void>): Promise<void> {
    const next = (this.queues.get(userId) ?? Promise.resolve())
      .then(task)
      .catch((err: unknown) => this.failed(err, { userId }, 'presence update failed; it catches up on the next beat'));
    this.queues.set(userId, next);
    void next.then(() => {
      if (this.queues.get(userId) === next) this.queues.delete(userId);
    });
    return next;
  }

  private async announceUser(userId: string): Promise<void> {
    const [state] = await this.store.read([userId]);
    await this.announce(state!, this.local.get(userId) ?? []);
  }

  private async announce(state: PresenceState, places: readonly Place[]): Promise<void> {
    const at = new Date().toISOString();
    await Promise.all(
      places.map((p) =>
        this.deps.pubsub.publish('presence', p.workspaceId, { ...state, workspaceId: p.workspaceId, staff: p.staff, at } satisfies PresenceEvent),
      ),
    );
  }

  /** Renews this instance's marks, and announces users whose marks lapsed elsewhere. */
  private async tick(): Promise<void> {
    try {
      const holders = [...this.local].map(([userId, places]) => ({ userId, places }));
      const fresh = await this.store.beat(this.instanceId, holders, this.ttlMs);
      await Promise.all(fresh.map((u) => this.announceUser(u)));
      const lapsed = (await this.store.sweep(100)).filter((h) => !this.local.has(h.userId));
      if (lapsed.length === 0) return;
      const states = await this.store.read(lapsed.map((h) => h.userId));
      await Promise.all(states.map((state, i) => this.announce(state, lapsed[i]!.places)));
    } catch (err) {
      this.failed(err, {}, 'presence beat failed; retrying on the next one');
    }
  }

  /** A failure is worth a line of its own unless it is part of an outage already logged. */
  private failed(err: unknown, context: Record<string, unknown>, msg: string): void {
    if (this.store.unavailable) this.logger.debug({ err, ...context }, msg);
    else this.logger.warn({ err, ...context }, msg);
  }
}
