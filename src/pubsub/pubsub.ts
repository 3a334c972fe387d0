/**
 * Pub/sub: the doorbell, never the truth. Events announce what the database already holds, so a
 * lost event costs a client nothing that resuming by cursor will not give back.
 *
 * One engine per process: graphql-subscriptions' in-memory PubSub by default, or
 * graphql-redis-subscriptions over ioredis between instances. Each subscriber gets its own
 * bounded queue: a consumer that stops reading cannot grow memory without bound or make
 * `publish` throw (the failure mode of an unbounded or throwing queue, see DESIGN.md); when its
 * queue is full it is ended with a SLOW_CONSUMER error and resumes by cursor.
 */
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { PubSub as MemoryEngine, type PubSubEngine } from 'graphql-subscriptions';
import { RedisPubSub } from 'graphql-redis-subscriptions';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { AppError, ServiceUnavailableError } from '../graphql/errors.js';
import { OutageLog } from '../observability/outage.js';
import type { RedisConnections, RedisFactory } from '../redis/connect.js';
import type { TopicName, Topics } from './topics.js';

export class SlowConsumerError extends AppError {
  constructor(limit: number) {
    super(
      'SLOW_CONSUMER',
      `This subscription fell more than ${limit} events behind and was closed; subscribe again with the last cursor you saw to catch up.`,
    );
  }
}

/** What the Redis engine hands its handlers for an event this instance published itself. */
const OWN_ECHO = Symbol('own echo');
/** Between an event's origin and its JSON on the wire. */
const SEPARATOR = '|'.charCodeAt(0);

/** The longest a caller awaiting {@link PubSub.publish} waits for Redis' acknowledgement. */
export const PUBLISH_WAIT_MS = 100;

export interface SubscribeOptions {
  /** Called once when this subscriber's queue overflows, before it is ended. */
  onOverflow?: () => void;
  /**
   * Called once every channel is subscribed (with Redis, when SUBSCRIBE is acknowledged): from
   * then on nothing published is missed, so a stream may read its starting state.
   */
  onReady?: () => void;
  /**
   * Ends the subscription when aborted, as `return()` would, releasing a `next()` that waits. See
   * {@link returnsPromptly} for why a generator reading the subscription needs this.
   */
  signal?: AbortSignal;
  /**
   * The instance's own subscription (its standing channel, say), not a client's: left out of
   * {@link PubSubStats.subscribers}, which counts what clients hold (the chat_subscriptions metric).
   */
  internal?: boolean;
}

/**
 * Makes `return()` of a generator that reads subscriptions take effect at once.
 *
 * An async generator's `return()` waits until the generator reaches its next `yield`. One that
 * is waiting for the next event of a quiet channel would keep its subscription (and everything
 * it holds) until that channel's next event, which may never come: every client that left a
 * quiet conversation would stay subscribed. This wrapper stops first (aborts `stop`, so that
 * subscriptions made with `stop.signal` end, or calls it), so the generator's pending `next()`
 * settles and the generator finishes through its `finally`.
 */
export function returnsPromptly<T>(generator: AsyncGenerator<T>, stop: AbortController | (() => unknown)): AsyncIterableIterator<T> {
  return new PromptReturn(generator, stop);
}

/**
 * {@link returnsPromptly}'s iterator: a class, not an object literal of closures, because one
 * lives per idle subscription (its methods are shared on the prototype).
 */
class PromptReturn<T> implements AsyncIterableIterator<T> {
  constructor(
    private readonly generator: AsyncGenerator<T>,
    private readonly stop: AbortController | (() => unknown),
  ) {}

  next(): Promise<IteratorResult<T>> {
    return this.generator.next();
  }

  async return(value?: unknown): Promise<IteratorResult<T>> {
    await this.halt();
    return this.generator.return(value as never);
  }

