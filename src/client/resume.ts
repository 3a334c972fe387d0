/**
 * The client side of resume, for any graphql-ws client (and so for Apollo Client's
 * `GraphQLWsLink` and urql's `subscriptionExchange`, which both sit on one).
 *
 * graphql-ws' client reconnects by itself and then sends each active subscription again, with
 * the variables it was first given: `after: 0` replays everything again, and no `after` misses
 * what passed while the socket was down. This wrapper keeps, per subscription, the last seq the
 * application was given, puts it in the subscription's `after` variable (the client sends that
 * same payload object again when it resubscribes), and drops any message event at or below it.
 * A subscription the server ends with a retryable error (SLOW_CONSUMER, SERVICE_UNAVAILABLE) is
 * subscribed again the same way instead of ending.
 *
 * ```ts
 * import { createClient } from 'graphql-ws';
 * import { resumable } from './src/client/resume';
 * const client = resumable(createClient({ url, retryAttempts: Infinity, connectionParams }));
 * // Apollo Client: new GraphQLWsLink(client)
 * // urql: subscriptionExchange({ forwardSubscription: (req) => ({
 * //   subscribe: (sink) => ({ unsubscribe: client.subscribe({ ...req, query: req.query ?? '' }, sink) }) }) })
 * ```
 *
 * Only operations with an `after` variable are tracked (give it, 0 or the seq the page already
 * shows). Copying no code: this is ours; the library is graphql-ws.
 */
import type { Client, ExecutionResult, Sink, SubscribePayload } from 'graphql-ws';

export interface ResumeOptions {
  /**
   * The seq a result carries, if it is one that advances the cursor. Default: the root field's
   * `seq` when its `type` is MESSAGE_ADDED (conversationEvents), else none.
   */
  cursorOf?: (result: ExecutionResult<Record<string, unknown>, unknown>) => number | undefined;
  /** Wait before subscribing again after a retryable error. Default 500 ms. */
  retryDelayMs?: number;
}

const RETRYABLE = new Set(['SLOW_CONSUMER', 'SERVICE_UNAVAILABLE']);

function defaultCursor(result: ExecutionResult<Record<string, unknown>, unknown>): number | undefined {
  const data = result.data;
  if (!data) return undefined;
  const root = Object.values(data)[0] as { type?: unknown; seq?: unknown } | null | undefined;
  return root && root.type === 'MESSAGE_ADDED' && typeof root.seq === 'number' ? root.seq : undefined;
}

/** A graphql-ws client whose subscriptions with an `after` variable resume where they left off. */
export function resumable<C extends Pick<Client, 'subscribe'>>(client: C, options: ResumeOptions = {}): C {
  const cursorOf = options.cursorOf ?? defaultCursor;
  const retryDelay = options.retryDelayMs ?? 500;
  const subscribe = <Data = Record<string, unknown>, Extensions = unknown>(
    request: SubscribePayload,
    sink: Sink<ExecutionResult<Data, Extensions>>,
  ): (() => void) => {
    if (!request.variables || !('after' in request.variables)) return client.subscribe(request, sink);
    // Our own payload: graphql-ws sends this very object again when it resubscribes.
    const variables = { ...request.variables };
    const payload: SubscribePayload = { ...request, variables };
    let last = typeof variables.after === 'number' ? variables.after : -1;
    let disposed = false;
    let retrying = false;
    let dispose = () => {};
    const start = () => {
      retrying = false;
      dispose = client.subscribe<Data, Extensions>(payload, {
        next: (result: ExecutionResult<Data, Extensions> | { errors?: readonly unknown[]; data?: unknown }) => {
          const code = (result.errors?.[0] as { extensions?: { code?: string } } | undefined)?.extensions?.code;
          if (code && RETRYABLE.has(code) && !result.data) {
            retrying = true;
            return;
          }
          const seq = cursorOf(result as ExecutionResult<Record<string, unknown>, unknown>);
          if (seq !== undefined) {
            if (seq <= last) return;
            last = seq;
            variables.after = seq;
          }
          sink.next(result as ExecutionResult<Data, Extensions>);
        },
        error: (err) => sink.error(err),
        complete: () => {
          if (retrying && !disposed) {
            setTimeout(() => !disposed && start(), retryDelay);
            return;
          }
          sink.complete();
        },
      });
    };
    start();
    return () => {
      disposed = true;
      dispose();
    };
  };
  return Object.assign(Object.create(client) as C, { subscribe });
}
