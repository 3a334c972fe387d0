/**
 * One execution per event for all the subscribers that asked the same thing.
 *
 * GraphQL executes a subscription's selection set once per event per subscriber. With a thousand
 * subscribers of one conversation that is a thousand identical executions of the same selection
 * on the same event object, which costs more CPU than everything else in a delivery together.
 * This envelop plugin keeps the per-subscriber source stream (authorization, resume, slow
 * consumers stay per subscriber) and shares the execution of each event between subscriptions
 * with the same document, operation name and variables.
 *
 * Sharing is only sound when the result cannot depend on who is asking. That is checked, not
 * assumed: the shared execution runs with a context that records any read; a document whose
 * resolvers touched the context is marked unshareable and every subscriber executes it with its
 * own context, as before. Events from different sources (a replay reads fresh objects from the
 * database) simply do not share. Results are shared read-only: nothing downstream mutates them.
 */
import { createSourceEventStream, type DocumentNode, type ExecutionArgs, type ExecutionResult, type GraphQLError } from 'graphql';
import { buildExecutionContext, execute } from '@graphql-tools/executor';
import type { Plugin } from 'graphql-yoga';
import { maskedResult, type MaskError } from './http.js';
import { isPushable, Outlet, type Pushable } from '../pubsub/push.js';

const UNSHAREABLE = Symbol('unshareable');
type Shared = ExecutionResult | typeof UNSHAREABLE;

/** Counters for metrics and tests. */
export interface SharedExecutionStats {
  /** Executions run once for every subscriber of an event. */
  shared: number;
  /** Deliveries that reused a shared execution. */
  reused: number;
  /** Executions run per subscriber (unshareable documents, replays). */
  own: number;
}

/**
 * The plugin. `mask` masks what a subscription's events fail with, here where they are executed:
 * there is no hook per event (http.ts useRequestErrors says why). A shared execution belongs to
 * no one request, so its errors are masked once, unnamed; each transport names them.
 */
export function useSharedEventExecution(mask: MaskError, stats: SharedExecutionStats = { shared: 0, reused: 0, own: 0 }): Plugin {
  const byEvent = new WeakMap<object, Map<string, Shared | Promise<Shared>>>();
  const documentIds = new WeakMap<DocumentNode, number>();
  const unshareable = new WeakSet<DocumentNode>();
  let nextDocumentId = 1;

  const executeOwn = (args: ExecutionArgs, event: unknown): ExecutionResult | Promise<ExecutionResult> => {
    stats.own++;
    const requestId = requestIdIn(args);
    const result = execute({ ...args, rootValue: event }) as ExecutionResult | Promise<ExecutionResult>;
    return isPromiseLike(result) ? Promise.resolve(result).then((r) => masked(r, requestId)) : masked(result, requestId);
  };

  const masked = (result: ExecutionResult, requestId: string | undefined) => maskedResult(result, mask, requestId);

  /**
   * The shared execution of an event: the result itself when the execution completes at once (a
   * selection of what the event carries, resolved without I/O: the common case), so that every
   * subscriber, the first included, gets it in the same turn; a promise otherwise.
   */
  const executeShared = (args: ExecutionArgs, event: unknown): Shared | Promise<Shared> => {
    let touched = false;
    const read = () => {
      touched = true;
      return undefined;
    };
    const context = new Proxy(Object.create(null) as object, {
      get: read,
      has: () => {
        touched = true;
        return false;
      },
      ownKeys: () => {
        touched = true;
        return [];
      },
      getOwnPropertyDescriptor: read,
      getPrototypeOf: () => {
        touched = true;
        return null;
      },
    });
    const settle = (result: ExecutionResult): Shared => {
      if (touched || !('data' in result || 'errors' in result)) {
        unshareable.add(args.document);
        return UNSHAREABLE;
      }
      stats.shared++;
      return masked(result, undefined);
    };
    const result = execute({ ...args, rootValue: event, contextValue: context }) as ExecutionResult | Promise<ExecutionResult>;
    return isPromiseLike(result) ? Promise.resolve(result).then(settle) : settle(result);
  };

  const subscribe = async (args: ExecutionArgs) => {
    // Bad arguments (variables) are answered as Yoga's own executor answers them.
    const checked = buildExecutionContext(args);
    if (Array.isArray(checked)) {
      for (const error of checked as GraphQLError[]) {
        const extensions = ((error as { extensions: Record<string, unknown> }).extensions ||= {});
        extensions.http = { ...(extensions.http as object | undefined), status: 400 };
        extensions.code = 'BAD_USER_INPUT';
      }
      return { errors: checked };
    }
    const source = await createSourceEventStream(args);
    if (!isAsyncIterable(source)) return source;
    let documentId = documentIds.get(args.document);
    if (documentId === undefined) documentIds.set(args.document, (documentId = nextDocumentId++));
    const key = `${documentId}\u0000${args.operationName ?? ''}\u0000${JSON.stringify(args.variableValues ?? {})}`;

    const events = source[Symbol.asyncIterator]();
    const failed = (err: unknown) => mask(err, requestIdIn(args));
    return isPushable(events) ? new SharedPush(events, args, key, forEvent, failed) : new SharedStream(events, args, key, forEvent, failed);
  };

  /**
   * One event's result for a subscription: shared with those asking the same, or its own. The
   * shared result itself (not a promise of it) once its execution has settled, so the
   * subscribers after the first take it without another turn of the microtask queue.
   */
  const forEvent: ForEvent = (args, key, event) => {
    if (typeof event !== 'object' || event === null || unshareable.has(args.document)) return executeOwn(args, event);
    let results = byEvent.get(event);
    if (!results) byEvent.set(event, (results = new Map()));
    const known = results.get(key);
    if (known !== undefined && !(known instanceof Promise)) {
      stats.reused++;
      return known === UNSHAREABLE ? executeOwn(args, event) : known;
    }
    let pending = known;
    if (pending) stats.reused++;
    else {
      const shared = executeShared(args, event);
      if (!(shared instanceof Promise)) {
        results.set(key, shared);
        return shared === UNSHAREABLE ? executeOwn(args, event) : shared;
      }
      const into = results;
      pending = shared.then((settled) => {
        into.set(key, settled);
        return settled;
      });
      results.set(key, pending);
    }
    return pending.then((settled) => (settled === UNSHAREABLE ? executeOwn(args, event) : settled));
  };

  return {
    onSubscribe({ setSubscribeFn }) {
      setSubscribeFn(subscribe as never);
    },
  };
}