  async throw(err?: unknown): Promise<IteratorResult<T>> {
    await this.halt();
    return this.generator.throw(err);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  private async halt(): Promise<void> {
    if (this.stop instanceof AbortController) this.stop.abort();
    else await this.stop();
  }
}

export interface PubSubOptions {
  /** Events buffered per subscriber before it is ended as a slow consumer. */
  queueLimit: number;
  logger: Logger;
  /** Makes the Redis connections between instances; in-memory when omitted. */
  redis?: RedisFactory;
  /**
   * Publishes sent to Redis and not yet acknowledged, at most; past it (or while Redis is down) an
   * event is not rung but delivered to this instance's own subscribers, and the other instances
   * recover it by catching up from the database. Default 10,000.
   */
  publishBuffer?: number;
}

/** Counters for metrics and tests; shared by a PubSub and its {@link PubSub.withOverflowHandler} views. */
export interface PubSubStats {
  /** Events published by this process. */
  published: number;
  /** Subscribers open now (one per subscribe call, whatever the number of channels). */
  subscribers: number;
  /** Subscribers ended because their queue overflowed. */
  overflows: number;
  /** Events handed to a subscriber's queue (one per subscriber per event). */
  deliveries: number;
  /** Events not sent to Redis (down, or the publish buffer full); delivered locally only. */
  dropped: number;
  /** Publishes Redis refused or that failed on the way (whether other instances heard them is unknown). */
  failed: number;
  /** Times Redis came back and this instance's subscriptions were confirmed again. */
  resubscribed: number;
}

/** Where pub/sub stands, for /readyz and metrics. */
export interface PubSubHealth {
  up: boolean;
  /** What is failing, while down. */
  reason?: string;
}

/** A channel this instance has subscribers on. */
interface LocalChannel {
  /** This instance's subscribers of the channel. */
  handlers: Set<(payload: never) => void>;
  /**
   * The channel's ONE subscription on the engine, made for its first subscriber and ended with
   * its last: each event from elsewhere is handed to every subscriber by {@link deliver}, not
   * by the engine per subscriber (with Redis it called each of them even for the echo of this
   * instance's own events, only for them to drop it). Null until made, or after it failed (the
   * next subscriber tries again).
   */
  subscribed: Promise<number> | null;
  /** How to read an event's position on this channel's topic (see {@link PubSub.trackPositions}). */
  topic: string;
  /** The highest position this instance has delivered on it (see {@link PubSub.trackPositions}); -1 when unknown. */
  seen: number;
}

/** What a PubSub and its views share: one engine, one set of connections and counters. */
interface Core {
  engine: PubSubEngine;
  /** The Redis connections; null in memory. */
  redis: (RedisConnections & { publisher: Redis }) | null;
  queueLimit: number;
  logger: Logger;
  stats: PubSubStats;
  /** This instance's subscribers, by channel: what {@link PubSub.deliverLocally} reaches. */
  local: Map<string, LocalChannel>;
  /** Per topic, how to read an event's position (see {@link PubSub.trackPositions}). */
  positionReaders: Map<string, (payload: never) => number | undefined>;
  /** Publishes in flight to Redis. */
  inFlight: number;
  publishBuffer: number;
  outage: OutageLog;
  /** Told once the subscriber connection is back and its channels are subscribed again. */
  resubscribedListeners: Set<() => void>;
  /** Per subscription made here: when all its channels are subscribed. */
  subscribed: WeakMap<object, Promise<void>>;
  /**
   * close() has begun: channels are no longer unsubscribed one by one (closing the connection
   * unsubscribes them all), since an UNSUBSCRIBE sent behind the QUIT would fail inside
   * graphql-redis-subscriptions, which does not handle its promise.
   */
  closing: boolean;
}

export class PubSub {
  readonly kind: 'memory' | 'redis';
  private readonly core: Core;
  /** A view's handler, called when any subscription made through the view overflows. */
  private readonly connectionOverflow?: () => void;

