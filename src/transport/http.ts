/**
 * GraphQL over HTTP (graphql-yoga) with GraphiQL. Expected errors (AppError, validation) reach
 * the client as they are; anything else is logged with its stack and masked as
 * "Unexpected error." so no stack trace or SQL ever leaves the server.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GraphQLError, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { createYoga, handleStreamOrSingleExecutionResult, isAsyncIterable, type Plugin, type YogaInitialContext, type YogaServerInstance } from 'graphql-yoga';
import type { Logger } from 'pino';
import { useMultipartUploads } from './multipart.js';
import { clientAddress } from '../security/address.js';
import { authenticate, credentialFromHeaders, makeContext, type Context, type Credential, type Services } from '../graphql/context.js';
import { withRequestId } from '../observability/errors.js';
import { requestIdOf } from '../observability/request-context.js';
import type { Viewer } from '../auth/viewer.js';
import type { DocumentCaches } from '../security/document-cache.js';

export interface ServerContext {
  req: IncomingMessage;
  res: ServerResponse;
  /** Set by the WebSocket transport: the credential accepted at connection time. */
  credential?: Credential;
  /** Set by the WebSocket transport: the connection's id in services.connections. */
  connectionId?: string;
  /** Set by the WebSocket transport: the connection's viewer, known to be current (src/auth/standing.ts). */
  viewer?: Viewer;
}

export type Yoga = YogaServerInstance<ServerContext, Context>;

/**
 * What an operation that did not come through Yoga's HTTP handler (graphql-ws, the legacy shim's
 * executor) gives the envelope, i.e. what the context builder below reads in place of an HTTP
 * request: the credential (accepted when the socket connected, or the shim's), and the upgrade
 * request when there is one (the client's address). Yoga's own plugins expect no more of an
 * envelope used outside HTTP (they skip what needs `request` or `params` when those are absent).
 */
export interface EnvelopeInput {
  credential: Credential;
  req?: IncomingMessage;
  connectionId?: string;
  /**
   * The client's address when there is no request to read it from (the legacy shim names its
   * caller's): for per-address limits (src/security/address.ts).
   */
  clientAddress?: string;
  /** The request or operation this runs for: in its errors' `extensions.requestId` and its log lines. */
  requestId?: string;
  /**
   * Who the credential is, when the caller already knows it to be current (a graphql-ws
   * connection's viewer, src/auth/standing.ts): the context then uses it instead of
   * authenticating the credential again. Given to `contextFactory({ viewer })`.
   */
  viewer?: Viewer;
}

/**
 * Yoga's envelope (its plugins, schema, context builder) for an operation run outside its HTTP
 * handler. envelop builds the context by assigning what the builder returns onto `input`; an
 * object given two dozen properties one by one that way turns into a dictionary in V8 (1.6 KB,
 * kept by each subscription for its life), so `input` starts with every property the context
 * will have ({@link contextKeys}), and the builder's assignments only change their values.
 */
export function envelopeFor(yoga: Yoga, input: EnvelopeInput) {
  return yoga.getEnveloped({ ...contextKeys.get(yoga), ...input });
}

/** Every property of a Yoga's contexts, unset: see {@link envelopeFor}. Set by createHttpHandler. */
const contextKeys = new WeakMap<Yoga, Partial<Context & EnvelopeInput>>();

/**
 * Masks and names the errors of an HTTP response that arose before there was a context to do it
 * (authentication, parsing, validation, a context that could not be built) with the request's id
 * (app.ts names each request). Yoga's own masking is off (see createHttpHandler), so an
 * unexpected error there is masked here, logged once, before the response is written.
 */
function useHttpErrors(mask: MaskError): Plugin<Record<string, unknown>, ServerContext> {
  const masked = (result: ExecutionResult, requestId: string | undefined) => maskedResult(result, mask, requestId);
  return {
    onResultProcess({ result, setResult, serverContext }) {
      // A stream (SSE) is masked event by event where it is produced (shared-execution.ts).
      if (Symbol.asyncIterator in result) return;
      const requestId = requestIdOf(serverContext.req);
      setResult(Array.isArray(result) ? result.map((r) => masked(r, requestId)) : masked(result as ExecutionResult, requestId));
    },
  };
}

