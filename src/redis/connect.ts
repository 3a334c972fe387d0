/**
 * An instance's Redis connections, made one way and only here: three per instance, the pub/sub's
 * publisher and subscriber ({@link RedisFactory.pubsub}) and one shared by everything that keeps
 * state in Redis (presence, rate limits: {@link RedisFactory.state}), which buildApp makes once
 * and gives to them.
 *
 * Each group of connections reports its failures through one {@link OutageLog}: one line when
 * Redis goes away and one when it is back, however many reconnection attempts fall in between
 * (ioredis retries every few hundred ms, and a line per attempt per connection buried the
 * outage's own lines). Every connection is named `<instance name>:<role>` (CLIENT SETNAME), so
 * `CLIENT LIST` tells whose connections Redis holds.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { OutageLog } from '../observability/outage.js';

/** One or more connections that are one dependency: down while any of them is not ready. */
export interface RedisConnections {
  readonly clients: readonly Redis[];
  /** Whether the group is in an outage, and since when (its lines are logged once). */
  readonly outage: OutageLog;
  /** Resolves once every connection is ready (at most `timeoutMs`, then regardless). */
  ready(timeoutMs: number): Promise<void>;
  /** Closes the connections, politely when Redis answers, at once when it does not. */
  close(): Promise<void>;
}

/** The state connection: one client, shared by presence and rate limits. */
export interface RedisConnection extends RedisConnections {
  readonly client: Redis;
  /**
   * True while a command sent now would fail because Redis is away: in an outage, or between the
   * connection closing and ioredis reporting it (callers then log their failures at debug: the
   * outage's own line says it).
   */
  readonly unavailable: boolean;
}

/**
 * Reconnection delay: ioredis' default grows by 50 ms per attempt up to 2 s, so an instance could
 * stay unready for 2 s after Redis returned; capped at 500 ms it is ready within half a second, at
 * the cost of at most two attempts a second per connection while Redis is down.
 */
export const RECONNECT_MAX_MS = 500;
const retryStrategy = (attempt: number) => Math.min(attempt * 50, RECONNECT_MAX_MS);

/**
 * The state connection's options, reconciling what its users need while Redis is down:
 * - rate limits must never make a request wait on Redis: a command fails at once (no offline
 *   queue) or after 500 ms (a Redis that accepts the connection but does not answer), and the
 *   limiters count in memory meanwhile (their insurance);
 * - presence must not block requests either (setPresence, a call's "connected anywhere?"): it
 *   fails at once the same way and catches up on its next beat (it used to queue and retry up to
 *   three times, which held setPresence for seconds during an outage).
 * A command in flight when the connection drops is retried once after reconnecting.
 */
const STATE_OPTIONS: RedisOptions = { enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 500 };

/**
 * The pub/sub's options: while Redis is down nothing waits for it (publishes are not sent and new
 * subscriptions are refused at once, see pubsub.ts); commands queued while starting up are sent
 * once connected.
 */
const PUBSUB_OPTIONS: RedisOptions = { maxRetriesPerRequest: 1 };

export interface RedisFactoryOptions {
  url: string;
  /** Names this instance's connections in CLIENT LIST (`<name>:<role>`): no spaces. */
  name: string;
  logger: Logger;
}

/** Makes an instance's Redis connections (see the file's comment). */
export class RedisFactory {
  constructor(private readonly options: RedisFactoryOptions) {}

  /** The instance's name in its connections' names. */
  get name(): string {
    return this.options.name;
  }

  /** The connection for state (presence, rate limits); its outage is logged as "Redis (state)". */
  state(): RedisConnection {
    const group = this.connect('Redis (state)', ['state'], STATE_OPTIONS, this.options.logger);
    const client = group.clients[0]!;
    return {
      ...group,
      client,
      get unavailable() {
        return group.outage.down || (group.outage.seenUp && client.status !== 'ready');
      },
    };
  }

  /** The pub/sub's publisher and subscriber, one dependency: "pub/sub (Redis)" in its lines. */
  pubsub(logger: Logger): RedisConnections & { publisher: Redis; subscriber: Redis } {
    const group = this.connect('pub/sub (Redis)', ['publisher', 'subscriber'], PUBSUB_OPTIONS, logger);
    return { ...group, publisher: group.clients[0]!, subscriber: group.clients[1]! };
  }

  private connect(what: string, roles: readonly string[], options: RedisOptions, logger: Logger): RedisConnections {
    const outage = new OutageLog(logger, what);
    const states = new Map<string, string>();
    // Set by close(): connections this instance ends itself are not an outage (a clean stop
    // would otherwise log "unavailable: outage began" at error level as it shuts down).
    let closing = false;
    // Down while any connection is not ready; one line opens the outage and one closes it.
    const update = () => {
      if (closing) return;
      const failing = [...states].filter(([, state]) => state !== 'ready');
      if (failing.length === 0) outage.ended();
      // Still connecting at start is not an outage (health says "not up yet" meanwhile).
      else if (outage.seenUp) outage.began(failing.map(([role, state]) => `${role} connection ${state}`).join(', '));
    };
    const clients = roles.map((role) => {
      const client = new Redis(this.options.url, {
        ...options,
        retryStrategy,
        connectionName: `${this.options.name}:${role}`,
        // Commands issued in one turn of the event loop leave in one write: a group commit's
        // publishes, concurrent sends' rate-limit counters. On this machine a socket write costs
        // ~50-100 µs of CPU, as much as the rest of a publish. (A subscriber sends only
        // (un)subscribe commands, which ioredis does not pipeline this way.)
        enableAutoPipelining: role !== 'subscriber',
      });
      states.set(role, 'connecting');
      client.on('error', (err) => outage.error(err, { role }));
      client.on('ready', () => {
        states.set(role, 'ready');
        update();
      });
      for (const event of ['close', 'reconnecting', 'end'] as const) {
        client.on(event, () => {
          states.set(role, event === 'close' ? 'closed' : event);
          update();
        });
      }
      return client;
    });
    return {
      clients,
      outage,
      ready: (timeoutMs) => {
        const deadline = Date.now() + timeoutMs;
        return Promise.all(
          clients.map((client) =>
            client.status === 'ready'
              ? undefined
              : new Promise<void>((resolve) => {
                  const done = () => {
                    clearTimeout(timer);
                    client.off('ready', done);
                    resolve();
                  };
                  const timer = setTimeout(done, Math.max(0, deadline - Date.now()));
                  client.once('ready', done);
                }),
          ),
        ).then(() => undefined);
      },
      close: async () => {
        closing = true;
        await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
      },
    };
  }
}