  constructor(options: PubSubOptions) {
    const logger = options.logger.child({ component: 'pubsub' });
    // With Redis: the publisher and the subscriber, down while either is not ready (one outage,
    // logged once: src/redis/connect.ts).
    const redis = options.redis?.pubsub(logger) ?? null;
    const outage = redis?.outage ?? new OutageLog(logger, 'pub/sub (Redis)');
    const resubscribedListeners = new Set<() => void>();
    const origin = randomBytes(6).toString('hex');
    let engine: PubSubEngine;
    const stats: PubSubStats = { published: 0, subscribers: 0, overflows: 0, deliveries: 0, dropped: 0, failed: 0, resubscribed: 0 };
    if (redis) {
      const { publisher, subscriber } = redis;
      let readyBefore = false;
      subscriber.on('ready', () => {
        if (!readyBefore) {
          readyBefore = true;
          return;
        }
        // ioredis sends its SUBSCRIBEs again right after emitting 'ready'; a PING queued behind
        // them answers once they are all acknowledged: from then on nothing published is missed,
        // and whatever was missed meanwhile is in the database for the catch-up.
        setImmediate(() => {
          subscriber.ping().then(
            () => {
              stats.resubscribed++;
              logger.info('subscriptions confirmed again after a Redis reconnect; catching up from the database');
              for (const listener of resubscribedListeners) listener();
            },
            (err: unknown) => logger.warn({ err }, 'could not confirm the subscriptions after a Redis reconnect'),
          );
        });
      });
      // Each event goes out as `<origin>|<JSON>`: this instance hands its own events to its own
      // subscribers when it publishes them (see publish), so the copy Redis echoes back is
      // recognised by its first bytes and dropped before it is decoded or parsed.
      const prefix = Buffer.from(`${origin}|`);
      engine = new RedisPubSub({
        publisher,
        subscriber,
        messageEventName: 'messageBuffer',
        pmessageEventName: 'pmessageBuffer',
        serializer: (payload) => `${origin}|${JSON.stringify(payload)}`,
        deserializer: (message) => {
          const bytes = message as Buffer;
          if (bytes.length > prefix.length && bytes.compare(prefix, 0, prefix.length, 0, prefix.length) === 0) return OWN_ECHO;
          const bar = bytes.indexOf(SEPARATOR);
          return JSON.parse(bytes.toString('utf8', bar + 1)) as unknown;
        },
      });
      this.kind = 'redis';
    } else {
      // Hundreds of subscribers of one conversation are normal: no listener-count warning.
      const emitter = new EventEmitter();
      emitter.setMaxListeners(0);
      engine = new MemoryEngine({ eventEmitter: emitter });
      this.kind = 'memory';
      outage.ended();
    }
    this.core = {
      engine,
      redis,
      queueLimit: options.queueLimit,
      logger,
      stats,
      local: new Map(),
      positionReaders: new Map(),
      inFlight: 0,
      publishBuffer: options.publishBuffer ?? 10_000,
      outage,
      resubscribedListeners,
      subscribed: new WeakMap(),
      closing: false,
    };
  }

  /**
   * Resolves once every channel of a subscription made by {@link PubSub.subscribeMany} is
   * subscribed (with Redis, once the server acknowledged), i.e. from when no event is missed.
   */
  whenSubscribed(iterator: object): Promise<void> {
    return this.core.subscribed.get(iterator) ?? Promise.resolve();
  }

  /**
   * The same pub/sub, with `onOverflow` called whenever a subscription made through it
   * overflows (besides that subscription's own handler). The WebSocket transport gives each
   * connection's operations such a view, so a slow consumer's socket is closed the moment it
   * falls behind, whichever module's subscription noticed.
   */
  withOverflowHandler(onOverflow: () => void): PubSub {
    const view = Object.create(PubSub.prototype) as PubSub;
    Object.assign(view, { kind: this.kind, core: this.core, connectionOverflow: onOverflow });
    return view;
  }

  /** Live counters (shared with every view). */
  get stats(): Readonly<PubSubStats> {
    return this.core.stats;
  }

  /** Published events, for tests and metrics. */
  get publishedCount(): number {
    return this.core.stats.published;
  }