/** What the context builder receives: an HTTP request through Yoga, or an {@link EnvelopeInput}. */
type ContextInput = (YogaInitialContext & ServerContext) | (Partial<YogaInitialContext> & EnvelopeInput);

/**
 * `classifyFault` turns an outage of a dependency (the database unreachable) into a typed,
 * retryable error, logged once per outage by its owner rather than here per request. The
 * request's id, when known, names the error and its log line.
 */
export function maskUnexpected(logger: Logger, classifyFault?: (error: unknown) => GraphQLError | null): MaskError {
  return (error, requestId) => withRequestId(mask(logger, error, classifyFault, requestId), requestId);
}

/** How an error is masked, and named with the request it is answered in (the id, when known). */
export type MaskError = (error: unknown, requestId?: string) => GraphQLError;

/** A result with its errors masked (and named); the same result when it has none. */
export function maskedResult(result: ExecutionResult, mask: MaskError, requestId: string | undefined): ExecutionResult {
  return result.errors?.length ? { ...result, errors: result.errors.map((error) => mask(error, requestId)) } : result;
}

/**
 * Masks an operation's errors where its context is at hand (execution results, and a
 * subscription's when it is refused rather than started, on every transport: HTTP, graphql-ws,
 * the legacy executor), so each error and the log line of an unexpected one name the request
 * (`Context.requestId`). A subscription's events are masked where they are executed
 * (shared-execution.ts), not by a hook here: envelop would wrap every subscription in one more
 * iterator and run it per event per subscriber (measured: its promise helpers were the live
 * path's largest JavaScript cost). Yoga's own masking, which would add that iterator too, is off.
 */
export function useRequestErrors(mask: MaskError): Plugin {
  const named = (requestId: string | undefined) => (payload: { result: ExecutionResult; setResult: (result: ExecutionResult) => void }) => {
    if (payload.result.errors?.length) payload.setResult(maskedResult(payload.result, mask, requestId));
  };
  const requestIdIn = (contextValue: unknown) => (contextValue as Partial<Context> | undefined)?.requestId;
  return {
    onExecute({ args }) {
      const onResult = named(requestIdIn(args.contextValue));
      return { onExecuteDone: (payload) => handleStreamOrSingleExecutionResult(payload, onResult) };
    },
    onSubscribe({ args }) {
      const onResult = named(requestIdIn(args.contextValue));
      // Not per event of a stream (see above).
      return {
        onSubscribeResult: (payload) => {
          if (!isAsyncIterable(payload.result)) onResult(payload as { result: ExecutionResult; setResult: (result: ExecutionResult) => void });
        },
      };
    },
  };
}

function mask(logger: Logger, error: unknown, classifyFault?: (error: unknown) => GraphQLError | null, requestId?: string): GraphQLError {
  if (error instanceof GraphQLError) {
    const original = error.originalError;
    // Errors GraphQL itself raised (parse, validation, variables) and our own typed errors.
    if (!original || original instanceof GraphQLError) return error;
  }
  const original = error instanceof GraphQLError ? (error.originalError ?? error) : error;
  const path = error instanceof GraphQLError ? error.path : undefined;
  const fault = classifyFault?.(original);
  if (fault) return new GraphQLError(fault.message, { path, extensions: fault.extensions });
  logger.error({ err: original, path, requestId }, 'unexpected error');
  return new GraphQLError('Unexpected error.', { path, extensions: { code: 'INTERNAL_SERVER_ERROR' } });
}

