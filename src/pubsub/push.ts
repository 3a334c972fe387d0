/**
 * Streams that push. A live event reaches a subscriber's socket through a few stages (the
 * conversation's ordering, the shared execution, the transport's writer). As async iterators,
 * each stage costs a promise and a turn of the microtask queue per event per subscriber, and
 * keeps a pending promise and its closures per idle subscription. A {@link Pushable} stage hands
 * each value to the next one synchronously instead, from the pub/sub handler down to the
 * socket's write, once its consumer has asked for that with {@link Pushable.listen}; it is still
 * an async iterator for consumers that pull (server-sent events, the legacy executor, tests).
 *
 * Flow control goes the other way: a consumer that cannot take more (a socket past its
 * high-water mark, an execution still running) calls `pause()`, and its source keeps what comes
 * meanwhile, telling its own source to hold in turn, up to pub/sub, whose queue per subscriber is
 * bounded (a slow consumer overflows it and is closed, as before).
 */

/** Where a {@link Pushable} delivers once listened to. */
export interface Sink<T> {
  /** The next value. May call the source's pause(), or return() to leave. */
  push(value: T): void;
  /** The end of the stream: done, or failed with `error`. Called once; nothing follows. */
  end(error?: unknown): void;
}

/** An async iterator that can also push its values (see the module's comment). */
export interface Pushable<T> extends AsyncIterableIterator<T> {
  /** From now on, every value goes to `sink` as it comes, instead of to next(). Once per stream. */
  listen(sink: Sink<T>): void;
  /** Holds further values until as many resume() calls (pauses nest). */
  pause(): void;
  resume(): void;
}

export function isPushable<T>(value: AsyncIterator<T>): value is Pushable<T> {
  return typeof (value as Partial<Pushable<T>>).listen === 'function';
}

const DONE: IteratorResult<never> = { value: undefined, done: true };

/**
 * The output side of a {@link Pushable}: its subclass calls {@link Outlet.emit} with each value
 * and {@link Outlet.close} at the end, and says how to hold, release and stop what feeds it.
 * Values are handed on at once when a listening consumer is not paused, or to a next() that is
 * waiting; otherwise they wait in a backlog, and while anything waits the feed is held, so a
 * backlog stays as small as what the feed had in hand.
 */
export abstract class Outlet<T> implements Pushable<T> {
  private sink: Sink<T> | null = null;
  private backlog: T[] | null = null;
  private pauses = 0;
  /** Whether the feed was told to hold. */
  private holding = false;
  /** close() was called: nothing more is emitted; the end follows the backlog. */
  private closed = false;
  /** The consumer has had the end, or left. */
  private finished = false;
  private failure: { error: unknown } | null = null;
  private waiting: { resolve: (step: IteratorResult<T>) => void; reject: (error: unknown) => void } | null = null;
  /** Feeds waiting for the backlog to be taken ({@link Outlet.taken}). */
  private takers: Array<() => void> | null = null;

  /** Tells the feed to keep what comes until {@link Outlet.release}. */
  protected abstract hold(): void;
  protected abstract release(): void;
  /** Ends the feed (unsubscribes): the consumer left, or the stream closed. Called once. */
  protected abstract stop(): void;

  /** Whether the stream has ended or its consumer left: a feed still at work may give up. */
  protected get over(): boolean {
    return this.closed || this.finished;
  }

  /** Values emitted and not yet taken. */
  protected get queued(): number {
    return this.backlog?.length ?? 0;
  }

  /**
   * Resolves once what was emitted has been taken (or the stream is over): a feed that reads in
   * batches (a replay) waits on it between batches, so a consumer that pulls slowly is not handed
   * the whole history at once.
   */
  protected taken(): Promise<void> {
    if (!this.backlog?.length || this.over) return Promise.resolve();
    return new Promise((resolve) => (this.takers ??= []).push(resolve));
  }

  protected emit(value: T): void {
    if (this.closed || this.finished) return;
    if (!this.backlog?.length) {
      if (this.sink) {
        if (this.pauses === 0) return this.sink.push(value);
      } else if (this.waiting) {
        const waiting = this.waiting;
        this.waiting = null;
        return waiting.resolve({ value, done: false });
      }
    }
    (this.backlog ??= []).push(value);
    this.updateHold();
  }

  /**
   * Ends the stream: after what was emitted, or at once (`now`: dropping it, a slow consumer),
   * done or failed with `error`.
   */
  protected close(error?: unknown, now = false): void {
    if (this.closed || this.finished) return;
    this.closed = true;
    if (error !== undefined) this.failure = { error };
    if (now) this.backlog = null;
    this.stop();
    this.flush();
  }

  listen(sink: Sink<T>): void {
    this.sink = sink;
    this.flush();
  }

  pause(): void {
    this.pauses++;
    this.updateHold();
  }

  resume(): void {
    if (this.pauses === 0) return;
    this.pauses--;
    if (this.pauses === 0) this.flush();
  }

  next(): Promise<IteratorResult<T>> {
    if (this.backlog?.length) {
      const value = this.backlog.shift()!;
      this.updateHold();
      return Promise.resolve({ value, done: false });
    }
    if (this.finished) return Promise.resolve(DONE);
    if (this.closed) {
      this.finished = true;
      return this.failure ? Promise.reject(this.failure.error) : Promise.resolve(DONE);
    }
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.leave();
    return Promise.resolve(DONE);
  }

  throw(error?: unknown): Promise<IteratorResult<T>> {
    this.leave();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  /** The consumer left: nothing more is delivered, and the feed stops. */
  private leave(): void {
    if (this.finished) return;
    this.finished = true;
    this.backlog = null;
    const waiting = this.waiting;
    this.waiting = null;
    waiting?.resolve(DONE);
    if (!this.closed) {
      this.closed = true;
      this.stop();
    }
    this.updateHold();
  }

  /** Hands the backlog to a listening consumer while it takes it, then the end once it is all taken. */
  private flush(): void {
    const sink = this.sink;
    if (sink) {
      while (this.backlog?.length && this.pauses === 0 && !this.finished) sink.push(this.backlog.shift()!);
    }
    this.updateHold();
    if (!this.closed || this.finished || this.backlog?.length) return;
    if (sink) {
      if (this.pauses > 0) return;
      this.finished = true;
      sink.end(this.failure?.error);
    } else if (this.waiting) {
      this.finished = true;
      const waiting = this.waiting;
      this.waiting = null;
      if (this.failure) waiting.reject(this.failure.error);
      else waiting.resolve(DONE);
    }
  }

  /** The feed holds while values wait here or the listening consumer is paused. */
  private updateHold(): void {
    if (this.takers && (!this.backlog?.length || this.closed || this.finished)) {
      const takers = this.takers;
      this.takers = null;
      for (const resolve of takers) resolve();
    }
    const hold = !this.closed && ((this.backlog?.length ?? 0) > 0 || (this.sink !== null && this.pauses > 0));
    if (hold === this.holding) return;
    this.holding = hold;
    if (hold) this.hold();
    else this.release();
  }
}
