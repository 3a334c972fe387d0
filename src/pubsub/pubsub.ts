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
}

export interface PubSubOptions {
  /** Events buffered per subscriber before it is ended as a slow consumer. */
  queueLimit: number;
  logger: Logger;
  /** Redis URL; in-memory when omitted. */
  redisUrl?: string;
}

export class PubSub {
  readonly kind: 'memory' | 'redis';
  private readonly engine: PubSubEngine;
  private readonly redisClients: Redis[] = [];
  private readonly queueLimit: number;
  private readonly logger: Logger;
  /** Published events, for tests and metrics. */
  publishedCount = 0;

  constructor(options: PubSubOptions) {
    this.queueLimit = options.queueLimit;
    this.logger = options.logger.child({ component: 'pubsub' });
    if (options.redisUrl) {
      const make = (role: string) => {
        const client = new Redis(options.redisUrl!, { maxRetriesPerRequest: 3, lazyConnect: false });
        client.on('error', (err) => this.logger.error({ err, role }, 'redis connection error'));
        this.redisClients.push(client);
        return client;
      };
      this.engine = new RedisPubSub({ publisher: make('publisher'), subscriber: make('subscriber') });
      this.kind = 'redis';
    } else {
      this.engine = new MemoryEngine();
      this.kind = 'memory';
    }
  }

  /**
   * Announces an event. Never throws: the database already holds what the event says, so a
   * failed publish is logged and subscribers recover it by resuming from their cursor.
   */
  async publish<K extends TopicName>(topic: K, key: string, payload: Topics[K]): Promise<void> {
    this.publishedCount++;
    try {
      await this.engine.publish(`${topic}:${key}`, payload);
    } catch (err) {
      this.logger.error({ err, topic, key }, 'publish failed; subscribers will catch up by cursor');
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
    const limit = this.queueLimit;
    const queue: Topics[K][] = [];
    let waiting: ((r: IteratorResult<Topics[K]>) => void) | null = null;
    let failWaiting: ((e: unknown) => void) | null = null;
    let done = false;
    let overflowed = false;
    const ids: Promise<number>[] = [];

    const cleanup = () => {
      if (done) return;
      done = true;
      queue.length = 0;
      for (const id of ids) id.then((n) => this.engine.unsubscribe(n)).catch(() => undefined);
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
        this.logger.warn({ channels: channels.map(([t, k]) => `${t}:${k}`), limit }, 'slow consumer closed');
        cleanup();
        options.onOverflow?.();
        return;
      }
      queue.push(payload);
    };
    for (const [topic, key] of channels) {
      ids.push(this.engine.subscribe(`${topic}:${key}`, onMessage, {}));
    }
    const ready = Promise.all(ids);
    if (options.onReady) ready.then(options.onReady, () => undefined);

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
        cleanup();
        if (waiting) {
          const resolve = waiting;
          waiting = failWaiting = null;
          resolve({ value: undefined, done: true });
        }
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
    await Promise.all(this.redisClients.map((c) => c.ping()));
  }

  async close(): Promise<void> {
    await Promise.all(this.redisClients.map((c) => c.quit().catch(() => c.disconnect())));
  }
}
