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
import { EventEmitter } from 'node:events';
import { PubSub as MemoryEngine, type PubSubEngine } from 'graphql-subscriptions';
import { RedisPubSub } from 'graphql-redis-subscriptions';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { AppError } from '../graphql/errors.js';
import type { TopicName, Topics } from './topics.js';

export class SlowConsumerError extends AppError {
  constructor(limit: number) {
    super(
      'SLOW_CONSUMER',
      `This subscription fell more than ${limit} events behind and was closed; subscribe again with the last cursor you saw to catch up.`,
    );
  }
}

const subscribed = new WeakMap<object, Promise<void>>();

/**
 * Resolves once every channel of a subscription made by {@link PubSub.subscribeMany} is
 * subscribed (with Redis, once the server acknowledged), i.e. from when no event is missed.
 */
export function whenSubscribed(iterator: object): Promise<void> {
  return subscribed.get(iterator) ?? Promise.resolve();
}

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
  const halt = async () => (stop instanceof AbortController ? stop.abort() : await stop());
  const iterator: AsyncIterableIterator<T> = {
    next: () => generator.next(),
    return: async (value?: unknown) => {
      await halt();
      return generator.return(value as never);
    },
    throw: async (err?: unknown) => {
      await halt();
      return generator.throw(err);
    },
    [Symbol.asyncIterator]: () => iterator,
  };
  return iterator;
}

export interface PubSubOptions {
  /** Events buffered per subscriber before it is ended as a slow consumer. */
  queueLimit: number;
  logger: Logger;
  /** Redis URL; in-memory when omitted. */
  redisUrl?: string;
}

/** Counters for metrics and tests; shared by a PubSub and its {@link PubSub.withOverflowHandler} views. */
export interface PubSubStats {
  /** Events published by this process. */
  published: number;
  /** Subscribers open now (one per subscribe call, whatever the number of channels). */
  subscribers: number;
  /** Subscribers ended because their queue overflowed. */
  overflows: number;
}

/** What a PubSub and its views share: one engine, one set of connections and counters. */
interface Core {
  engine: PubSubEngine;
  redisClients: Redis[];
  queueLimit: number;
  logger: Logger;
  stats: PubSubStats;
}

export class PubSub {
  readonly kind: 'memory' | 'redis';
  private readonly core: Core;
  /** A view's handler, called when any subscription made through the view overflows. */
  private readonly connectionOverflow?: () => void;

  constructor(options: PubSubOptions) {
    const logger = options.logger.child({ component: 'pubsub' });
    const redisClients: Redis[] = [];
    let engine: PubSubEngine;
    if (options.redisUrl) {
      const make = (role: string) => {
        const client = new Redis(options.redisUrl!, { maxRetriesPerRequest: 3, lazyConnect: false });
        client.on('error', (err) => logger.error({ err, role }, 'redis connection error'));
        redisClients.push(client);
        return client;
      };
      engine = new RedisPubSub({ publisher: make('publisher'), subscriber: make('subscriber') });
      this.kind = 'redis';
    } else {
      // Hundreds of subscribers of one conversation are normal: no listener-count warning.
      const emitter = new EventEmitter();
      emitter.setMaxListeners(0);
      engine = new MemoryEngine({ eventEmitter: emitter });
      this.kind = 'memory';
    }
    this.core = {
      engine,
      redisClients,
      queueLimit: options.queueLimit,
      logger,
      stats: { published: 0, subscribers: 0, overflows: 0 },
    };
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
   * Announces an event. Never throws: the database already holds what the event says, so a
   * failed publish is logged and subscribers recover it by resuming from their cursor.
   */
  async publish<K extends TopicName>(topic: K, key: string, payload: Topics[K]): Promise<void> {
    this.core.stats.published++;
    try {
      await this.core.engine.publish(`${topic}:${key}`, payload);
    } catch (err) {
      this.core.logger.error({ err, topic, key }, 'publish failed; subscribers will catch up by cursor');
    }
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
    const { engine, logger, stats, queueLimit: limit } = this.core;
    const connectionOverflow = this.connectionOverflow;
    const queue: Topics[K][] = [];
    let waiting: ((r: IteratorResult<Topics[K]>) => void) | null = null;
    let failWaiting: ((e: unknown) => void) | null = null;
    let done = false;
    let overflowed = false;
    const ids: Promise<number>[] = [];

    const cleanup = () => {
      if (done) return;
      done = true;
      options.signal?.removeEventListener('abort', end);
      stats.subscribers--;
      queue.length = 0;
      for (const id of ids) id.then((n) => engine.unsubscribe(n)).catch(() => undefined);
    };
    const onMessage = (payload: Topics[K]) => {
      if (done) return;
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
    stats.subscribers++;
    for (const [topic, key] of channels) {
      ids.push(engine.subscribe(`${topic}:${key}`, onMessage, {}));
    }
    const ready = Promise.all(ids);
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

    const iterator: AsyncIterableIterator<Topics[K]> = {
      next: async () => {
        await ready;
        if (queue.length > 0) return { value: queue.shift()!, done: false };
        if (overflowed) {
          overflowed = false;
          throw new SlowConsumerError(limit);
        }
        if (done) return { value: undefined, done: true };
        return new Promise<IteratorResult<Topics[K]>>((resolve, reject) => {
          waiting = resolve;
          failWaiting = reject;
        });
      },
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
    subscribed.set(iterator, ready.then(() => undefined));
    return iterator;
  }

  /** Resolves when Redis answers (or at once in memory); used by /readyz. */
  async ping(): Promise<void> {
    await Promise.all(this.core.redisClients.map((c) => c.ping()));
  }

  async close(): Promise<void> {
    await Promise.all(this.core.redisClients.map((c) => c.quit().catch(() => c.disconnect())));
  }
}