/** One event's result for a subscription (the plugin's `forEvent`): shared, or its own. */
type ForEvent = (args: ExecutionArgs, key: string, event: unknown) => ExecutionResult | Promise<ExecutionResult>;

/**
 * A subscription's results: each event of its source stream, executed (shared or not). Not a
 * generator, so that return() reaches the source at once (see pubsub's returnsPromptly); a class
 * rather than an object literal of closures, since one lives per idle subscription: the methods
 * are shared on the prototype and the per-subscription state is its four fields.
 */
class SharedStream implements AsyncIterableIterator<ExecutionResult> {
  constructor(
    private readonly source: AsyncIterator<unknown>,
    private readonly args: ExecutionArgs,
    /** Which subscriptions may share an event's execution: document, operation, variables. */
    private readonly key: string,
    private readonly forEvent: ForEvent,
    /** What the source fails with, masked (a typed error passes as it is). */
    private readonly failed: (error: unknown) => GraphQLError,
  ) {}

  next(): Promise<IteratorResult<ExecutionResult>> {
    // Chained rather than awaited: it runs once per event per subscriber, and every subscriber
    // after the first of an event finds its result already there (no further turn).
    return this.source.next().then(
      (step) => {
        if (step.done) return step as IteratorResult<ExecutionResult>;
        const result = this.forEvent(this.args, this.key, step.value);
        return result instanceof Promise ? result.then(asStep) : asStep(result);
      },
      (err: unknown) => {
        throw this.failed(err);
      },
    );
  }

  async return(): Promise<IteratorResult<ExecutionResult>> {
    await this.source.return?.();
    return { value: undefined, done: true };
  }

  async throw(err?: unknown): Promise<IteratorResult<ExecutionResult>> {
    await this.source.return?.();
    throw err;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<ExecutionResult> {
    return this;
  }
}

/**
 * {@link SharedStream} over a source that pushes (push.ts): each event's result is handed on in
 * the call that brought the event, when its execution completes at once (shared, and already
 * run for an earlier subscriber, or a selection resolved without I/O). An execution that has to
 * wait pauses the source until its result is out, so results keep the events' order.
 */
class SharedPush extends Outlet<ExecutionResult> {
  constructor(
    private readonly source: Pushable<unknown>,
    private readonly args: ExecutionArgs,
    private readonly key: string,
    private readonly forEvent: ForEvent,
    private readonly failed: (error: unknown) => GraphQLError,
  ) {
    super();
    // Its own object: the Outlet's push and end would be this stream's consumer's side.
    source.listen({
      push: (event: unknown) => this.onEvent(event),
      end: (error?: unknown) => this.close(error === undefined ? undefined : this.failed(error)),
    });
  }

  protected hold(): void {
    this.source.pause();
  }

  protected release(): void {
    this.source.resume();
  }

  protected stop(): void {
    void this.source.return?.();
  }

  private onEvent(event: unknown): void {
    const result = this.forEvent(this.args, this.key, event);
    if (!(result instanceof Promise)) return this.emit(result);
    this.source.pause();
    result.then(
      (settled) => {
        this.emit(settled);
        this.source.resume();
      },
      (err: unknown) => this.close(this.failed(err)),
    );
  }
}

function requestIdIn(args: ExecutionArgs): string | undefined {
  return (args.contextValue as { requestId?: string } | undefined)?.requestId;
}

function asStep(value: ExecutionResult): IteratorResult<ExecutionResult> {
  return { value, done: false };
}

function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof (value as { [Symbol.asyncIterator]?: unknown } | null)?.[Symbol.asyncIterator] === 'function';
}
