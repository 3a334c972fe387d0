/**
 * GraphQL subscriptions (and any operation) over graphql-ws, on the same /graphql path and
 * through the same Yoga envelope as HTTP, so plugins, masking and context are shared.
 * The credential in `connectionParams` is checked at connection: a bad one is refused with
 * close code 4403 and a reason the client can act on; each operation then builds its context
 * from it again, so a revoked key or a removed member is refused from the next operation on.
 */
import type { IncomingMessage } from 'node:http';
import { GraphQLError, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { CloseCode, type SubscribePayload } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { WebSocket, WebSocketServer } from 'ws';
import { authenticate, credentialFromConnectionParams, type Credential, type Services } from '../graphql/context.js';
import { AppError } from '../graphql/errors.js';
import type { Yoga } from './http.js';

type Extra = {
  socket: WebSocket;
  request: IncomingMessage;
  credential?: Credential;
  /** This connection's id in services.connections, once accepted. */
  connectionId?: string;
};

type Envelope = ReturnType<Yoga['getEnveloped']>;
interface RootValue {
  execute: Envelope['execute'];
  subscribe: Envelope['subscribe'];
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return typeof (value as { [Symbol.asyncIterator]?: unknown } | null)?.[Symbol.asyncIterator] === 'function';
}

/** WebSocket close reasons are limited to 123 bytes. */
export function closeReason(text: string): string {
  const buf = Buffer.from(text);
  return buf.length <= 123 ? text : `${buf.subarray(0, 120).toString('utf8')}...`;
}

/**
 * A subscription stream that fails mid-way (a slow consumer, say) ends with one final result
 * carrying the error, instead of an exception that graphql-ws would answer by closing the
 * whole socket with 4500 and ending the client's other subscriptions too.
 *
 * Written as an iterator rather than an async generator: a generator's return() waits until
 * its pending next() settles, i.e. until the next event, and graphql-ws awaits return() on
 * every subscription before it runs onClose. An idle subscription then delayed the close (and
 * services.connections' 'closed') indefinitely. Here return() answers at once and tells the
 * source to stop.
 */
function endWithError(
  stream: AsyncIterable<ExecutionResult>,
  mask: (error: unknown) => Error,
): AsyncIterableIterator<ExecutionResult> {
  const inner = stream[Symbol.asyncIterator]();
  let finished = false;
  /** Settles the next() in flight, if any: a client leaving ends it as done, not at the source's next event. */
  let settle: ((result: IteratorResult<ExecutionResult>) => void) | null = null;
  const stop = () => {
    finished = true;
    settle?.({ value: undefined, done: true });
    settle = null;
    Promise.resolve(inner.return?.()).catch(() => undefined);
  };
  const iterator: AsyncIterableIterator<ExecutionResult> = {
    next() {
      if (finished) return Promise.resolve({ value: undefined, done: true });
      return new Promise((resolve) => {
        settle = resolve;
        inner.next().then(
          (result) => {
            if (result.done) finished = true;
            settle = null;
            resolve(result);
          },
          (err: unknown) => {
            finished = true;
            settle = null;
            const error = err instanceof AppError ? err : mask(err);
            resolve({ value: { errors: [error as GraphQLError] }, done: false });
          },
        );
      });
    },
    async return() {
      stop();
      return { value: undefined, done: true };
    },
    async throw(err) {
      stop();
      throw err;
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

export function attachGraphQLWs(
  wss: WebSocketServer,
  yoga: Yoga,
  services: Services,
  mask: (error: unknown) => Error,
): { dispose: () => void | Promise<void> } {
  const logger = services.logger.child({ component: 'ws' });
  return useServer<Record<string, unknown> | undefined, Extra>(
    {
      execute: (args) => (args.rootValue as RootValue).execute(args as ExecutionArgs),
      subscribe: async (args) => {
        const result = await (args.rootValue as RootValue).subscribe(args as ExecutionArgs);
        return isAsyncIterable(result) ? endWithError(result as AsyncIterable<ExecutionResult>, mask) : result;
      },
      onConnect: async (ctx) => {
        try {
          const credential = credentialFromConnectionParams(ctx.connectionParams);
          const viewer = await authenticate(services, credential);
          ctx.extra.credential = credential;
          const connectionId = services.connections.open(viewer).id;
          ctx.extra.connectionId = connectionId;
          // graphql-ws calls onClose only once every subscription has returned; listeners
          // (claims, presence, calls) hear of the closed socket at once. close() is idempotent.
          ctx.extra.socket.once('close', (code: number) => services.connections.close(connectionId, code));
          return true;
        } catch (err) {
          if (err instanceof AppError) {
            ctx.extra.socket.close(CloseCode.Forbidden, closeReason(err.message));
            return false;
          }
          logger.error({ err }, 'connection check failed');
          ctx.extra.socket.close(CloseCode.InternalServerError, 'Internal server error');
          return false;
        }
      },
      onClose: (ctx, code) => {
        if (ctx.extra.connectionId) services.connections.close(ctx.extra.connectionId, code ?? 1005);
      },
      onSubscribe: async (ctx, _id, payload: SubscribePayload) => {
        try {
          const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
            req: ctx.extra.request,
            socket: ctx.extra.socket,
            params: payload,
            credential: ctx.extra.credential,
            connectionId: ctx.extra.connectionId,
          } as never);
          let document;
          try {
            document = parse(payload.query);
          } catch (err) {
            return [err instanceof GraphQLError ? err : new GraphQLError('The query could not be parsed.')];
          }
          const errors = validate(schema, document);
          if (errors.length > 0) return errors;
          const args: ExecutionArgs = {
            schema,
            operationName: payload.operationName,
            document,
            variableValues: payload.variables,
            contextValue: await contextFactory(),
            rootValue: { execute, subscribe } satisfies RootValue,
          };
          return args;
        } catch (err) {
          // An error here must not close the socket (graphql-ws would, with 4500): answer this
          // one operation with it.
          return [err instanceof AppError ? err : (mask(err) as GraphQLError)];
        }
      },
    },
    wss,
  );
}