  /**
   * Announces an event. Never throws and never waits long for Redis (at most
   * {@link PUBLISH_WAIT_MS}): the database already holds what the event says, so the request that
   * committed it answers. This instance's own subscribers get it at once, in memory; with Redis it
   * is also rung for the other instances, asynchronously (ioredis keeps the order of the commands
   * it sends); while Redis is down,
   * or when {@link PubSubOptions.publishBuffer} publishes are already waiting for it, the event is
   * not sent but handed to this instance's own subscribers, and the other instances recover it
   * from the database when they catch up (after Redis returns, or by their periodic position check).
   * Resolves when Redis acknowledged (a fraction of a millisecond when it is up), so that a caller
   * that awaits answers after the other instances were rung: for announcements whose answer
   * promises that (src/auth/standing.ts). Events that promise nothing of the kind use {@link ring}.
   */
  publish<K extends TopicName>(topic: K, key: string, payload: Topics[K]): Promise<void> {
    const sent = this.send(topic, key, payload);
    if (!sent) return Promise.resolve();
    // Never later than PUBLISH_WAIT_MS: a publish caught by Redis going down is left to finish
    // or fail on its own.
    return Promise.race([sent, new Promise<void>((resolve) => setTimeout(resolve, PUBLISH_WAIT_MS).unref())]);
  }

  /**
   * {@link publish} without waiting for Redis: this instance's subscribers have the event when it
   * returns, and it is on its way to the other instances (in order with everything published
   * before it). For events the database holds, whose sender's answer need not wait for the other
   * instances (a conversation's: their subscribers resume from the database whatever Redis does):
   * a send's answer then costs no Redis round trip, which under load is a wait behind everything
   * else the event loop has to do.
   */
  ring<K extends TopicName>(topic: K, key: string, payload: Topics[K]): void {
    void this.send(topic, key, payload);
  }

  /** Delivers locally and sends to Redis; the send's promise (settled, never rejected) or null when none was made. */
  private send<K extends TopicName>(topic: K, key: string, payload: Topics[K]): Promise<void> | null {
    const core = this.core;
    core.stats.published++;
    const channel = `${topic}:${key}`;
    if (this.kind === 'memory') {
      // Synchronous emit: nothing can be lost in memory.
      void core.engine.publish(channel, payload).catch((err: unknown) => core.logger.error({ err, channel }, 'publish failed'));
      return null;
    }
    // This instance's own subscribers get the event now, as in memory, rather than after a round
    // trip through Redis (its echo is dropped on arrival, see the constructor): the Redis hop is
    // paid only between instances, and never for a delivery this process can make itself.
    this.deliverLocally(topic, key, payload);
    const publisher = core.redis!.publisher;
    if (publisher.status !== 'ready' || core.inFlight >= core.publishBuffer) {
      core.stats.dropped++;
      return null;
    }
    core.inFlight++;
    return core.engine.publish(channel, payload).then(
      () => {
        core.inFlight--;
      },
      (err: unknown) => {
        core.inFlight--;
        core.stats.failed++;
        // During an outage its own line says it all; otherwise each failure is worth a line.
        if (core.outage.down) core.logger.debug({ err, channel }, 'publish failed during an outage');
        else core.logger.warn({ err, channel }, 'publish failed; subscribers will catch up from the database');
      },
    );
  }

  /**
   * Hands an event to this instance's subscribers of a channel only, as if it had come from
   * pub/sub: for events Redis could not ring, and for the catch-up, which reads from the database
   * what an instance missed and gives it to every local subscriber at once (one read, not one per
   * subscriber). Subscribers drop duplicates by their cursor.
   */
  deliverLocally<K extends TopicName>(topic: K, key: string, payload: Topics[K]): void {
    const channel = this.core.local.get(`${topic}:${key}`);
    if (channel) deliver(this.core, channel, payload);
  }

  /** Whether this instance has a subscriber on the channel now. */
  hasLocalSubscribers(topic: TopicName, key: string): boolean {
    return this.core.local.has(`${topic}:${key}`);
  }

  /**
   * Keeps, for each channel of `topic` this instance has subscribers on, the highest position
   * (`read` of each event delivered, e.g. a conversation's seq) it delivered there: what the
   * catch-up compares with the database to tell what this instance missed.
   */
  trackPositions<K extends TopicName>(topic: K, read: (payload: Topics[K]) => number | undefined): void {
    this.core.positionReaders.set(topic, read as (payload: never) => number | undefined);
  }

  /**
   * Gives a channel whose position is not known yet (no event delivered on it since this instance
   * subscribed) the position a stream read from the database. Only then: raising a known position
   * would hide from the catch-up what this instance's other subscribers missed.
   */
  notePosition(topic: TopicName, key: string, position: number): void {
    const channel = this.core.local.get(`${topic}:${key}`);
    if (channel && channel.seen < 0) channel.seen = position;
  }

