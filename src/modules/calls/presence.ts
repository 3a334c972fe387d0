/**
 * "Does this user still have a live connection anywhere?" — what ending a call on a party's
 * last disconnect needs to know.
 *
 * One instance (no REDIS_URL): the local registry (src/realtime/connections.ts) is the whole
 * truth.
 *
 * Several instances (REDIS_URL): each instance writes, per user, how many connections it holds,
 * into a Redis hash `presence:user:<id>` (field = instance id), whenever that count changes; and
 * keeps a heartbeat key `presence:instance:<id>` alive with a short TTL. A user is connected if
 * this instance holds a connection, or another instance whose heartbeat is alive lists one.
 * An instance that crashes stops its heartbeat, so within INSTANCE_TTL_MS its entries stop
 * counting without anyone having to clean them up. Writing the count before reading the others
 * means that of two instances losing a user's last connections at the same moment, at least
 * the later one sees zero everywhere.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { RedisConnection } from '../../redis/connect.js';
import type { Logger } from 'pino';
import type { Connections } from '../../realtime/connections.js';

export interface Presence {
  /** Records this instance's current count for the user (after one of their connections opened or closed). */
  update(userId: string): Promise<void>;
  /** The users among these with a live connection on any instance. */
  connectedAmong(userIds: readonly string[]): Promise<Set<string>>;
  close(): Promise<void>;
}

export class LocalPresence implements Presence {
  constructor(private readonly connections: Connections) {}

  async update(): Promise<void> {}

  async connectedAmong(userIds: readonly string[]): Promise<Set<string>> {
    return new Set(userIds.filter((id) => this.connections.countFor(id) > 0));
  }

  async close(): Promise<void> {}
}

/** How often an instance renews its heartbeat, and how long the heartbeat outlives a silent instance. */
export const HEARTBEAT_MS = 2_000;
export const INSTANCE_TTL_MS = 6_000;
/** A user's hash expires if no instance touches it for this long (bounds leftovers of crashed instances). */
const USER_KEY_TTL_MS = 24 * 3600 * 1000;

const userKey = (userId: string) => `presence:user:${userId}`;
const instanceKey = (instanceId: string) => `presence:instance:${instanceId}`;

export class RedisPresence implements Presence {
  readonly instanceId = randomUUID();
  private readonly redis: Redis;
  private readonly heartbeat: NodeJS.Timeout;

  /** `connection`: the instance's state connection (the app opens and closes it). */
  constructor(
    private readonly connection: RedisConnection,
    private readonly connections: Connections,
    private readonly logger: Logger,
  ) {
    this.redis = connection.client;
    // A failed beat during an outage is part of it (logged once by the connection's outage log).
    const beat = () =>
      this.redis.set(instanceKey(this.instanceId), '1', 'PX', INSTANCE_TTL_MS).catch((err: unknown) => {
        if (this.connection.unavailable) this.logger.debug({ err }, 'presence heartbeat failed during a Redis outage');
        else this.logger.warn({ err }, 'presence heartbeat failed');
      });
    void beat();
    this.heartbeat = setInterval(beat, HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  async update(userId: string): Promise<void> {
    const count = this.connections.countFor(userId);
    const key = userKey(userId);
    if (count > 0) await this.redis.multi().hset(key, this.instanceId, String(count)).pexpire(key, USER_KEY_TTL_MS).exec();
    else await this.redis.hdel(key, this.instanceId);
  }

  async connectedAmong(userIds: readonly string[]): Promise<Set<string>> {
    const connected = new Set<string>();
    const remote: string[] = [];
    for (const id of userIds) {
      if (this.connections.countFor(id) > 0) connected.add(id);
      else remote.push(id);
    }
    if (remote.length === 0) return connected;
    const hashes = await this.redis.pipeline(remote.map((id) => ['hgetall', userKey(id)])).exec();
    const holders = new Map<string, string[]>();
    remote.forEach((userId, i) => {
      const [err, value] = hashes?.[i] ?? [null, {}];
      if (err) throw err;
      const instances = Object.entries((value ?? {}) as Record<string, string>)
        .filter(([instance, count]) => instance !== this.instanceId && Number(count) > 0)
        .map(([instance]) => instance);
      if (instances.length) holders.set(userId, instances);
    });
    const instances = [...new Set([...holders.values()].flat())];
    if (instances.length === 0) return connected;
    const alive = await this.redis.mget(instances.map(instanceKey));
    const aliveSet = new Set(instances.filter((_, i) => alive[i] !== null));
    for (const [userId, list] of holders) if (list.some((instance) => aliveSet.has(instance))) connected.add(userId);
    return connected;
  }

  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    // Gone at once rather than after the TTL: other instances stop counting our connections.
    await this.redis.del(instanceKey(this.instanceId)).catch(() => undefined);
  }
}
