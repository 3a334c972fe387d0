/**
 * A subscription whose channels change while it runs: an inbox follows the conversations its
 * user is in, gaining one when they are added and dropping one when they leave. Built on
 * {@link PubSub.subscribe}, one bounded subscription per channel pumped into one bounded queue,
 * so every limit of the plain subscriptions still holds, plus two of its own: at most
 * `maxChannels` channels, and at most `queueLimit` undelivered events, past which it ends with
 * SLOW_CONSUMER like any other subscriber.
 */
import { SlowConsumerError, type PubSub } from './pubsub.js';
import type { TopicName, Topics } from './topics.js';

export interface ChannelSetOptions {
  /** Undelivered events before the set is ended as a slow consumer. */
  queueLimit: number;
  /** Channels followed at most; `add` beyond it returns false. */
  maxChannels: number;
}

export class ChannelSet<K extends TopicName> implements AsyncIterableIterator<Topics[K]> {
  private readonly subs = new Map<string, AsyncIterableIterator<Topics[K]>>();
  private readonly queue: Topics[K][] = [];
  private waiting: { resolve: (r: IteratorResult<Topics[K]>) => void; reject: (e: unknown) => void } | null = null;
  private failure: unknown = null;
  private done = false;

  constructor(
    private readonly pubsub: PubSub,
    private readonly options: ChannelSetOptions,
  ) {}

  /** How many channels are followed. */
  get size(): number {
    return this.subs.size;
  }

  has(topic: K, key: string): boolean {
    return this.subs.has(`${topic}:${key}`);
  }

  /**
   * Follows one more channel; resolves once it is subscribed (no event published after that is
   * missed). True when followed (or already was), false at the channel limit or once ended.
   */
  async add(topic: K, key: string): Promise<boolean> {
    const name = `${topic}:${key}`;
    if (this.done) return false;
    if (this.subs.has(name)) return true;
    if (this.subs.size >= this.options.maxChannels) return false;
    const sub = this.pubsub.subscribe(topic, key) as AsyncIterableIterator<Topics[K]>;
    this.subs.set(name, sub);
    void this.pump(sub);
    await this.pubsub.whenSubscribed(sub);
    return true;
  }

  /** Stops following a channel; events of it already queued are still delivered. */
  remove(topic: K, key: string): void {
    const name = `${topic}:${key}`;
    const sub = this.subs.get(name);
    if (!sub) return;
    this.subs.delete(name);
    void sub.return?.();
  }

  private async pump(sub: AsyncIterableIterator<Topics[K]>): Promise<void> {
    try {
      for await (const event of sub) {
        if (this.done) return;
        this.push(event);
      }
    } catch (err) {
      this.fail(err);
    }
  }

  private push(event: Topics[K]): void {
    if (this.waiting) {
      const { resolve } = this.waiting;
      this.waiting = null;
      resolve({ value: event, done: false });
      return;
    }
    if (this.queue.length >= this.options.queueLimit) {
      this.fail(new SlowConsumerError(this.options.queueLimit));
      return;
    }
    this.queue.push(event);
  }

  private fail(err: unknown): void {
    if (this.done) return;
    this.failure = err;
    this.close();
    if (this.waiting) {
      const { reject } = this.waiting;
      this.waiting = null;
      this.failure = null;
      reject(err);
    }
  }

  private close(): void {
    this.done = true;
    this.queue.length = 0;
    for (const sub of this.subs.values()) void sub.return?.();
    this.subs.clear();
  }

  async next(): Promise<IteratorResult<Topics[K]>> {
    if (this.queue.length > 0) return { value: this.queue.shift()!, done: false };
    if (this.failure) {
      const err = this.failure;
      this.failure = null;
      throw err;
    }
    if (this.done) return { value: undefined, done: true };
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  async return(): Promise<IteratorResult<Topics[K]>> {
    this.close();
    if (this.waiting) {
      const { resolve } = this.waiting;
      this.waiting = null;
      resolve({ value: undefined, done: true });
    }
    return { value: undefined, done: true };
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<Topics[K]> {
    return this;
  }
}