  /** The channels of `topic` this instance has subscribers on, with the position it delivered (-1 unknown). */
  localPositions(topic: TopicName): Map<string, number> {
    const prefix = `${topic}:`;
    const out = new Map<string, number>();
    for (const [name, channel] of this.core.local) if (name.startsWith(prefix)) out.set(name.slice(prefix.length), channel.seen);
    return out;
  }

  /** Up or down, and what is failing: /readyz and metrics. In memory: always up. */
  get health(): PubSubHealth {
    const { outage } = this.core;
    if (!outage.seenUp) return { up: false, reason: 'connecting to Redis' };
    return outage.down ? { up: false, reason: outage.reason } : { up: true };
  }

  /**
   * Resolves once pub/sub has connected for the first time (at once in memory, or when it already
   * did, even if it is down now), or after `timeoutMs` regardless.
   */
  async untilConnected(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.core.outage.seenUp && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  }

  /**
   * Calls `listener` each time Redis came back and every subscription of this instance is
   * subscribed again; returns a function that removes it.
   */
  onResubscribed(listener: () => void): () => void {
    this.core.resubscribedListeners.add(listener);
    return () => this.core.resubscribedListeners.delete(listener);
  }

  /** Subscribes to one channel; the iterator's `return()` unsubscribes. */
  subscribe<K extends TopicName>(topic: K, key: string, options: SubscribeOptions = {}): AsyncIterableIterator<Topics[K]> {
    return this.subscribeMany([[topic, key]], options) as AsyncIterableIterator<Topics[K]>;
  }

  /** Subscribes to several channels through one bounded queue, in arrival order. */
  subscribeMany<K extends TopicName>(
    channels: ReadonlyArray<readonly [K, string]>,
    options: SubscribeOptions = {},
  ): AsyncIterableIterator<Topics[K]> {
    const core = this.core;
    const { logger, stats, queueLimit: limit } = core;
    const connectionOverflow = this.connectionOverflow;
    const queue: Topics[K][] = [];
    let waiting: ((r: IteratorResult<Topics[K]>) => void) | null = null;
    let failWaiting: ((e: unknown) => void) | null = null;
    let done = false;
    let overflowed = false;
    const ids: Promise<number>[] = [];

    const names = channels.map(([t, k]) => `${t}:${k}`);
    const cleanup = () => {
      if (done) return;
      done = true;
      options.signal?.removeEventListener('abort', end);
      if (!options.internal) stats.subscribers--;
      queue.length = 0;
      names.forEach((name, i) => leave(core, name, handlers[i]!));
    };
    const onMessage = (payload: Topics[K]) => {
      if (done) return;
      stats.deliveries++;
      if (waiting) {
        const resolve = waiting;
        waiting = failWaiting = null;
        resolve({ value: payload, done: false });
        return;
      }
      if (queue.length >= limit) {
        overflowed = true;
        stats.overflows++;
        logger.warn({ channels: channels.map(([t, k]) => `${t}:${k}`), limit }, 'slow consumer closed');
        cleanup();
        options.onOverflow?.();
        connectionOverflow?.();
        return;
      }
      queue.push(payload);
    };
    if (this.core.outage.down) {
      // Refused at once rather than waiting for Redis: the client retries (it is told so).
      const refused: AsyncIterableIterator<Topics[K]> = {
        next: () => Promise.reject(new ServiceUnavailableError('pub/sub')),
        return: async () => ({ value: undefined, done: true }),
        throw: async (err) => {
          throw err;
        },
        [Symbol.asyncIterator]: () => refused,
      };
      const failed = Promise.reject(new ServiceUnavailableError('pub/sub'));
      failed.catch(() => undefined);
      this.core.subscribed.set(refused, failed);
      return refused;
    }
    if (!options.internal) stats.subscribers++;
    const handlers = channels.map(() => (payload: never) => onMessage(payload));
    channels.forEach(([topic], i) => ids.push(join(core, topic, names[i]!, handlers[i]!)));
    // Redis down: SUBSCRIBE fails at once (no offline queue); the client is told to retry.
    const ready = Promise.all(ids).catch((err: unknown) => {
      logger.debug({ err, channels: names }, 'subscribe failed');
      cleanup();
      throw new ServiceUnavailableError('pub/sub');
    });
    ready.catch(() => undefined);
    if (options.onReady) ready.then(options.onReady, () => undefined);
    const end = () => {
      cleanup();
      if (waiting) {
        const resolve = waiting;
        waiting = failWaiting = null;
        resolve({ value: undefined, done: true });
      }
    };
    if (options.signal?.aborted) end();
    else options.signal?.addEventListener('abort', end, { once: true });

    // Once subscribed, next() answers without awaiting `ready` again: it runs once per event per
    // subscriber, and each await is a turn of the microtask queue.
    let subscribed = false;
    const take = (): Promise<IteratorResult<Topics[K]>> => {
      if (queue.length > 0) return Promise.resolve({ value: queue.shift()!, done: false });
      if (overflowed) {
        overflowed = false;
        return Promise.reject(new SlowConsumerError(limit));
      }
      if (done) return Promise.resolve({ value: undefined, done: true });
      return new Promise<IteratorResult<Topics[K]>>((resolve, reject) => {
        waiting = resolve;
        failWaiting = reject;
      });
    };
    const iterator: AsyncIterableIterator<Topics[K]> = {
      next: () =>
        subscribed
          ? take()
          : ready.then(() => {
              subscribed = true;
              return take();
            }),
      return: async () => {
        end();
        return { value: undefined, done: true };
      },
      throw: async (err) => {
        cleanup();
        failWaiting?.(err);
        throw err;
      },
      [Symbol.asyncIterator]() {
        return iterator;
      },
    };
    const live = ready.then(() => undefined);
    live.catch(() => undefined);
    this.core.subscribed.set(iterator, live);
    return iterator;
  }