/** `parseCaches`: Yoga's parse caches (src/security/document-cache.ts: bounded in bytes); Yoga's own when omitted. */
export function createHttpHandler(services: Services, schema: GraphQLSchema, plugins: Plugin[] = [], parseCaches?: DocumentCaches): Yoga {
  const logger = services.logger.child({ component: 'http' });
  const mask = maskUnexpected(logger, (err) => services.databaseHealth.classify(err));
  const yoga = createYoga<ServerContext, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    // Yoga always installs a health check answering 200 to any URL that *ends with* this string
    // (no option turns it off; `false` used to be cast in, which made it answer any URL ending in
    // "false", e.g. `/graphql?query=…&x=false`). /healthz is the app's own, so this is a string
    // no request URL can end with: URLs carry no raw space (Node refuses one in the request
    // line, and URL parsing strips trailing spaces and encodes the others).
    healthCheckEndpoint: ' ',
    // Uploads are parsed once, by graphql-upload-minimal (the plugin below), not by Yoga.
    multipart: false,
    cors: {
      origin: services.config.CORS_ORIGINS.includes('*') ? '*' : services.config.CORS_ORIGINS,
      credentials: !services.config.CORS_ORIGINS.includes('*'),
    },
    graphiql: services.config.GRAPHIQL
      ? {
          title: 'Chat API',
          subscriptionsProtocol: 'WS',
          defaultQuery: '# Sign up, then send the access token as "Authorization: Bearer <token>".\nquery { me { id displayName } }\n',
        }
      : false,
    // Imported when a browser first asks for GraphiQL, not at start: the module is GraphiQL's
    // whole bundle as string literals (~9 MB of source), ~30 MB of V8 heap once loaded, which a
    // server with GRAPHIQL off (production's default) would hold for nothing.
    renderGraphiQL: async (options) => (await import('@graphql-yoga/render-graphiql')).renderGraphiQL(options),
    // Masking is ours, in three places that together cover every error a client can get:
    // execution results (useRequestErrors), a subscription's events (shared-execution.ts) and,
    // over HTTP, whatever fails before execution (useHttpErrors); graphql-ws masks its own
    // (ws.ts). Yoga's masking would wrap every subscription in one more iterator per event.
    maskedErrors: false,
    // Refused by Content-Length before the body is read (or once a chunked one passes it):
    // Yoga's default, 25 MB, let one client make the server hold 5.5 GB (300 bodies at once).
    maxRequestBodySize: services.config.GRAPHQL_MAX_BODY_BYTES,
    parserAndValidationCache: parseCaches ?? true,
    plugins: [useMultipartUploads(services.config), useRequestErrors(mask), ...plugins, useHttpErrors(mask)],
    logging: {
      debug: (...args) => logger.debug({ args }, 'yoga'),
      info: (...args) => logger.info({ args }, 'yoga'),
      warn: (...args) => logger.warn({ args }, 'yoga'),
      // Errors reach Yoga's logger only as second lines about a failure maskUnexpected has
      // already logged (with its stack); outages are logged once per outage.
      error: (...args) =>
        args.some((a) => a instanceof Error) ? logger.debug({ args }, 'yoga: error already handled') : logger.error({ args }, 'yoga'),
    },
    context: async (input: ContextInput) => {
      const { credential, connectionId, req } = input;
      const given = input as Partial<EnvelopeInput>;
      const viewer =
        input.viewer ??
        await authenticate(services, credential ?? (input.request ? credentialFromHeaders(input.request.headers) : { kind: 'none' }));
      const address = given.clientAddress ?? clientAddress(req, services.config.TRUST_PROXY);
      return {
        ...makeContext(services, viewer),
        connectionId,
        clientAddress: address,
        // Yoga's own input carries the fetch Request; graphql-ws and the legacy executor pass an EnvelopeInput.
        overHttp: input.request !== undefined,
        requestId: given.requestId ?? requestIdOf(req),
      };
    },
  });
  const keys: Partial<Context & EnvelopeInput> = {
    ...makeContext(services, { kind: 'anonymous' }),
    connectionId: undefined,
    clientAddress: undefined,
    overHttp: undefined,
    requestId: undefined,
    credential: undefined,
  };
  for (const key of Object.keys(keys)) (keys as Record<string, unknown>)[key] = undefined;
  contextKeys.set(yoga, keys);
  return yoga;
}