  /**
   * Subscribes to several channels and hands each event to `on.event` as it arrives, in arrival
   * order, synchronously from the engine's handler: the push side of pub/sub (push.ts), for a
   * stream that orders and forwards events itself, with no promise or turn per event. While
   * paused, events wait in a queue bounded as {@link PubSub.subscribeMany}'s: when it would pass
   * the limit the subscriber is a slow consumer, its handlers (`onOverflow`, the view's) are
   * called and `on.end` gets a SLOW_CONSUMER error. `ready` resolves once every channel is
   * subscribed (from then on nothing published is missed) and rejects with SERVICE_UNAVAILABLE
   * when pub/sub is down; `close()` unsubscribes.
   */
  listen<K extends TopicName>(
    channels: ReadonlyArray<readonly [K, string]>,
    on: { event(payload: Topics[K]): void; end(error: unknown): void },
    options: Pick<SubscribeOptions, 'onOverflow' | 'internal'> = NO_OPTIONS,
  ): Listening {
    return new Listening(this.core, this.connectionOverflow, channels, on as Listening['on'], options);
  }

  /** Resolves when Redis answers (or at once in memory). */
  async ping(): Promise<void> {
    await Promise.all((this.core.redis?.clients ?? []).map((c) => c.ping()));
  }

  async close(): Promise<void> {
    this.core.closing = true;
    await this.core.redis?.close();
  }
}

/** No options: one object for every listen() that gives none (each Listening keeps its options). */
const NO_OPTIONS: Pick<SubscribeOptions, 'onOverflow' | 'internal'> = Object.freeze({});

/**
 * One {@link PubSub.listen} subscription: a class rather than closures, since one lives per idle
 * subscriber (its state is its fields, its methods shared).
 */
export class Listening {
  readonly ready: Promise<void>;
  private readonly names: string[];
  /** Its handler on every channel: the channel's own subscription tracks positions (deliver). */
  private readonly handler: ((payload: never) => void) | null;
  /** Events that came while paused. */
  private queue: unknown[] | null = null;
  private pauses = 0;
  private done = false;

  constructor(
    private readonly core: Core,
    private readonly connectionOverflow: (() => void) | undefined,
    channels: ReadonlyArray<readonly [TopicName, string]>,
    readonly on: { event(payload: unknown): void; end(error: unknown): void },
    private readonly options: Pick<SubscribeOptions, 'onOverflow' | 'internal'>,
  ) {
    this.names = channels.map(([topic, key]) => `${topic}:${key}`);
    if (core.outage.down) {
      // Refused at once rather than waiting for Redis: the client retries (it is told so).
      this.done = true;
      this.handler = null;
      this.ready = Promise.reject(new ServiceUnavailableError('pub/sub'));
      this.ready.catch(() => undefined);
      return;
    }
    if (!options.internal) core.stats.subscribers++;
    const handler = (this.handler = (payload: never) => this.take(payload));
    const joined = channels.map(([topic], i) => join(core, topic, this.names[i]!, handler));
    // Redis down: SUBSCRIBE fails at once (no offline queue); the client is told to retry.
    this.ready = Promise.all(joined).then(
      () => undefined,
      (err: unknown) => {
        core.logger.debug({ err, channels: this.names }, 'subscribe failed');
        this.close();
        throw new ServiceUnavailableError('pub/sub');
      },
    );
    this.ready.catch(() => undefined);
  }

  pause(): void {
    this.pauses++;
  }

  /** Ends a pause; when none is left, hands on what came meanwhile (until paused again). */
  resume(): void {
    if (this.pauses === 0 || --this.pauses > 0) return;
    const queue = this.queue;
    while (queue?.length && this.pauses === 0 && !this.done) this.on.event(queue.shift());
  }

  /** Unsubscribes; nothing more is handed on. Safe to call twice. */
  close(): void {
    if (this.done) return;
    this.done = true;
    this.queue = null;
    const { core } = this;
    if (!this.options.internal) core.stats.subscribers--;
    const handler = this.handler;
    if (handler) for (const name of this.names) leave(core, name, handler);
  }

  private take(payload: unknown): void {
    if (this.done) return;
    const { core } = this;
    core.stats.deliveries++;
    if (this.pauses === 0 && !this.queue?.length) return this.on.event(payload);
    const queue = (this.queue ??= []);
    if (queue.length < core.queueLimit) {
      queue.push(payload);
      return;
    }
    core.stats.overflows++;
    core.logger.warn({ channels: this.names, limit: core.queueLimit }, 'slow consumer closed');
    this.close();
    this.options.onOverflow?.();
    this.connectionOverflow?.();
    this.on.end(new SlowConsumerError(core.queueLimit));
  }
}

/**
 * Adds a subscriber to a channel of this instance, subscribing the channel on the engine for its
 * first; resolves once the channel is subscribed (with Redis, SUBSCRIBE acknowledged).
 */
function join(core: Core, topic: string, name: string, handler: (payload: never) => void): Promise<number> {
  let channel = core.local.get(name);
  if (!channel) core.local.set(name, (channel = { handlers: new Set(), seen: -1, subscribed: null, topic }));
  channel.handlers.add(handler);
  if (!channel.subscribed) {
    const joined = channel;
    const subscribed = core.engine.subscribe(
      name,
      (payload: unknown) => {
        // This instance's own events reached its subscribers when it published them.
        if (payload !== OWN_ECHO) deliver(core, joined, payload);
      },
      {},
    );
    joined.subscribed = subscribed;
    subscribed.catch(() => {
      if (joined.subscribed === subscribed) joined.subscribed = null;
    });
  }
  return channel.subscribed!;
}

/** Takes a subscriber off a channel; the channel's engine subscription ends with its last. */
function leave(core: Core, name: string, handler: (payload: never) => void): void {
  const channel = core.local.get(name);
  if (!channel || !channel.handlers.delete(handler) || channel.handlers.size > 0) return;
  core.local.delete(name);
  channel.subscribed
    ?.then((id) => {
      if (!core.closing) core.engine.unsubscribe(id);
    })
    .catch(() => undefined);
}

/** Hands an event to every subscriber of a channel on this instance, noting its position. */
function deliver(core: Core, channel: LocalChannel, payload: unknown): void {
  const read = core.positionReaders.get(channel.topic);
  if (read) {
    const position = read(payload as never);
    if (position !== undefined && position > channel.seen) channel.seen = position;
  }
  for (const handler of [...channel.handlers]) handler(payload as never);
}
